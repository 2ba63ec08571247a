using System.Diagnostics.Metrics;
using System.Net;
using BgpLb.Config;
using BgpLb.Planning;
using static BgpLb.Kubernetes.Testing.KubeObjects;

namespace BgpLb.Speaker.Tests;

public sealed class SpeakerMetricsTests : IDisposable
{
    private readonly TestMeterFactory _meters = new();
    private readonly ClusterState _state = new(new ConfigOptions());
    private readonly SpeakerMetrics _metrics;
    private readonly List<IPAddress> _conflicts = [];

    public SpeakerMetricsTests() =>
        _metrics = new SpeakerMetrics(_meters, new SpeakerOptions { NodeName = "node-1", MetricsListen = IPEndPoint.Parse("127.0.0.1:1") }, () => _conflicts);

    public void Dispose() => _meters.Dispose();

    /// <summary>One scrape: every measurement of this test's speaker meter, as "name{tags}" = value.</summary>
    private Dictionary<string, int> Scrape()
    {
        var values = new Dictionary<string, int>(StringComparer.Ordinal);
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == _meters)
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) =>
        {
            var labels = new List<string>();
            foreach (var tag in tags)
                labels.Add($"{tag.Key}={tag.Value}");
            values[$"{instrument.Name}{{{string.Join(",", labels.Order(StringComparer.Ordinal))}}}"] = value;
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return values;
    }

    private void Pass(bool problemsChanged, params PlanChange[] changes)
    {
        var delta = new PlanDelta();
        delta.Plans.AddRange(changes);
        _metrics.Applied(new SpeakerPass(_state, delta, problemsChanged));
    }

    private static ServicePlan Plan(string service, params AddressPlan[] addresses) => new(service, [.. addresses], []);

    private static AddressPlan Address(string address, bool bgp, bool l2) => new(IPAddress.Parse(address), "main",
        new BgpDecision(bgp ? AnnounceReason.Announced : AnnounceReason.NoReadyEndpoint, "test", bgp ? ["router"] : []),
        new L2Decision("node-1", l2 ? AnnounceReason.Announced : AnnounceReason.NotElected, "test", []));

    [Fact]
    public void Announced_counts_each_service_protocol_and_address()
    {
        var web = Plan("default/web", Address("203.0.113.10", bgp: true, l2: true), Address("203.0.113.11", bgp: false, l2: false));
        var api = Plan("default/api", Address("203.0.113.20", bgp: false, l2: false));
        Pass(true, new PlanChange("default/web", null, web), new PlanChange("default/api", null, api));

        Assert.Equal(
            [
                "metallb_speaker_announced{ip=203.0.113.10,node=node-1,protocol=bgp,service=default/web}",
                "metallb_speaker_announced{ip=203.0.113.10,node=node-1,protocol=layer2,service=default/web}",
            ],
            Scrape().Keys.Where(k => k.StartsWith("metallb_speaker_announced", StringComparison.Ordinal)).Order(StringComparer.Ordinal));

        Pass(false, new PlanChange("default/web", web, null));
        Assert.DoesNotContain(Scrape().Keys, k => k.StartsWith("metallb_speaker_announced", StringComparison.Ordinal));
    }

    [Fact]
    public void Unannounced_counts_Services_no_node_announces_by_reason()
    {
        static AddressPlan Bgp(string address, AnnounceReason reason) => new(IPAddress.Parse(address), "main", new BgpDecision(reason, "test", []), null);
        var dead = Plan("default/dead", Bgp("203.0.113.30", AnnounceReason.NoReadyEndpoint), Bgp("203.0.113.31", AnnounceReason.NoReadyEndpoint));
        var elsewhere = Plan("default/elsewhere", Bgp("203.0.113.32", AnnounceReason.NodeNotSelected));
        var owned = Plan("default/owned", new AddressPlan(IPAddress.Parse("203.0.113.33"), "main", null,
            new L2Decision("node-2", AnnounceReason.NotElected, "test", [])));
        var nobody = Plan("default/nobody", new AddressPlan(IPAddress.Parse("203.0.113.34"), "main", null,
            new L2Decision(null, AnnounceReason.SpeakerNotLive, "test", [])));
        Pass(false, new PlanChange("default/dead", null, dead), new PlanChange("default/elsewhere", null, elsewhere),
            new PlanChange("default/owned", null, owned), new PlanChange("default/nobody", null, nobody));

        Assert.Equal(
            [
                "bgplb_service_unannounced{reason=NoReadyEndpoint,service=default/dead}",
                "bgplb_service_unannounced{reason=SpeakerNotLive,service=default/nobody}",
            ],
            Scrape().Keys.Where(k => k.StartsWith(SpeakerMetrics.UnannouncedName, StringComparison.Ordinal)).Order(StringComparer.Ordinal));

        // An owned L2 address that another host also answers for.
        var mine = Plan("default/mine", new AddressPlan(IPAddress.Parse("203.0.113.35"), "main", null,
            new L2Decision("node-1", AnnounceReason.Announced, "announced", [])));
        Pass(false, new PlanChange("default/mine", null, mine));
        _conflicts.Add(IPAddress.Parse("203.0.113.35"));
        Assert.Contains("bgplb_service_unannounced{reason=AddressConflict,service=default/mine}", Scrape().Keys);

        // Endpoints come back: the series goes.
        Pass(false, new PlanChange("default/dead", dead, Plan("default/dead", Bgp("203.0.113.30", AnnounceReason.Announced))));
        Assert.DoesNotContain("bgplb_service_unannounced{reason=NoReadyEndpoint,service=default/dead}", Scrape().Keys);
    }
}
