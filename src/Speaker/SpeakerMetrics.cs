using System.Diagnostics.Metrics;
using BgpLb.Speaker.Bgp;

namespace BgpLb.Speaker;

/// <summary>Speaker-level metrics under MetalLB's names: what this node announces and whether its configuration is current.</summary>
public sealed class SpeakerMetrics
{
    public const string MeterName = "BgpLb.Speaker";

    private volatile BgpPlan? _plan;
    private volatile bool _configLoaded;
    private volatile bool _configStale;

    public SpeakerMetrics(IMeterFactory meterFactory, SpeakerOptions options)
    {
        var meter = meterFactory.Create(MeterName);
        meter.CreateObservableGauge("metallb_speaker_announced", () => Announced(options.NodeName),
            description: "Service addresses this node announces (1 per service, protocol and address)");
        meter.CreateObservableGauge("metallb_k8s_client_config_loaded_bool", () => _configLoaded ? 1 : 0,
            description: "1 once a configuration has been loaded");
        meter.CreateObservableGauge("metallb_k8s_client_config_stale_bool", () => _configStale ? 1 : 0,
            description: "1 while the newest configuration has errors and last good objects stay in force");
    }

    public void ConfigurationApplied(BgpPlan plan, bool hasErrors)
    {
        _plan = plan;
        _configLoaded = true;
        _configStale = hasErrors;
    }

    private IEnumerable<Measurement<int>> Announced(string node) =>
        (_plan?.Addresses ?? []).Where(a => a.Announced).Select(a => new Measurement<int>(1,
            new KeyValuePair<string, object?>("service", a.Service),
            new KeyValuePair<string, object?>("protocol", "bgp"),
            new KeyValuePair<string, object?>("node", node),
            new KeyValuePair<string, object?>("ip", a.Address.ToString())));
}
