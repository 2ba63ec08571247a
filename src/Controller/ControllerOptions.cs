using System.Net;
using BgpLb.Hosting;
using BgpLb.Kubernetes;
using BgpLb.Allocation.Client;
using BgpLb.Controller.Webhook;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

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
    public GrpcSecurityOptions GrpcSecurity { get; init; } = new();
    /// <summary>The most external allocations (Allocate) one caller may hold; more are answered RESOURCE_EXHAUSTED.</summary>
    public int MaxExternalPerCaller { get; init; } = 256;
    /// <summary>--lb-class: only Services of this class are handled; null: only Services without a class.</summary>
    public string? LoadBalancerClass => Scope.LoadBalancerClass;
    /// <summary>--lb-class and --ignore-exclude-lb (accepted for the shared contract: allocation does not depend on nodes).</summary>
    public ServiceScope Scope { get; init; } = new(null, false);
    public required IPEndPoint MetricsListen { get; init; }
    /// <summary>--webhook-listen and its certificate; null: no admission webhook.</summary>
    public WebhookOptions? Webhook { get; init; }
    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary>Parses the command line and BGPLB_* environment; throws <see cref="CommandLineException"/> with an operator-facing message.</summary>
    public static ControllerOptions Parse(string[] args, Func<string, string?> environment)
    {
        var sourceFlags = new ConfigSourceFlags(environment);
        var scopeFlags = new ServiceScopeFlags(environment);
        var state = CommandLineContract.Flag("state", "Where allocations persist in standalone mode", environment, "DIR/" + DefaultStateFileName);
        var grpcListen = CommandLineContract.Flag("grpc-listen", "Address of the allocation service (gRPC over HTTP/2)", environment, "127.0.0.1:7473");
        var grpcTlsCert = CommandLineContract.Flag("grpc-tls-cert", "Serve the allocation service over TLS with this certificate (PEM, with --grpc-tls-key)", environment);
        var grpcTlsKey = CommandLineContract.Flag("grpc-tls-key", "Private key (PEM) of --grpc-tls-cert", environment);
        var grpcClientCa = CommandLineContract.Flag("grpc-client-ca", "Require client certificates issued by this CA (PEM)", environment);
        var grpcTokenFile = CommandLineContract.Flag("grpc-token-file", "Require 'authorization: Bearer TOKEN' with a token of this file (one per line: TOKEN [CALLER-NAME])", environment);
        var grpcInsecure = CommandLineContract.Switch("grpc-insecure", "Allow --grpc-listen beyond loopback without TLS and authentication", environment);
        var webhookListen = CommandLineContract.Flag("webhook-listen", "Serve MetalLB's validating admission webhooks over HTTPS on this address", environment);
        var webhookCert = CommandLineContract.Flag("webhook-cert", "The webhook's serving certificate (PEM, with --webhook-key); without it the controller issues and renews its own", environment);
        var webhookKey = CommandLineContract.Flag("webhook-key", "Private key (PEM) of --webhook-cert", environment);
        var metricsListen = CommandLineContract.Flag("metrics-listen", "Address for /metrics, /healthz and /readyz", environment, "127.0.0.1:7472");
        var logLevel = CommandLineContract.Flag("log-level", "trace, debug, information, warning or error", environment, "information");

        var root = new System.CommandLine.RootCommand("bgplb-controller: allocates LoadBalancer Service addresses from MetalLB IPAddressPools")
        {
            state, grpcListen, grpcTlsCert, grpcTlsKey, grpcClientCa, grpcTokenFile, grpcInsecure, webhookListen, webhookCert, webhookKey, metricsListen, logLevel,
        };
        foreach (var option in sourceFlags.All.Concat(scopeFlags.All))
            root.Options.Add(option);
        var result = root.Parse(args);
        if (result.Errors.Count > 0)
            throw new CommandLineException(string.Join(Environment.NewLine, result.Errors.Select(e => e.Message)));

        var source = sourceFlags.Read(result);
        var grpcEndPoint = CommandLineContract.ParseEndPoint("grpc-listen", result.GetValue(grpcListen)!);
        var security = ParseSecurity(grpcEndPoint, new GrpcSecurityOptions
        {
            CertificateFile = result.GetValue(grpcTlsCert),
            KeyFile = result.GetValue(grpcTlsKey),
            ClientCaFile = result.GetValue(grpcClientCa),
            TokenFile = result.GetValue(grpcTokenFile),
            Insecure = result.GetValue(grpcInsecure),
        });
        var webhook = ParseWebhook(result.GetValue(webhookListen), result.GetValue(webhookCert), result.GetValue(webhookKey));
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
                GrpcSecurity = security,
                Webhook = webhook,
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
            GrpcSecurity = security,
            Webhook = webhook,
            MetricsListen = metricsEndPoint,
            LogLevel = level,
            Scope = scopeFlags.Read(result),
        };
    }

    private static WebhookOptions? ParseWebhook(string? listen, string? certificate, string? key)
    {
        if (certificate is null != key is null)
            throw new CommandLineException("--webhook-cert and --webhook-key go together (the serving certificate and its private key, PEM)");
        if (listen is null)
        {
            return certificate is null ? null
                : throw new CommandLineException("--webhook-cert and --webhook-key need --webhook-listen (the address of the admission webhooks)");
        }
        var options = new WebhookOptions(CommandLineContract.ParseEndPoint("webhook-listen", listen), certificate, key);
        if (certificate is not null)
        {
            try
            {
                _ = Credentials.CertificateWithKey("--webhook-cert/--webhook-key", certificate, key!, NullLogger.Instance);
            }
            catch (CredentialException e)
            {
                throw new CommandLineException(e.Message);
            }
        }
        return options;
    }

    private static GrpcSecurityOptions ParseSecurity(IPEndPoint listen, GrpcSecurityOptions security)
    {
        if (security.CertificateFile is null != security.KeyFile is null)
            throw new CommandLineException("--grpc-tls-cert and --grpc-tls-key go together (the server certificate and its private key, PEM)");
        if (security.ClientCaFile is not null && !security.Tls)
            throw new CommandLineException("--grpc-client-ca needs --grpc-tls-cert and --grpc-tls-key (client certificates are presented over TLS)");
        if (!IPAddress.IsLoopback(listen.Address) && !(security.Tls && security.Authenticates) && !security.Insecure)
            throw new CommandLineException($"--grpc-listen {listen} is beyond loopback: serve TLS (--grpc-tls-cert, --grpc-tls-key) with authentication "
                + "(--grpc-client-ca and/or --grpc-token-file), or accept anyone who can reach it with --grpc-insecure");
        try
        {
            _ = new GrpcSecurity(security, NullLogger<GrpcSecurity>.Instance, TimeProvider.System);
        }
        catch (CredentialException e)
        {
            throw new CommandLineException(e.Message);
        }
        return security;
    }
}
