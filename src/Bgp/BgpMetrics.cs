using System.Diagnostics.Metrics;
using BgpLb.Bgp.Bfd;

namespace BgpLb.Bgp;

/// <summary>
/// BGP instruments with MetalLB's names (so a Prometheus exporter shows them unchanged), tagged <c>peer</c> = "ip:port".
/// Every record is guarded by <c>Enabled</c>, so an unobserved instrument costs one branch.
/// </summary>
public sealed class BgpMetrics
{
    public const string MeterName = "BgpLb.Bgp";

    private readonly Gauge<int> _sessionUp;
    private readonly Counter<long> _updatesSent;
    private readonly Gauge<long> _announcedPrefixes;
    private readonly Gauge<long> _pendingPrefixes;
    private readonly Counter<long> _opensSent;
    private readonly Counter<long> _opensReceived;
    private readonly Counter<long> _notificationsSent;
    private readonly Counter<long> _updatesReceived;
    private readonly Counter<long> _keepalivesSent;
    private readonly Counter<long> _keepalivesReceived;
    private readonly Counter<long> _routeRefreshSent;
    private readonly Counter<long> _totalSent;
    private readonly Counter<long> _totalReceived;
    private Func<IReadOnlyList<BfdSessionStatus>> _bfdSessions = () => [];

    public BgpMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        _sessionUp = meter.CreateGauge<int>("metallb_bgp_session_up", description: "BGP session state (1 is up, 0 is down)");
        _updatesSent = meter.CreateCounter<long>("metallb_bgp_updates_total", "{message}", "Number of BGP UPDATE messages sent");
        _announcedPrefixes = meter.CreateGauge<long>("metallb_bgp_announced_prefixes_total", "{prefix}", "Number of prefixes currently being advertised on the BGP session");
        _pendingPrefixes = meter.CreateGauge<long>("metallb_bgp_pending_prefixes_total", "{prefix}", "Number of prefixes that should be advertised on the BGP session");
        _opensSent = meter.CreateCounter<long>("metallb_bgp_opens_sent", "{message}", "Number of BGP open messages sent");
        _opensReceived = meter.CreateCounter<long>("metallb_bgp_opens_received", "{message}", "Number of BGP open messages received");
        _notificationsSent = meter.CreateCounter<long>("metallb_bgp_notifications_sent", "{message}", "Number of BGP notification messages sent");
        _updatesReceived = meter.CreateCounter<long>("metallb_bgp_updates_total_received", "{message}", "Number of BGP UPDATE messages received");
        _keepalivesSent = meter.CreateCounter<long>("metallb_bgp_keepalives_sent", "{message}", "Number of BGP keepalive messages sent");
        _keepalivesReceived = meter.CreateCounter<long>("metallb_bgp_keepalives_received", "{message}", "Number of BGP keepalive messages received");
        _routeRefreshSent = meter.CreateCounter<long>("metallb_bgp_route_refresh_sent", "{message}", "Number of BGP route refresh messages sent");
        _totalSent = meter.CreateCounter<long>("metallb_bgp_total_sent", "{message}", "Number of total BGP messages sent");
        _totalReceived = meter.CreateCounter<long>("metallb_bgp_total_received", "{message}", "Number of total BGP messages received");

        // MetalLB's BFD names (frr-tools/metrics/collector/bfd.go), label peer = the remote address. Echo is not
        // supported (a profile asking for it is refused), so the echo counters are exported and stay at zero.
        meter.CreateObservableGauge("metallb_bfd_session_up", () => PerBfdSession(s => s.State == BfdState.Up ? 1 : 0),
            description: "BFD session state (1 is up, 0 is down)");
        meter.CreateObservableCounter("metallb_bfd_control_packet_input", () => PerBfdSession(s => s.ControlPacketsIn), "{packet}",
            "Number of received BFD control packets");
        meter.CreateObservableCounter("metallb_bfd_control_packet_output", () => PerBfdSession(s => s.ControlPacketsOut), "{packet}",
            "Number of sent BFD control packets");
        meter.CreateObservableCounter("metallb_bfd_session_up_events", () => PerBfdSession(s => s.UpEvents), "{event}",
            "Number of BFD session up events");
        meter.CreateObservableCounter("metallb_bfd_session_down_events", () => PerBfdSession(s => s.DownEvents), "{event}",
            "Number of BFD session down events");
        meter.CreateObservableCounter("metallb_bfd_echo_packet_input", () => PerBfdSession(_ => 0L), "{packet}",
            "Number of received BFD echo packets");
        meter.CreateObservableCounter("metallb_bfd_echo_packet_output", () => PerBfdSession(_ => 0L), "{packet}",
            "Number of sent BFD echo packets");
    }

    /// <summary>Where the BFD instruments read their sessions (the peer manager's BFD endpoint).</summary>
    internal void ObserveBfd(Func<IReadOnlyList<BfdSessionStatus>> sessions) => _bfdSessions = sessions;

    private IEnumerable<Measurement<T>> PerBfdSession<T>(Func<BfdSessionStatus, T> value) where T : struct =>
        _bfdSessions().Select(s => new Measurement<T>(value(s), new KeyValuePair<string, object?>("peer", s.Remote.ToString())));

    internal void SessionUp(string peer, bool up)
    {
        if (_sessionUp.Enabled) _sessionUp.Record(up ? 1 : 0, Tag(peer));
    }

    internal void Prefixes(string peer, long announced, long pending)
    {
        if (_announcedPrefixes.Enabled) _announcedPrefixes.Record(announced, Tag(peer));
        if (_pendingPrefixes.Enabled) _pendingPrefixes.Record(pending, Tag(peer));
    }

    internal void UpdatesSent(string peer, int count)
    {
        Add(_updatesSent, peer, count);
        Add(_totalSent, peer, count);
    }

    internal void OpenSent(string peer) => Sent(_opensSent, peer);
    internal void NotificationSent(string peer) => Sent(_notificationsSent, peer);
    internal void KeepaliveSent(string peer) => Sent(_keepalivesSent, peer);
    internal void RouteRefreshSent(string peer) => Sent(_routeRefreshSent, peer);
    internal void OpenReceived(string peer) => Received(_opensReceived, peer);
    internal void UpdateReceived(string peer) => Received(_updatesReceived, peer);
    internal void KeepaliveReceived(string peer) => Received(_keepalivesReceived, peer);
    /// <summary>A NOTIFICATION or ROUTE-REFRESH received: counted in the total only, as MetalLB does.</summary>
    internal void OtherReceived(string peer) => Add(_totalReceived, peer, 1);

    private void Sent(Counter<long> counter, string peer)
    {
        Add(counter, peer, 1);
        Add(_totalSent, peer, 1);
    }

    private void Received(Counter<long> counter, string peer)
    {
        Add(counter, peer, 1);
        Add(_totalReceived, peer, 1);
    }

    private static void Add(Counter<long> counter, string peer, long value)
    {
        if (counter.Enabled) counter.Add(value, Tag(peer));
    }

    private static KeyValuePair<string, object?> Tag(string peer) => new("peer", peer);
}
