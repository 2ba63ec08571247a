using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using BgpLb.Bgp;

namespace BgpLb.Planning;

/// <summary>The addresses a Service holds and the pool they were allocated from (null when the source does not say).</summary>
public sealed record ServiceAddresses(EquatableArray<IPAddress> Addresses, string? Pool);

/// <summary>Why one address is or is not announced over BGP from this node (<paramref name="Detail"/> names the objects), and to which of its peers.</summary>
public sealed record BgpDecision(AnnounceReason Reason, string Detail, EquatableArray<string> Peers)
{
    public bool Announced => Reason == AnnounceReason.Announced;
}

/// <summary>
/// Who answers for one address in L2 mode, and why (<paramref name="Detail"/> names the objects); <see cref="Interfaces"/>
/// empty = every usable interface. <see cref="Owner"/> is the elected node, null when no node is eligible.
/// </summary>
public sealed record L2Decision(string? Owner, AnnounceReason Reason, string Detail, EquatableArray<string> Interfaces)
{
    public bool Announced => Reason == AnnounceReason.Announced;
}

/// <summary>
/// The decisions for one address of a Service: <see cref="Bgp"/> is null when the address's pool has only L2
/// advertisements; <see cref="L2"/> is null when the Service is not announced in L2 mode.
/// </summary>
public sealed record AddressPlan(IPAddress Address, string? Pool, BgpDecision? Bgp, L2Decision? L2)
{
    /// <summary>
    /// Why, as far as this node can tell, no node announces the address; null when this node announces it or another
    /// node may (an L2 owner elsewhere, or a BGP reason that holds for this node only, see <see cref="AnnounceReasons.IsNodeSpecific"/>).
    /// </summary>
    public AnnounceReason? Unannounced =>
        Bgp is { Announced: true } || L2 is { Announced: true } || L2 is { Reason: AnnounceReason.NotElected } || Bgp is { } bgp && bgp.Reason.IsNodeSpecific()
            ? null
            : Bgp?.Reason ?? L2?.Reason;
}

/// <summary>One route a Service contributes towards one of this node's peers.</summary>
public readonly record struct PlannedRoute(PeerKey Peer, IPNetwork Prefix, RouteAttributes Attributes);

/// <summary>Everything this node does for one Service, with the reason behind every decision.</summary>
public sealed record ServicePlan(string Service, EquatableArray<AddressPlan> Addresses, EquatableArray<PlannedRoute> Routes);

/// <summary>
/// One planner for BGP and L2, a pure function of (context, Service, its addresses, its endpoints), following MetalLB's
/// rules. BGP (speaker ShouldAnnounce): an advertisement must select the address's pool, this node and the Service; the
/// node must not be excluded; externalTrafficPolicy Local needs a serving endpoint on this node, Cluster one anywhere.
/// Reasons that hold for every node (pool, advertisements, Service selection, no endpoint at all) are checked before
/// the ones that hold for this node only, so that every speaker gives the same reason for them.
/// L2 (layer2 controller): the candidates are the live, non-excluded nodes selected by an L2Advertisement of the first
/// address's pool (and the Service's serviceSelectors) that pass the endpoint rule; <see cref="L2Election"/> picks the
/// owner, which answers for every address of the Service on the union of the interfaces of its advertisements.
/// </summary>
public static class Planner
{
    private static readonly BgpDecision NoPool = new(AnnounceReason.AddressNotInPool, "the address is in no IPAddressPool", []);
    private static readonly BgpDecision NoEndpoint = new(AnnounceReason.NoReadyEndpoint, NoEndpointDetail, []);
    private const string NoEndpointDetail = "the Service has no ready endpoint (EndpointSlice) on any node";
    private const string NoLocalEndpointDetail = "externalTrafficPolicy Local and no ready endpoint on this node";
    private const string AnnouncedDetail = "announced";

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
        if (pool is null)
            return NoPool;
        if (!pool.HasBgp)
            return pool.NoAdvertisement;
        if (!pool.SelectsService(service))
            return pool.ServiceNotSelected;
        if (!endpoints.ServingAnywhere)
            return NoEndpoint;
        if (context.Exclusion is { } exclusion)
            return new BgpDecision(exclusion.Reason, exclusion.Detail, []);
        var advertisements = Selecting(pool, service);
        if (advertisements.Count == 0)
            return pool.NodeNotSelected;
        if (DifferentLocalPrefs(advertisements))
            return new BgpDecision(AnnounceReason.ConflictingLocalPref,
                $"BGPAdvertisements {string.Join(", ", advertisements.Select(a => a.Advertisement.Name))} set different localPref values", []);
        if (service.LocalTrafficPolicy && !endpoints.ServingOn(context.NodeName))
            return new BgpDecision(AnnounceReason.NoLocalReadyEndpoint, NoLocalEndpointDetail, []);

        var first = routes.Count;
        foreach (var view in advertisements)
        {
            var length = address.AddressFamily == AddressFamily.InterNetwork ? view.Advertisement.AggregationLength : view.Advertisement.AggregationLengthV6;
            var prefix = PlanContext.Prefix(address, length);
            foreach (var peer in view.Peers)
                AddRoute(routes, first, new PlannedRoute(peer.Key, prefix, view.Attributes));
        }
        if (routes.Count == first)
            return new BgpDecision(AnnounceReason.NoPeerForNode,
                $"BGPAdvertisements {string.Join(", ", advertisements.Select(a => a.Advertisement.Name))} reach none of this node's BGPPeers", []);
        if (advertisements.Count == pool.Bgp.Length)
            return pool.AnnouncedByAll;
        var names = advertisements.SelectMany(a => a.Peers).Select(p => p.Name).Distinct().Order(StringComparer.Ordinal);
        return new BgpDecision(AnnounceReason.Announced, AnnouncedDetail, [.. names]);
    }

    /// <summary>The pool's advertisements for this node whose serviceSelectors match the Service (all of them, without copying, when none has any).</summary>
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

    private static L2Decision[]? PlanL2(PlanContext context, ServiceInfo service, EquatableArray<IPAddress> held, PoolView?[] pools, EndpointSummary endpoints)
    {
        if (pools[0] is not { L2.IsEmpty: false } keyPool)
            return null;
        var keyAdvertisements = L2AdvertisementsFor(keyPool, service);
        if (keyAdvertisements.Count == 0)
        {
            // A pool with BGP advertisements too is announced over BGP; an L2-only pool would otherwise say nothing.
            return keyPool.IsLayer2Only
                ? Enumerable.Repeat(new L2Decision(null, AnnounceReason.ServiceNotSelected,
                    $"the serviceSelectors of the L2Advertisements of pool '{keyPool.Pool.Name}' do not match the Service", []), held.Length).ToArray()
                : null;
        }
        var (owner, reason, detail) = Elect(context, service, held[0], keyAdvertisements, endpoints);
        var decisions = new L2Decision[held.Length];
        for (var i = 0; i < held.Length; i++)
        {
            if (owner != context.NodeName)
            {
                decisions[i] = new L2Decision(owner, reason, detail, []);
                continue;
            }
            var mine = L2AdvertisementsFor(pools[i], service).Where(a => LabelSelector.MatchesAny(a.NodeSelectors, context.NodeLabels)).ToList();
            if (mine.Count == 0)
            {
                decisions[i] = new L2Decision(owner, AnnounceReason.NodeNotSelected, "no L2Advertisement selects this address's pool for this node", []);
                continue;
            }
            EquatableArray<string> interfaces = mine.Any(a => a.Interfaces.IsEmpty)
                ? []
                : [.. mine.SelectMany(a => a.Interfaces).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
            decisions[i] = new L2Decision(owner, AnnounceReason.Announced, AnnouncedDetail, interfaces);
        }
        return decisions;
    }

    /// <returns>The elected owner, or null with the reason this node (not eligible either) gives.</returns>
    private static (string? Owner, AnnounceReason Reason, string Detail) Elect(PlanContext context, ServiceInfo service, IPAddress key,
        List<L2AdvertisementConfig> advertisements, EndpointSummary endpoints)
    {
        if (!endpoints.ServingAnywhere)
            return (null, AnnounceReason.NoReadyEndpoint, NoEndpointDetail);
        var candidates = new List<ElectionCandidate>();
        (AnnounceReason Reason, string Detail)? mine = null;
        foreach (var node in context.L2Nodes)
        {
            var selecting = advertisements.Where(a => LabelSelector.MatchesAny(a.NodeSelectors, node.Labels)).ToList();
            var ineligible = Ineligible(context, service, node, selecting.Count > 0, endpoints);
            if (node.Name == context.NodeName)
                mine = ineligible;
            if (ineligible is not null)
                continue;
            var score = selecting.Sum(a => a.PreferredNodeSelectors.Where(p => p.Preference.Matches(node.Labels)).Sum(p => p.Weight));
            candidates.Add(new ElectionCandidate(node.Name, score));
        }
        var owner = L2Election.Owner(candidates, key);
        if (owner == context.NodeName)
            return (owner, AnnounceReason.Announced, AnnouncedDetail);
        if (owner is not null)
            return (owner, AnnounceReason.NotElected, $"node {owner} is the elected owner");
        var (reason, detail) = mine!.Value; // this node is among L2Nodes, and was not eligible
        return (null, reason, $"no node is eligible to answer for the address; this node: {detail}");
    }

    /// <summary>Why a node cannot take part in an L2 election for the Service, or null when it can.</summary>
    private static (AnnounceReason, string)? Ineligible(PlanContext context, ServiceInfo service, NodeInfo node, bool selected, EndpointSummary endpoints) =>
        !selected ? (AnnounceReason.NodeNotSelected, "the nodeSelectors of the L2Advertisements do not select the node")
        : !context.LiveSpeakers.Contains(node.Name) ? (AnnounceReason.SpeakerNotLive, "no live speaker on the node")
        : context.ExclusionOf(node) is { } exclusion ? exclusion
        : service.LocalTrafficPolicy && !endpoints.ServingOn(node.Name) ? (AnnounceReason.NoLocalReadyEndpoint, "externalTrafficPolicy Local and no ready endpoint on the node")
        : null;

    private static List<L2AdvertisementConfig> L2AdvertisementsFor(PoolView? pool, ServiceInfo service) =>
        pool is null ? [] : [.. pool.L2.Where(a => LabelSelector.MatchesAny(a.ServiceSelectors, service.Labels))];
}
