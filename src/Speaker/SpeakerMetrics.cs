using System.Diagnostics.Metrics;
using BgpLb.Speaker.Bgp;
using BgpLb.Speaker.L2;

namespace BgpLb.Speaker;

/// <summary>Speaker-level metrics under MetalLB's names: what this node announces and whether its configuration is current.</summary>
public sealed class SpeakerMetrics
{
    public const string MeterName = "BgpLb.Speaker";

    private volatile BgpPlan? _plan;
    private volatile L2Plan? _l2Plan;
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

    /// <summary>The addresses this node owns in L2 mode (protocol "layer2" in metallb_speaker_announced).</summary>
    public void L2PlanApplied(L2Plan plan) => _l2Plan = plan;

    private IEnumerable<Measurement<int>> Announced(string node) =>
        (_plan?.Addresses ?? []).Where(a => a.Announced).Select(a => (a.Service, Protocol: "bgp", a.Address))
            .Concat((_l2Plan?.Addresses ?? []).Where(a => a.Announced).Select(a => (a.Service, Protocol: "layer2", a.Address)))
            .Select(a => new Measurement<int>(1,
                new KeyValuePair<string, object?>("service", a.Service),
                new KeyValuePair<string, object?>("protocol", a.Protocol),
                new KeyValuePair<string, object?>("node", node),
                new KeyValuePair<string, object?>("ip", a.Address.ToString())));
}
