using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using BgpLb.Bgp;

namespace BgpLb.Planning;

/// <summary>The addresses a Service holds and the pool they were allocated from (null when the source does not say).</summary>
public sealed record ServiceAddresses(EquatableArray<IPAddress> Addresses, string? Pool);

/// <summary>Why one address is or is not announced over BGP from this node, and to which of its peers.</summary>
public sealed record BgpDecision(bool Announced, string Reason, EquatableArray<string> Peers);

/// <summary>Who answers for one address in L2 mode, and why; <see cref="Interfaces"/> empty = every usable interface.</summary>
public sealed record L2Decision(string? Owner, bool Announced, EquatableArray<string> Interfaces, string Reason);

/// <summary>
/// The decisions for one address of a Service: <see cref="Bgp"/> is null when the address's pool has only L2
/// advertisements; <see cref="L2"/> is null when the Service is not announced in L2 mode.
/// </summary>
public sealed record AddressPlan(IPAddress Address, string? Pool, BgpDecision? Bgp, L2Decision? L2);

/// <summary>One route a Service contributes towards one of this node's peers.</summary>
public readonly record struct PlannedRoute(PeerKey Peer, IPNetwork Prefix, RouteAttributes Attributes);

/// <summary>Everything this node does for one Service, with the reason behind every decision.</summary>
public sealed record ServicePlan(string Service, EquatableArray<AddressPlan> Addresses, EquatableArray<PlannedRoute> Routes);

/// <summary>
/// One planner for BGP and L2, a pure function of (context, Service, its addresses, its endpoints), following MetalLB's
/// rules. BGP (speaker ShouldAnnounce): an advertisement must select the address's pool, this node and the Service; the
/// node must not be excluded; externalTrafficPolicy Local needs a serving endpoint on this node, Cluster one anywhere.
/// L2 (layer2 controller): the candidates are the live, non-excluded nodes selected by an L2Advertisement of the first
/// address's pool (and the Service's serviceSelectors) that pass the endpoint rule; <see cref="L2Election"/> picks the
/// owner, which answers for every address of the Service on the union of the interfaces of its advertisements.
/// </summary>
public static class Planner
{
    private const string Announced = "announced";

    private static readonly BgpDecision NoPool = new(false, "address is in no IPAddressPool", []);
    private static readonly BgpDecision NoLocalEndpoint = new(false, "externalTrafficPolicy Local and no serving endpoint on this node", []);
    private static readonly BgpDecision NoEndpoint = new(false, "no serving endpoint", []);
    private static readonly BgpDecision NoPeer = new(false, "no BGPPeer of this node is selected by the BGPAdvertisements", []);

    /// <returns>Null when this node has nothing to do or say for the Service (not ours, or no address).</returns>
    public static ServicePlan? Plan(PlanContext context, ServiceInfo service, ServiceAddresses? addresses, EndpointSummary endpoints)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(endpoints);
        if (!service.IsOurs(context.LoadBalancerClass) || addresses is null || addresses.Addresses.IsEmpty)
            return null;
        var held = addresses.Addresses;
        var pools = new PoolView?[held.Length];
        for (var i = 0; i < held.Length; i++)
            pools[i] = context.PoolOf(held[i], addresses.Pool);
        var l2 = PlanL2(context, service, held, pools, endpoints);
        var plans = new AddressPlan[held.Length];
        var routes = new List<PlannedRoute>(held.Length);
        for (var i = 0; i < held.Length; i++)
        {
            var bgp = pools[i] is { IsLayer2Only: true } ? null : PlanBgp(context, service, held[i], pools[i], endpoints, routes);
            plans[i] = new AddressPlan(held[i], pools[i]?.Pool.Name, bgp, l2?[i]);
        }
        return new ServicePlan(service.Key, ImmutableCollectionsMarshal.AsImmutableArray(plans), [.. routes]);
    }

    private static BgpDecision PlanBgp(PlanContext context, ServiceInfo service, IPAddress address, PoolView? pool, EndpointSummary endpoints,
        List<PlannedRoute> routes)
    {
        if (context.Exclusion is { } exclusion)
            return NotAnnounced($"this {exclusion}");
        if (pool is null)
            return NoPool;
        var advertisements = Selecting(pool, service);
        if (advertisements.Count == 0)
            return pool.NoAdvertisement;
        if (DifferentLocalPrefs(advertisements))
            return NotAnnounced($"BGPAdvertisements {string.Join(", ", advertisements.Select(a => a.Advertisement.Name))} set different localPref values");
        if (service.LocalTrafficPolicy ? !endpoints.ServingOn(context.NodeName) : !endpoints.ServingAnywhere)
            return service.LocalTrafficPolicy ? NoLocalEndpoint : NoEndpoint;

        var first = routes.Count;
        foreach (var view in advertisements)
        {
            var length = address.AddressFamily == AddressFamily.InterNetwork ? view.Advertisement.AggregationLength : view.Advertisement.AggregationLengthV6;
            var prefix = PlanContext.Prefix(address, length);
            foreach (var peer in view.Peers)
                AddRoute(routes, first, new PlannedRoute(peer.Key, prefix, view.Attributes));
        }
        if (routes.Count == first)
            return NoPeer;
        if (advertisements.Count == pool.Bgp.Length)
            return pool.AnnouncedByAll;
        var names = advertisements.SelectMany(a => a.Peers).Select(p => p.Name).Distinct().Order(StringComparer.Ordinal);
        return new BgpDecision(true, Announced, [.. names]);
    }

    /// <summary>The pool's advertisements whose serviceSelectors match the Service (all of them, without copying, when none has any).</summary>
    private static EquatableArray<AdvertisementView> Selecting(PoolView pool, ServiceInfo service)
    {
        foreach (var view in pool.Bgp)
        {
            if (!view.Advertisement.ServiceSelectors.IsEmpty)
                return [.. pool.Bgp.Where(a => LabelSelector.MatchesAny(a.Advertisement.ServiceSelectors, service.Labels))];
        }
        return pool.Bgp;
    }

    private static bool DifferentLocalPrefs(EquatableArray<AdvertisementView> advertisements)
    {
        uint seen = 0;
        foreach (var view in advertisements)
        {
            var localPref = view.Advertisement.LocalPref;
            if (localPref == 0)
                continue;
            if (seen != 0 && seen != localPref)
                return true;
            seen = localPref;
        }
        return false;
    }

    /// <summary>Two advertisements of one prefix to one peer: communities are unioned, the first localPref counts (MetalLB).</summary>
    private static void AddRoute(List<PlannedRoute> routes, int first, PlannedRoute route)
    {
        for (var i = first; i < routes.Count; i++)
        {
            if (routes[i].Peer == route.Peer && routes[i].Prefix == route.Prefix)
            {
                routes[i] = routes[i] with { Attributes = Merge(routes[i].Attributes, route.Attributes) };
                return;
            }
        }
        routes.Add(route);
    }

    internal static RouteAttributes Merge(RouteAttributes a, RouteAttributes b) =>
        a.Equals(b) ? a : new(a.LocalPref ?? b.LocalPref, a.Communities.Concat(b.Communities), a.LargeCommunities.Concat(b.LargeCommunities));

    private static BgpDecision NotAnnounced(string reason) => new(false, reason, []);

    private static L2Decision[]? PlanL2(PlanContext context, ServiceInfo service, EquatableArray<IPAddress> held, PoolView?[] pools, EndpointSummary endpoints)
    {
        if (pools[0] is not { L2.IsEmpty: false })
            return null;
        var keyAdvertisements = L2AdvertisementsFor(pools[0], service);
        if (keyAdvertisements.Count == 0)
            return null; // not an L2 Service (or its pool has only BGP advertisements)
        var (owner, reason) = Elect(context, service, held[0], keyAdvertisements, endpoints);
        var decisions = new L2Decision[held.Length];
        for (var i = 0; i < held.Length; i++)
        {
            if (owner != context.NodeName)
            {
                decisions[i] = new L2Decision(owner, false, [], reason);
                continue;
            }
            var mine = L2AdvertisementsFor(pools[i], service).Where(a => LabelSelector.MatchesAny(a.NodeSelectors, context.NodeLabels)).ToList();
            if (mine.Count == 0)
            {
                decisions[i] = new L2Decision(owner, false, [], "no L2Advertisement selects this address's pool for this node");
                continue;
            }
            EquatableArray<string> interfaces = mine.Any(a => a.Interfaces.IsEmpty)
                ? []
                : [.. mine.SelectMany(a => a.Interfaces).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
            decisions[i] = new L2Decision(owner, true, interfaces, Announced);
        }
        return decisions;
    }

    private static (string? Owner, string Reason) Elect(PlanContext context, ServiceInfo service, IPAddress key,
        List<L2AdvertisementConfig> advertisements, EndpointSummary endpoints)
    {
        var local = service.LocalTrafficPolicy;
        if (!local && !endpoints.ServingAnywhere)
            return (null, "no serving endpoint");
        var candidates = new List<ElectionCandidate>();
        foreach (var node in context.L2Nodes)
        {
            var selecting = advertisements.Where(a => LabelSelector.MatchesAny(a.NodeSelectors, node.Labels)).ToList();
            if (selecting.Count == 0
                || !context.LiveSpeakers.Contains(node.Name)
                || node.ExcludedFromLoadBalancers
                || (local && !endpoints.ServingOn(node.Name)))
                continue;
            var score = selecting.Sum(a => a.PreferredNodeSelectors.Where(p => p.Preference.Matches(node.Labels)).Sum(p => p.Weight));
            candidates.Add(new ElectionCandidate(node.Name, score));
        }
        var owner = L2Election.Owner(candidates, key);
        return owner is null
            ? (null, local ? "externalTrafficPolicy Local and no live eligible node with a serving endpoint" : "no live eligible node")
            : (owner, $"announced by node {owner}");
    }

    private static List<L2AdvertisementConfig> L2AdvertisementsFor(PoolView? pool, ServiceInfo service) =>
        pool is null ? [] : [.. pool.L2.Where(a => LabelSelector.MatchesAny(a.ServiceSelectors, service.Labels))];
}
