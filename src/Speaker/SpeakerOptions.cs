using System.CommandLine;
using System.Net;
using BgpLb.Hosting;
using BgpLb.Kubernetes;
using Microsoft.Extensions.Logging;

namespace BgpLb.Speaker;

/// <summary>The validated command line of bgplb-speaker (DESIGN.md §3).</summary>
public sealed record SpeakerOptions
{
    public required string NodeName { get; init; }
    /// <summary>Standalone mode: the YAML directory; null in Kubernetes mode.</summary>
    public string? ConfigDirectory { get; init; }
    /// <summary>Kubernetes mode: how to reach the API server; null in standalone mode.</summary>
    public KubernetesConnection? Kubernetes { get; init; }
    public string SourceDescription => ConfigDirectory ?? (Kubernetes!.InCluster ? "in-cluster" : $"kubeconfig {Kubernetes.Kubeconfig}");
    /// <summary>bgplb-controller's allocation service; null: the speaker allocates in process (single node).</summary>
    public Uri? Controller { get; init; }
    /// <summary>Passive BGP listener; null when disabled with port 0.</summary>
    public IPEndPoint? BgpListen { get; init; }
    public string BgpListenDescription => BgpListen?.ToString() ?? "disabled";
    public required IPEndPoint MetricsListen { get; init; }
    public int MemberlistPort { get; init; } = 7946;
    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary>Parses the command line and BGPLB_* environment; throws <see cref="CommandLineException"/> with an operator-facing message.</summary>
    public static SpeakerOptions Parse(string[] args, Func<string, string?> environment)
    {
        var node = CommandLineContract.Flag("node", "Name of this node (must match a Node object for node selectors)", environment);
        var sourceFlags = new ConfigSourceFlags(environment);
        var controller = CommandLineContract.Flag("controller", "URL of bgplb-controller's allocation service", environment);
        var bgpListen = CommandLineContract.Flag("bgp-listen", "Passive BGP listen address; port 0 disables listening", environment, "0.0.0.0:179");
        var metricsListen = CommandLineContract.Flag("metrics-listen", "Address for /metrics, /healthz and /readyz", environment, "127.0.0.1:7474");
        var memberlistPort = CommandLineContract.Flag("memberlist-port", "UDP port for L2 liveness between speakers", environment, "7946");
        var logLevel = CommandLineContract.Flag("log-level", "trace, debug, information, warning or error", environment, "information");

        var root = new RootCommand("bgplb-speaker: announces LoadBalancer Service addresses over BGP")
        {
            node, controller, bgpListen, metricsListen, memberlistPort, logLevel,
        };
        foreach (var option in sourceFlags.All)
            root.Options.Add(option);
        var result = root.Parse(args);
        if (result.Errors.Count > 0)
            throw new CommandLineException(string.Join(Environment.NewLine, result.Errors.Select(e => e.Message)));

        var nodeName = result.GetValue(node);
        if (string.IsNullOrWhiteSpace(nodeName))
            throw new CommandLineException("--node is required (or BGPLB_NODE): the name of the node this speaker runs on");

        var source = sourceFlags.Read(result);

        var listen = CommandLineContract.ParseEndPoint("bgp-listen", result.GetValue(bgpListen)!);
        return new SpeakerOptions
        {
            NodeName = nodeName,
            ConfigDirectory = source.Directory,
            Kubernetes = source.IsKubernetes ? new KubernetesConnection(source.Kubeconfig, source.InCluster) : null,
            Controller = ParseController(result.GetValue(controller)),
            BgpListen = listen.Port == 0 ? null : listen,
            MetricsListen = CommandLineContract.ParseEndPoint("metrics-listen", result.GetValue(metricsListen)!),
            MemberlistPort = CommandLineContract.ParsePort("memberlist-port", result.GetValue(memberlistPort)!),
            LogLevel = CommandLineContract.ParseLogLevel(result.GetValue(logLevel)!),
        };
    }

    private static Uri? ParseController(string? value) =>
        value is null ? null
        : Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps) && uri.AbsolutePath == "/"
            ? uri
            : throw new CommandLineException($"--controller: '{value}' is not a URL like http://HOST:7473 (http or https, no path)");
}
