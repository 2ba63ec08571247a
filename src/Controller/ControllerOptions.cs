using System.Net;
using BgpLb.Hosting;
using BgpLb.Kubernetes;
using Microsoft.Extensions.Logging;

namespace BgpLb.Controller;

/// <summary>The validated command line of bgplb-controller (DESIGN.md §3).</summary>
public sealed record ControllerOptions
{
    public const string DefaultStateFileName = ".bgplb-state.json";

    /// <summary>Standalone mode: the YAML directory; null in Kubernetes mode.</summary>
    public string? ConfigDirectory { get; init; }
    /// <summary>Standalone mode only: Kubernetes mode keeps allocations in the Services' status.</summary>
    public string? StateFile { get; init; }
    /// <summary>Kubernetes mode: how to reach the API server; null in standalone mode.</summary>
    public KubernetesConnection? Kubernetes { get; init; }
    public required IPEndPoint GrpcListen { get; init; }
    /// <summary>--lb-class: only Services of this class are handled; null: only Services without a class.</summary>
    public string? LoadBalancerClass => Scope.LoadBalancerClass;
    /// <summary>--lb-class and --ignore-exclude-lb (accepted for the shared contract: allocation does not depend on nodes).</summary>
    public ServiceScope Scope { get; init; } = new(null, false);
    public required IPEndPoint MetricsListen { get; init; }
    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary>Parses the command line and BGPLB_* environment; throws <see cref="CommandLineException"/> with an operator-facing message.</summary>
    public static ControllerOptions Parse(string[] args, Func<string, string?> environment)
    {
        var sourceFlags = new ConfigSourceFlags(environment);
        var scopeFlags = new ServiceScopeFlags(environment);
        var state = CommandLineContract.Flag("state", "Where allocations persist in standalone mode", environment, "DIR/" + DefaultStateFileName);
        var grpcListen = CommandLineContract.Flag("grpc-listen", "Address of the allocation service (gRPC, HTTP/2 cleartext)", environment, "127.0.0.1:7473");
        var metricsListen = CommandLineContract.Flag("metrics-listen", "Address for /metrics, /healthz and /readyz", environment, "127.0.0.1:7472");
        var logLevel = CommandLineContract.Flag("log-level", "trace, debug, information, warning or error", environment, "information");

        var root = new System.CommandLine.RootCommand("bgplb-controller: allocates LoadBalancer Service addresses from MetalLB IPAddressPools")
        {
            state, grpcListen, metricsListen, logLevel,
        };
        foreach (var option in sourceFlags.All.Concat(scopeFlags.All))
            root.Options.Add(option);
        var result = root.Parse(args);
        if (result.Errors.Count > 0)
            throw new CommandLineException(string.Join(Environment.NewLine, result.Errors.Select(e => e.Message)));

        var source = sourceFlags.Read(result);
        var grpcEndPoint = CommandLineContract.ParseEndPoint("grpc-listen", result.GetValue(grpcListen)!);
        var metricsEndPoint = CommandLineContract.ParseEndPoint("metrics-listen", result.GetValue(metricsListen)!);
        var level = CommandLineContract.ParseLogLevel(result.GetValue(logLevel)!);
        if (source.Directory is not { } configDirectory)
        {
            if (result.GetValue(state) != "DIR/" + DefaultStateFileName)
                throw new CommandLineException("--state is for standalone mode; in Kubernetes mode allocations live in the Services' status");
            return new ControllerOptions
            {
                Kubernetes = new KubernetesConnection(source.Kubeconfig, source.InCluster),
                GrpcListen = grpcEndPoint,
                MetricsListen = metricsEndPoint,
                LogLevel = level,
                Scope = scopeFlags.Read(result),
            };
        }
        var stateValue = result.GetValue(state)!;
        var stateFile = stateValue == "DIR/" + DefaultStateFileName ? Path.Combine(configDirectory, DefaultStateFileName) : Path.GetFullPath(stateValue);
        if (!Directory.Exists(Path.GetDirectoryName(stateFile)))
            throw new CommandLineException($"--state: directory of '{stateFile}' does not exist");
        if (Directory.Exists(stateFile))
            throw new CommandLineException($"--state: '{stateFile}' is a directory, not a file");
        if (stateFile.EndsWith(".yaml", StringComparison.Ordinal) || stateFile.EndsWith(".yml", StringComparison.Ordinal))
            throw new CommandLineException($"--state: '{stateFile}' would be read as configuration; choose a name that does not end in .yaml or .yml");

        return new ControllerOptions
        {
            ConfigDirectory = configDirectory,
            StateFile = stateFile,
            GrpcListen = grpcEndPoint,
            MetricsListen = metricsEndPoint,
            LogLevel = level,
            Scope = scopeFlags.Read(result),
        };
    }
}
