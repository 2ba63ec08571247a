using System.CommandLine;
using System.Net;
using BgpLb.Allocation.Client;
using BgpLb.Hosting;
using BgpLb.Kubernetes;
using BgpLb.L2.Membership;
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
    /// <summary>bgplb-controller's allocation service and the credentials for it; null: the speaker allocates in process (single node).</summary>
    public ControllerConnection? Controller { get; init; }
    /// <summary>Passive BGP listener; null when disabled with port 0.</summary>
    public IPEndPoint? BgpListen { get; init; }
    public string BgpListenDescription => BgpListen?.ToString() ?? "disabled";
    public required IPEndPoint MetricsListen { get; init; }
    public int MemberlistPort { get; init; } = 7946;
    /// <summary>The keys of the L2 liveness datagrams (--memberlist-secret-file); null without.</summary>
    public MembershipKeys? MemberlistKeys { get; init; }
    /// <summary>--memberlist-insecure: L2 liveness without authentication, chosen explicitly.</summary>
    public bool MemberlistInsecure { get; init; }
    /// <summary>L2 liveness runs only with keys or with an explicit opt-out; without it L2 mode stays off.</summary>
    public bool MembershipEnabled => MemberlistKeys is not null || MemberlistInsecure;
    public LogLevel LogLevel { get; init; } = LogLevel.Information;
    /// <summary>--lb-class and --ignore-exclude-lb.</summary>
    public ServiceScope Scope { get; init; } = new(null, false);

    /// <summary>Parses the command line and BGPLB_* environment; throws <see cref="CommandLineException"/> with an operator-facing message.</summary>
    public static SpeakerOptions Parse(string[] args, Func<string, string?> environment)
    {
        var node = CommandLineContract.Flag("node", "Name of this node (must match a Node object for node selectors)", environment);
        var sourceFlags = new ConfigSourceFlags(environment);
        var scopeFlags = new ServiceScopeFlags(environment);
        var controller = CommandLineContract.Flag("controller", "URL of bgplb-controller's allocation service", environment);
        var controllerCa = CommandLineContract.Flag("controller-ca", "Trust only this CA (PEM) for the controller's certificate (https:// URL)", environment);
        var controllerCert = CommandLineContract.Flag("controller-cert", "Client certificate (PEM) presented to the controller, with --controller-key", environment);
        var controllerKey = CommandLineContract.Flag("controller-key", "Private key (PEM) of --controller-cert", environment);
        var controllerTokenFile = CommandLineContract.Flag("controller-token-file", "File whose first line is the bearer token for the controller", environment);
        var bgpListen = CommandLineContract.Flag("bgp-listen", "Passive BGP listen address; port 0 disables listening", environment, "0.0.0.0:179");
        var metricsListen = CommandLineContract.Flag("metrics-listen", "Address for /metrics, /healthz, /readyz and /status", environment, "127.0.0.1:7474");
        var memberlistPort = CommandLineContract.Flag("memberlist-port", "UDP port for L2 liveness between speakers", environment, "7946");
        var memberlistSecretFile = CommandLineContract.Flag("memberlist-secret-file",
            "File with the shared key of the L2 liveness datagrams (one key per line, at least 16 bytes; a second line is accepted too, for rotation)", environment);
        var memberlistInsecure = CommandLineContract.Switch("memberlist-insecure", "Run L2 liveness without authentication", environment);
        var logLevel = CommandLineContract.Flag("log-level", "trace, debug, information, warning or error", environment, "information");

        var root = new RootCommand("bgplb-speaker: announces LoadBalancer Service addresses over BGP")
        {
            node, controller, controllerCa, controllerCert, controllerKey, controllerTokenFile, bgpListen, metricsListen, memberlistPort, memberlistSecretFile, memberlistInsecure, logLevel,
        };
        foreach (var option in sourceFlags.All.Concat(scopeFlags.All))
            root.Options.Add(option);
        var result = root.Parse(args);
        if (result.Errors.Count > 0)
            throw new CommandLineException(string.Join(Environment.NewLine, result.Errors.Select(e => e.Message)));

        var nodeName = result.GetValue(node);
        if (string.IsNullOrWhiteSpace(nodeName))
            throw new CommandLineException("--node is required (or BGPLB_NODE): the name of the node this speaker runs on");

        var source = sourceFlags.Read(result);

        var listen = CommandLineContract.ParseEndPoint("bgp-listen", result.GetValue(bgpListen)!);
        var secretFile = result.GetValue(memberlistSecretFile);
        var insecure = result.GetValue(memberlistInsecure);
        if (secretFile is not null && insecure)
            throw new CommandLineException("--memberlist-secret-file and --memberlist-insecure exclude each other");
        MembershipKeys? keys;
        try
        {
            keys = secretFile is null ? null : MembershipKeys.Load(secretFile);
        }
        catch (FormatException e)
        {
            throw new CommandLineException($"--memberlist-secret-file: {e.Message}");
        }
        return new SpeakerOptions
        {
            NodeName = nodeName,
            ConfigDirectory = source.Directory,
            Kubernetes = source.IsKubernetes ? new KubernetesConnection(source.Kubeconfig, source.InCluster) : null,
            Controller = ParseController(result.GetValue(controller), result.GetValue(controllerCa), result.GetValue(controllerCert),
                result.GetValue(controllerKey), result.GetValue(controllerTokenFile)),
            BgpListen = listen.Port == 0 ? null : listen,
            MetricsListen = CommandLineContract.ParseEndPoint("metrics-listen", result.GetValue(metricsListen)!),
            MemberlistPort = CommandLineContract.ParsePort("memberlist-port", result.GetValue(memberlistPort)!),
            MemberlistKeys = keys,
            MemberlistInsecure = insecure,
            LogLevel = CommandLineContract.ParseLogLevel(result.GetValue(logLevel)!),
            Scope = scopeFlags.Read(result),
        };
    }

    private static ControllerConnection? ParseController(string? value, string? ca, string? certificate, string? key, string? token)
    {
        if (value is null)
            return (ca ?? certificate ?? key ?? token) is null ? null
                : throw new CommandLineException("--controller-ca, --controller-cert, --controller-key and --controller-token-file need --controller URL");
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps || uri.AbsolutePath != "/")
            throw new CommandLineException($"--controller: '{value}' is not a URL like http://HOST:7473 (http or https, no path)");
        var connection = new ControllerConnection(uri) { CaFile = ca, CertificateFile = certificate, KeyFile = key, TokenFile = token };
        try
        {
            connection.Validate();
        }
        catch (CredentialException e)
        {
            throw new CommandLineException(e.Message);
        }
        return connection;
    }
}
