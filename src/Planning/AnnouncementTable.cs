using System.Collections.Immutable;
using System.Net;
using System.Runtime.InteropServices;
using BgpLb.Bgp;

namespace BgpLb.Planning;

/// <summary>An address this node answers for in L2 mode, and on which interfaces (empty = all).</summary>
public readonly record struct L2Answer(IPAddress Address, EquatableArray<string> Interfaces);

/// <summary>
/// This node's plans, one per Service, and what they add up to: the routes towards each peer and the addresses to
/// answer for in L2 mode. Replacing one Service's plan costs what that plan touches and reports exactly the routes whose
/// effective attributes changed. Several Services may contribute the same route (a shared address, or aggregation):
/// their attributes are merged in Service-key order, so the result does not depend on the order of changes.
/// Not thread-safe: owned by one reconcile loop.
/// </summary>
public sealed class AnnouncementTable
{
    private readonly Dictionary<string, ServicePlan> _plans = new(StringComparer.Ordinal);
    private readonly Dictionary<PeerKey, Dictionary<IPNetwork, Contribution>> _routes = [];
    private readonly Dictionary<IPAddress, Contribution> _l2 = [];

    public IReadOnlyDictionary<string, ServicePlan> Plans => _plans;

    public int RouteCount => _routes.Values.Sum(r => r.Count);

    /// <summary>Gives back the room left by a large change (e.g. the first plan of 100,000 Services).</summary>
    public void TrimExcess()
    {
        _plans.TrimExcess();
        foreach (var routes in _routes.Values)
            routes.TrimExcess();
    }

    /// <summary>The routes towards <paramref name="peer"/>.</summary>
    public IEnumerable<Route> RoutesOf(PeerKey peer) =>
        _routes.TryGetValue(peer, out var routes) ? routes.Select(r => new Route(r.Key, r.Value.Effective)) : [];

    /// <summary>The peers that have at least one route.</summary>
    public IEnumerable<PeerKey> PeersWithRoutes => _routes.Keys;

    /// <summary>The addresses this node answers for in L2 mode (the interfaces of the first Service in key order).</summary>
    public IEnumerable<L2Answer> L2Answers => _l2.Select(a => new L2Answer(a.Key, a.Value.Interfaces));

    /// <summary>
    /// Replaces the plan of <paramref name="service"/> (null: it has none); appends the resulting route changes to
    /// <paramref name="routeChanges"/>. Returns true when the L2 answers changed.
    /// </summary>
    public bool Set(string service, ServicePlan? plan, List<RouteChange> routeChanges)
    {
        ArgumentNullException.ThrowIfNull(routeChanges);
        _plans.TryGetValue(service, out var before);
        if (Equals(before, plan))
            return false;
        if (plan is null)
            _plans.Remove(service);
        else
            _plans[service] = plan;

        foreach (var route in before?.Routes ?? [])
        {
            // A route the new plan still has (with other attributes or not) is replaced in place below: withdrawing it
            // first would report a change even when the merged attributes end up equal.
            if (plan is null || !Keeps(plan, route))
                RemoveRoute(service, route, routeChanges);
        }
        foreach (var route in plan?.Routes ?? [])
        {
            if (before is null || !before.Routes.Contains(route))
                AddRoute(service, route, routeChanges);
        }

        if (!HasAnswers(before) && !HasAnswers(plan))
            return false;
        var l2Changed = false;
        foreach (var (address, interfaces) in Answers(before))
        {
            if (!Answers(plan).Contains((address, interfaces)))
                l2Changed |= RemoveAnswer(service, address);
        }
        foreach (var (address, interfaces) in Answers(plan))
        {
            if (!Answers(before).Contains((address, interfaces)))
                l2Changed |= AddAnswer(service, address, interfaces);
        }
        return l2Changed;
    }

    /// <summary>True when <paramref name="plan"/> has a route to the same peer and prefix (with any attributes).</summary>
    private static bool Keeps(ServicePlan plan, PlannedRoute route)
    {
        foreach (var other in plan.Routes)
        {
            if (other.Peer == route.Peer && other.Prefix == route.Prefix)
                return true;
        }
        return false;
    }

    private static bool HasAnswers(ServicePlan? plan)
    {
        foreach (var address in plan?.Addresses ?? [])
        {
            if (address.L2 is { Announced: true })
                return true;
        }
        return false;
    }

    private static IEnumerable<(IPAddress Address, EquatableArray<string> Interfaces)> Answers(ServicePlan? plan) =>
        plan is null ? [] : plan.Addresses.Where(a => a.L2 is { Announced: true }).Select(a => (a.Address, a.L2!.Interfaces));

    private void AddRoute(string service, PlannedRoute route, List<RouteChange> changes)
    {
        if (!_routes.TryGetValue(route.Peer, out var routes))
            _routes[route.Peer] = routes = [];
        ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(routes, route.Prefix, out var exists);
        var before = exists ? entry.Effective : null;
        entry = exists ? entry.With(service, route.Attributes, default) : new Contribution(service, route.Attributes, default);
        if (!entry.Effective.Equals(before))
            changes.Add(new RouteChange(route.Peer, route.Prefix, entry.Effective));
    }

    private void RemoveRoute(string service, PlannedRoute route, List<RouteChange> changes)
    {
        if (!_routes.TryGetValue(route.Peer, out var routes) || !routes.TryGetValue(route.Prefix, out var entry))
            return;
        var remaining = entry.Without(service);
        if (remaining is null)
        {
            routes.Remove(route.Prefix);
            if (routes.Count == 0)
                _routes.Remove(route.Peer);
            changes.Add(new RouteChange(route.Peer, route.Prefix, null));
            return;
        }
        routes[route.Prefix] = remaining.Value;
        if (!remaining.Value.Effective.Equals(entry.Effective))
            changes.Add(new RouteChange(route.Peer, route.Prefix, remaining.Value.Effective));
    }

    private bool AddAnswer(string service, IPAddress address, EquatableArray<string> interfaces)
    {
        ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(_l2, address, out var exists);
        var before = exists ? entry.Interfaces : default;
        entry = exists ? entry.With(service, RouteAttributes.Empty, interfaces) : new Contribution(service, RouteAttributes.Empty, interfaces);
        return !exists || !entry.Interfaces.Equals(before);
    }

    private bool RemoveAnswer(string service, IPAddress address)
    {
        if (!_l2.TryGetValue(address, out var entry))
            return false;
        var remaining = entry.Without(service);
        if (remaining is null)
        {
            _l2.Remove(address);
            return true;
        }
        _l2[address] = remaining.Value;
        return !remaining.Value.Interfaces.Equals(entry.Interfaces);
    }

    /// <summary>
    /// What the Services contribute to one route (or L2 answer): usually one Service, held inline; more in
    /// <see cref="_others"/>, ordered by Service key. <see cref="Effective"/> merges them in that order.
    /// </summary>
    private readonly struct Contribution
    {
        private readonly string _service;
        private readonly RouteAttributes _attributes;
        private readonly EquatableArray<string> _interfaces;
        private readonly ImmutableArray<(string Service, RouteAttributes Attributes, EquatableArray<string> Interfaces)> _others;

        public Contribution(string service, RouteAttributes attributes, EquatableArray<string> interfaces)
            : this(service, attributes, interfaces, default, attributes)
        {
        }

        private Contribution(string service, RouteAttributes attributes, EquatableArray<string> interfaces,
            ImmutableArray<(string, RouteAttributes, EquatableArray<string>)> others, RouteAttributes effective)
        {
            _service = service;
            _attributes = attributes;
            _interfaces = interfaces;
            _others = others;
            Effective = effective;
        }

        public RouteAttributes Effective { get; }

        /// <summary>The interfaces of the first Service.</summary>
        public EquatableArray<string> Interfaces => _interfaces;

        public Contribution With(string service, RouteAttributes attributes, EquatableArray<string> interfaces) =>
            From([.. All().Where(c => c.Service != service), (service, attributes, interfaces)]);

        public Contribution? Without(string service)
        {
            var rest = All().Where(c => c.Service != service).ToList();
            return rest.Count == 0 ? null : From(rest);
        }

        private IEnumerable<(string Service, RouteAttributes Attributes, EquatableArray<string> Interfaces)> All() =>
            _others.IsDefault ? [(_service, _attributes, _interfaces)] : [(_service, _attributes, _interfaces), .. _others];

        private static Contribution From(List<(string Service, RouteAttributes Attributes, EquatableArray<string> Interfaces)> all)
        {
            all.Sort((a, b) => string.CompareOrdinal(a.Service, b.Service));
            var effective = all[0].Attributes;
            for (var i = 1; i < all.Count; i++)
                effective = Planner.Merge(effective, all[i].Attributes);
            var (service, attributes, interfaces) = all[0];
            return new Contribution(service, attributes, interfaces, all.Count == 1 ? default : [.. all.Skip(1)], effective);
        }
    }
}
