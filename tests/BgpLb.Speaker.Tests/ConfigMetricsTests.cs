using System.Diagnostics.Metrics;
using BgpLb.Config;
using Microsoft.Extensions.Logging.Abstractions;
using static BgpLb.Kubernetes.Testing.KubeObjects;

namespace BgpLb.Speaker.Tests;

/// <summary>MetalLB's metallb_k8s_client_* metrics, fed by the <see cref="ConfigReporter"/> of each pass (controller and speaker alike).</summary>
public sealed class ConfigMetricsTests : IDisposable
{
    private readonly TestMeterFactory _meters = new();
    private readonly ClusterState _state = new(new ConfigOptions());
    private readonly ConfigReporter _reporter;

    public ConfigMetricsTests() => _reporter = new ConfigReporter(NullLogger<ConfigReporter>.Instance, new ConfigMetrics(_meters));

    public void Dispose() => _meters.Dispose();

    private Dictionary<string, long> Scrape()
    {
        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == _meters)
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<int>((instrument, value, _, _) => values[instrument.Name] = value);
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => values[instrument.Name] = value);
        listener.Start();
        listener.RecordObservableInstruments();
        return values;
    }

    private void Pass(ResourceBatch batch) => _reporter.Report(_state, _state.Apply(batch));

    [Fact]
    public void Updates_errors_loaded_and_stale_follow_the_passes()
    {
        Assert.Equal(0, Scrape()["metallb_k8s_client_config_loaded_bool"]);

        Pass(Batches.Initial(Pool("main", "203.0.113.0/30"), Service("default", "web")));
        var scrape = Scrape();
        Assert.Equal((1, 0, 2, 0), (scrape["metallb_k8s_client_config_loaded_bool"], scrape["metallb_k8s_client_config_stale_bool"],
            scrape["metallb_k8s_client_updates_total"], scrape["metallb_k8s_client_update_errors_total"]));

        // A peer without myASN: one error, stale while it lasts; a later unrelated change keeps it stale and counts no new error.
        var broken = Peer("broken", "198.18.0.9", 64512, 64513, 179);
        broken["spec"]!.AsObject().Remove("myASN");
        Pass(Batches.Changed(broken));
        Pass(Batches.Changed(Service("default", "api")));
        scrape = Scrape();
        Assert.Equal((1, 4, 1), (scrape["metallb_k8s_client_config_stale_bool"], scrape["metallb_k8s_client_updates_total"],
            scrape["metallb_k8s_client_update_errors_total"]));

        Pass(Batches.Removed("BGPPeer", MetalLbNamespace, "broken"));
        Assert.Equal(0, Scrape()["metallb_k8s_client_config_stale_bool"]);
    }
}
