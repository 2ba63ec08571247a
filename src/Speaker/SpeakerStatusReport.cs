using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net;
using BgpLb.Bgp;
using BgpLb.L2.Announcing;
using BgpLb.Planning;
using BgpLb.StatusApi;

namespace BgpLb.Speaker;

/// <summary>
/// The speaker's <c>GET /status</c> (docs/status.md): keeps the plan of every Service as the reconcile loop makes them
/// (plans are immutable, so a request reads them without holding up the loop) and joins them with the sessions and
/// Adj-RIBs-Out of the <see cref="PeerManager"/> and the L2 announcer's state when asked.
/// </summary>
public sealed class SpeakerStatusReport(SpeakerOptions options, PeerManager peers, L2Announcer announcer, TimeProvider time) : ISpeakerObserver
{
    private readonly ConcurrentDictionary<string, ServicePlan> _plans = new(StringComparer.Ordinal);
    private volatile IReadOnlySet<string> _liveSpeakers = ImmutableHashSet<string>.Empty;

    public void Applied(SpeakerPass pass)
    {
        ArgumentNullException.ThrowIfNull(pass);
        foreach (var (service, _, after) in pass.Changes.Plans)
        {
            if (after is null)
                _plans.TryRemove(service, out _);
            else
                _plans[service] = after;
        }
        if (pass.Changes.NewContext is { } context)
            _liveSpeakers = context.LiveSpeakers;
    }

    /// <param name="service">Only this Service ("namespace/name"), in the Services and in the routes; null: all.</param>
    public SpeakerStatus Build(string? service = null)
    {
        var plans = _plans.Values.Where(p => service is null || p.Service == service).OrderBy(p => p.Service, StringComparer.Ordinal).ToList();
        var conflicts = announcer.Conflicts;
        var answering = announcer.Answering;
        return new SpeakerStatus
        {
            Node = options.NodeName,
            Time = time.GetUtcNow(),
            Sessions = [.. peers.GetStatus().OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => Session(p, plans))],
            L2 = new L2Status(
                options.MembershipEnabled,
                [.. _liveSpeakers.Order(StringComparer.Ordinal)],
                [.. answering.Select(a => a.Address.ToString()).Order(StringComparer.Ordinal)],
                [.. conflicts.Select(c => new ConflictStatus(c.Address.ToString(), c.Interface, c.OtherHost.ToString(), c.DetectedAt))],
                answering.Where(a => a.GratuitousSentAt is not null).ToDictionary(a => a.Address.ToString(), a => a.GratuitousSentAt!.Value, StringComparer.Ordinal)),
            Services = [.. plans.Select(p => new ServiceStatus(p.Service, [.. p.Addresses.Select(a => Address(a, conflicts))]))],
        };
    }

    private SessionStatus Session(PeerStatus peer, List<ServicePlan> plans)
    {
        var established = peer.State == Bgp.Fsm.BgpState.Established;
        var advertised = established ? peers.AdvertisedPrefixes(peer.Key) : ImmutableDictionary<IPNetwork, DateTimeOffset>.Empty;
        var routes = plans
            .SelectMany(p => p.Routes.Where(r => r.Peer == peer.Key).Select(r => (r.Prefix, p.Service)))
            .GroupBy(r => r.Prefix)
            .OrderBy(g => g.Key.ToString(), StringComparer.Ordinal)
            .Select(g => advertised.TryGetValue(g.Key, out var sentAt)
                ? new RouteStatus(g.Key.ToString(), [.. g.Select(r => r.Service).Distinct()], true, sentAt)
                : new RouteStatus(g.Key.ToString(), [.. g.Select(r => r.Service).Distinct()], false));
        return new SessionStatus(peer.Name, peer.Key.Address.ToString(), peer.Key.Port, peer.State.ToString(), peer.Uptime?.TotalSeconds,
            peer.RemoteAsn, peer.LocalAddress?.ToString(), peer.LastError, peer.AdvertisedPrefixes, peer.Bfd?.ToString(), [.. routes]);
    }

    /// <summary>An owned address that another host also answers for is not announced: the conflict is its reason.</summary>
    private static AddressStatus Address(AddressPlan plan, ImmutableArray<AddressConflict> conflicts)
    {
        var l2 = plan.L2;
        var conflict = l2 is { Announced: true } ? conflicts.FirstOrDefault(c => c.Address.Equals(plan.Address)) : null;
        if (conflict is not null)
            l2 = l2! with { Reason = AnnounceReason.AddressConflict, Detail = $"host {conflict.OtherHost} also answers for the address on {conflict.Interface}" };
        return new AddressStatus(
            plan.Address.ToString(),
            plan.Pool,
            (plan with { L2 = l2 }).Unannounced,
            plan.Bgp is { } bgp ? new BgpDecisionStatus(bgp.Announced, bgp.Reason, bgp.Detail, [.. bgp.Peers]) : null,
            l2 is null ? null : new L2DecisionStatus(l2.Announced, l2.Reason, l2.Detail, l2.Owner, [.. l2.Interfaces]));
    }
}
