using Microsoft.Extensions.Logging;

namespace BgpLb.Config;

/// <summary>
/// Logs each configuration problem once, when it appears, and a summary line when the compiled configuration changes;
/// counts both in <see cref="ConfigMetrics"/>.
/// </summary>
public sealed class ConfigReporter(ILogger<ConfigReporter> logger, ConfigMetrics? metrics = null)
{
    private HashSet<string> _reported = new(StringComparer.Ordinal);

    public void Report(ClusterState state, ClusterDelta delta)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(delta);
        var newErrors = 0;
        if (delta.ProblemsChanged)
        {
            var reported = new HashSet<string>(StringComparer.Ordinal);
            foreach (var problem in state.Problems)
            {
                var text = problem.ToString();
                if (!reported.Add(text) || _reported.Contains(text))
                    continue;
                if (problem.Severity == ConfigSeverity.Error)
                {
                    ConfigLog.InvalidConfiguration(logger, problem);
                    newErrors++;
                }
                else
                {
                    ConfigLog.ConfigurationWarning(logger, problem);
                }
            }
            _reported = reported;
        }
        if (delta.ConfigChanged || delta.ProblemsChanged)
        {
            var config = state.Config;
            var errors = state.Problems.Count(p => p.Severity == ConfigSeverity.Error);
            ConfigLog.ConfigurationCompiled(logger, config.Pools.Length, config.Peers.Length, config.BgpAdvertisements.Length,
                config.L2Advertisements.Length, errors);
        }
        metrics?.Passed(delta.Updates, newErrors, state.HasErrors);
    }
}
