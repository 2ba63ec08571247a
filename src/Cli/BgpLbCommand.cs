using System.Net;
using System.Text.Json;
using BgpLb.Hosting;

namespace BgpLb.Cli;

/// <summary>Runs one bgplb command: parse, read the sources, compute the report, print it; returns the exit code.</summary>
public static class BgpLbCommand
{
    /// <summary>How long reading a source (the config directory, the API server, a speaker) may take before it counts as unreachable.</summary>
    public static readonly TimeSpan SourceTimeout = TimeSpan.FromSeconds(15);

    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(3);

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, Func<string, string?> environment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        // As a kubectl plugin (kubectl-bgplb) the program is named after kubectl; messages keep the command's own name.
        const string Name = "bgplb";
        CliOptions options;
        try
        {
            options = CliOptions.Parse(args, environment);
        }
        catch (CommandLineException e)
        {
            await error.WriteLineAsync($"{Name}: {e.Message}");
            return CliExitCodes.UsageOrUnreachable;
        }
        try
        {
            var cluster = await ClusterSnapshot.LoadAsync(options, SourceTimeout, cancellationToken);
            var speakers = options.Speakers.Count > 0
                ? await SpeakerClient.ReadAllAsync(options.Speakers, options.Service, SourceTimeout, cancellationToken)
                : cluster.Speakers;
            if (options.Command == CliCommand.Status)
            {
                var status = StatusBuilder.Build(cluster, speakers);
                await output.WriteAsync(options.Output == OutputFormat.Json
                    ? JsonSerializer.Serialize(status, CliJsonContext.Readable.ClusterStatus) + "\n"
                    : TextReport.Render(status));
                return status.ExitCode;
            }
            var service = options.Service!;
            IReadOnlyList<ProbeResult>? probes = null;
            if (options.ProbePort is { } port && cluster.AddressesOf(service) is { } held)
                probes = await Probe.ConnectAllAsync(held.Addresses, port, ProbeTimeout, cancellationToken);
            var explanation = Explainer.Explain(cluster, service, speakers, probes ?? (options.ProbePort is null ? null : []));
            await output.WriteAsync(options.Output == OutputFormat.Json
                ? JsonSerializer.Serialize(explanation, CliJsonContext.Readable.Explanation) + "\n"
                : TextReport.Render(explanation));
            return explanation.ExitCode;
        }
        catch (SourceUnreachableException e)
        {
            await error.WriteLineAsync($"{Name}: {e.Message}");
            return CliExitCodes.UsageOrUnreachable;
        }
    }
}
