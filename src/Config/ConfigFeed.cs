using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace BgpLb.Config;

/// <summary>
/// Validated configurations from any <see cref="IResourceSource"/>: compiles each snapshot (keeping last good objects),
/// logs every new problem once (one line each) and hands out <see cref="ConfigUpdate"/>s. One consumer at a time.
/// </summary>
public sealed class ConfigFeed(IResourceSource source, ConfigOptions options, ILogger<ConfigFeed> logger)
{
    private readonly ConfigCompiler _compiler = new(options);
    private HashSet<string> _reported = [];

    /// <summary>Reads and validates the current state once (e.g. to refuse an unusable first configuration).</summary>
    public async Task<ConfigUpdate> LoadAsync(CancellationToken cancellationToken) =>
        Apply(await source.ReadAsync(cancellationToken));

    /// <summary>The current configuration first, then one per change of the source.</summary>
    public async IAsyncEnumerable<ConfigUpdate> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var snapshot in source.WatchAsync(cancellationToken))
        {
            yield return Apply(snapshot);
        }
    }

    private ConfigUpdate Apply(ResourceSnapshot snapshot)
    {
        var update = _compiler.Compile(snapshot);
        var reported = new HashSet<string>();
        foreach (var problem in update.Errors)
        {
            var text = problem.ToString();
            reported.Add(text);
            if (_reported.Contains(text))
            {
                continue;
            }
            if (problem.Severity == ConfigSeverity.Error)
            {
                ConfigLog.InvalidConfiguration(logger, problem);
            }
            else
            {
                ConfigLog.ConfigurationWarning(logger, problem);
            }
        }
        _reported = reported;
        var config = update.Config;
        var errorCount = update.Errors.Count(e => e.Severity == ConfigSeverity.Error);
        ConfigLog.ConfigurationApplied(logger, config.Pools.Length, config.Peers.Length, config.BgpAdvertisements.Length,
            config.L2Advertisements.Length, config.Services.Length, config.Nodes.Length, errorCount);
        return update;
    }
}
