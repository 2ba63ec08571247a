using System.Diagnostics.Metrics;

namespace BgpLb.Config;

/// <summary>
/// MetalLB's configuration metrics (internal/k8s/controllers/stats.go), the same in the controller and the speaker:
/// objects processed, objects refused, whether a configuration was loaded, and whether the newest one has errors
/// (the last good version of the refused objects stays in force). Fed by <see cref="ConfigReporter"/>.
/// </summary>
public sealed class ConfigMetrics
{
    public const string MeterName = "BgpLb.Config";

    // Observed rather than pushed: changes counted before the exporter listens are not lost.
    private long _updates;
    private long _updateErrors;
    private volatile bool _loaded;
    private volatile bool _stale;

    public ConfigMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        meter.CreateObservableCounter("metallb_k8s_client_updates_total", () => Interlocked.Read(ref _updates), "{object}",
            "Number of object changes (added, changed or deleted) that have been processed");
        meter.CreateObservableCounter("metallb_k8s_client_update_errors_total", () => Interlocked.Read(ref _updateErrors), "{error}",
            "Number of configuration errors found in processed changes (each logged once, naming the object and field)");
        meter.CreateObservableGauge("metallb_k8s_client_config_loaded_bool", () => _loaded ? 1 : 0,
            description: "1 once a configuration has been loaded");
        meter.CreateObservableGauge("metallb_k8s_client_config_stale_bool", () => _stale ? 1 : 0,
            description: "1 while the newest configuration has errors and last good objects stay in force");
    }

    /// <param name="updates">Object changes in the pass.</param>
    /// <param name="newErrors">Errors the pass found that were not there before.</param>
    /// <param name="hasErrors">Whether the configuration now has errors.</param>
    internal void Passed(int updates, int newErrors, bool hasErrors)
    {
        Interlocked.Add(ref _updates, updates);
        Interlocked.Add(ref _updateErrors, newErrors);
        _stale = hasErrors;
        _loaded = true;
    }
}
