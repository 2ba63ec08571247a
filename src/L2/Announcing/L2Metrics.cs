using System.Diagnostics.Metrics;

namespace BgpLb.L2.Announcing;

/// <summary>Layer 2 counters under MetalLB's names (tag ip), plus the conflicts MetalLB does not detect.</summary>
public sealed class L2Metrics
{
    public const string MeterName = "BgpLb.L2";

    private readonly Counter<long> _requests;
    private readonly Counter<long> _responses;
    private readonly Counter<long> _gratuitous;

    internal L2Metrics(IMeterFactory meterFactory, Func<IEnumerable<Measurement<int>>> conflicts)
    {
        var meter = meterFactory.Create(MeterName);
        _requests = meter.CreateCounter<long>("metallb_layer2_requests_received", description: "ARP requests and neighbor solicitations received for owned addresses");
        _responses = meter.CreateCounter<long>("metallb_layer2_responses_sent", description: "ARP replies and neighbor advertisements sent for owned addresses");
        _gratuitous = meter.CreateCounter<long>("metallb_layer2_gratuitous_sent", description: "Gratuitous ARP and unsolicited neighbor advertisement frames sent");
        meter.CreateObservableGauge("bgplb_layer2_address_conflict", conflicts,
            description: "1 while another host answers for an address this node should announce (the address is not announced)");
    }

    public void RequestReceived(string ip) => Add(_requests, ip);
    public void ResponseSent(string ip) => Add(_responses, ip);
    public void GratuitousSent(string ip) => Add(_gratuitous, ip);

    private static void Add(Counter<long> counter, string ip)
    {
        if (counter.Enabled)
            counter.Add(1, new KeyValuePair<string, object?>("ip", ip));
    }
}
