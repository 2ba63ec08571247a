using System.CommandLine;
using BgpLb.Hosting;

namespace BgpLb.Cli;

public enum CliCommand
{
    Explain,
    Status,
}

public enum OutputFormat
{
    Text,
    Json,
}

/// <summary>The validated command line of bgplb (DESIGN.md §3).</summary>
public sealed record CliOptions
{
    public required CliCommand Command { get; init; }

    /// <summary>explain: "namespace/name".</summary>
    public string? Service { get; init; }

    public required ConfigSource Source { get; init; }

    /// <summary>Standalone: the controller's state file (default DIR/.bgplb-state.json, as bgplb-controller's --state).</summary>
    public string? StateFile { get; init; }

    /// <summary>The speakers' metrics listeners (GET /status), in the order given.</summary>
    public IReadOnlyList<Uri> Speakers { get; init; } = [];

    /// <summary>explain: the TCP port to connect to on each address; null: no probe.</summary>
    public int? ProbePort { get; init; }

    public OutputFormat Output { get; init; }

    public ServiceScope Scope { get; init; } = new(null, false);

    /// <summary>Kubernetes: the namespace bgplb runs in (its metallb.io configuration and speaker pods).</summary>
    public string SystemNamespace { get; init; } = DefaultSystemNamespace;

    public const string DefaultSystemNamespace = "metallb-system";

    /// <summary>Parses the command line; throws <see cref="CommandLineException"/> with an operator-facing message.</summary>
    /// <param name="environment">BGPLB_* variables for the flags the daemons share (--config, --kubeconfig, --in-cluster, --lb-class, ...).</param>
    public static CliOptions Parse(string[] args, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(args);
        var sourceFlags = new ConfigSourceFlags(environment);
        var scopeFlags = new ServiceScopeFlags(environment);
        var state = new Option<string?>("--state") { Description = "Standalone: the controller's state file (default DIR/.bgplb-state.json)" };
        var speakers = new Option<string[]>("--speaker")
        {
            Description = "A speaker's metrics listener, e.g. http://127.0.0.1:7474 (repeatable): its GET /status",
        };
        var probe = new Option<string?>("--probe") { Description = "explain: connect to PORT on each address of the Service (TCP, 3 s timeout)" };
        var systemNamespace = new Option<string?>("--system-namespace")
        {
            Description = $"Kubernetes: the namespace of bgplb's configuration and speaker pods (default {DefaultSystemNamespace})",
        };
        var output = new Option<string>("--output", "-o") { Description = "text or json", DefaultValueFactory = _ => "text" };
        var service = new Argument<string>("NAMESPACE/NAME") { Description = "The Service to explain" };
        var explain = new Command("explain", "Walk the path of a Service's address, step by step, with the reason for each verdict") { service };
        var status = new Command("status", "Sessions, L2 owners, pools and configuration at a glance");
        var root = new RootCommand("bgplb: why a LoadBalancer Service is or is not reachable, and the state of the speakers") { explain, status };
        foreach (var option in sourceFlags.All.Concat(scopeFlags.All).Concat([state, speakers, probe, systemNamespace, output]))
        {
            option.Recursive = true;
            root.Options.Add(option);
        }
        var result = root.Parse(args);
        if (result.Errors.Count > 0)
            throw new CommandLineException(string.Join(Environment.NewLine, result.Errors.Select(e => e.Message)));
        var command = result.CommandResult.Command == explain ? CliCommand.Explain
            : result.CommandResult.Command == status ? CliCommand.Status
            : throw new CommandLineException("a command is required: explain NAMESPACE/NAME or status");

        string? serviceKey = null;
        if (command == CliCommand.Explain)
        {
            serviceKey = result.GetValue(service)!;
            var slash = serviceKey.IndexOf('/', StringComparison.Ordinal);
            if (slash <= 0 || slash == serviceKey.Length - 1 || serviceKey.IndexOf('/', slash + 1) >= 0)
                throw new CommandLineException($"explain: '{serviceKey}' is not NAMESPACE/NAME");
        }
        var source = sourceFlags.Read(result);
        var stateFile = result.GetValue(state);
        if (stateFile is not null && source.IsKubernetes)
            throw new CommandLineException("--state is for --config DIR: in Kubernetes mode the allocations are in the Services' status");
        var systemNamespaceValue = result.GetValue(systemNamespace);
        if (systemNamespaceValue is not null && !source.IsKubernetes)
            throw new CommandLineException("--system-namespace is for --kubeconfig or --in-cluster: with --config DIR the objects name their namespace");
        if (systemNamespaceValue is { Length: 0 })
            throw new CommandLineException("--system-namespace: empty");
        var probePort = result.GetValue(probe) is { } port ? CommandLineContract.ParsePort("probe", port) : (int?)null;
        if (probePort is 0)
            throw new CommandLineException("--probe: port 0 cannot be connected to");
        if (probePort is not null && command != CliCommand.Explain)
            throw new CommandLineException("--probe is for explain");
        return new CliOptions
        {
            Command = command,
            Service = serviceKey,
            Source = source,
            StateFile = source.Directory is { } directory ? Path.GetFullPath(stateFile ?? Path.Combine(directory, ".bgplb-state.json")) : null,
            Speakers = [.. (result.GetValue(speakers) ?? []).Select(SpeakerUri)],
            ProbePort = probePort,
            Output = result.GetValue(output) switch
            {
                "text" => OutputFormat.Text,
                "json" => OutputFormat.Json,
                var other => throw new CommandLineException($"-o: '{other}' is not text or json"),
            },
            Scope = scopeFlags.Read(result),
            SystemNamespace = systemNamespaceValue ?? DefaultSystemNamespace,
        };
    }

    private static Uri SpeakerUri(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            ? uri
            : throw new CommandLineException($"--speaker: '{value}' is not a URL like http://127.0.0.1:7474");
}
