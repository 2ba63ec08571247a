using System.Collections.Immutable;
using BgpLb.Bgp;

namespace BgpLb.Planning;

/// <summary>What a node plans from: the current model, read through delegates so that no copy is made.</summary>
/// <param name="Addresses">The addresses of a Service (null: none, or not known).</param>
public sealed record PlanInputs(
    MetalLbConfig Config,
    IReadOnlyDictionary<string, ServiceInfo> Services,
    Func<string, EndpointSummary> Endpoints,
    IReadOnlyDictionary<string, NodeInfo> Nodes,
    IReadOnlySet<string> LiveSpeakers,
    Func<string, ServiceAddresses?> Addresses);

/// <summary>A Service whose plan changed: <see cref="Before"/> and <see cref="After"/> are null when it had or has none.</summary>
public readonly record struct PlanChange(string Service, ServicePlan? Before, ServicePlan? After);

/// <summary>What one <see cref="NodePlanner.Apply"/> changed.</summary>
public sealed class PlanDelta
{
    /// <summary>Route changes towards this node's peers, in order.</summary>
    public List<RouteChange> Routes { get; } = [];

    /// <summary>This node's sessions when they changed; null when they did not.</summary>
    public ImmutableArray<BgpPeerConfig>? Peers { get; set; }

    /// <summary>The addresses answered for in L2 mode changed.</summary>
    public bool L2Changed { get; set; }

    public List<PlanChange> Plans { get; } = [];

    /// <summary>The context was rebuilt (configuration, nodes or live speakers changed).</summary>
    public PlanContext? NewContext { get; set; }
}

/// <summary>
/// The incremental planner of one node: keeps the plan of every Service in an <see cref="AnnouncementTable"/> and, per
/// change, plans again exactly the Services the change selects: the changed Services themselves, and for a change of the
/// context the Services of the pools whose <see cref="PoolView"/> changed (all of them when this node's own Node object
/// changed, the L2 Services when the nodes or the live speakers changed). The result equals planning every Service from
/// scratch with the same inputs. Not thread-safe: owned by one reconcile loop.
/// </summary>
/// <param name="loadBalancerClass">--lb-class: the class of the Services to plan; null: Services without a class.</param>
/// <param name="ignoreExcludeLabel">--ignore-exclude-lb.</param>
public sealed class NodePlanner(string nodeName, string? loadBalancerClass = null, bool ignoreExcludeLabel = false)
{
    private const string NoPool = "";
    private const int LargeChange = 10_000;

    private readonly Dictionary<string, HashSet<string>> _servicesByPool = new(StringComparer.Ordinal);

    public string NodeName { get; } = nodeName;

    public PlanContext? Context { get; private set; }

    public AnnouncementTable Table { get; } = new();

    /// <param name="contextMayHaveChanged">The configuration, the nodes or the live speakers may have changed.</param>
    /// <param name="services">Services whose own inputs (object, endpoints, addresses) may have changed.</param>
    public PlanDelta Apply(PlanInputs inputs, bool contextMayHaveChanged, IEnumerable<string> services)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(services);
        var delta = new PlanDelta();
        var dirty = new HashSet<string>(services, StringComparer.Ordinal);
        if (Context is null || contextMayHaveChanged)
        {
            var context = new PlanContext(inputs.Config, NodeName, inputs.Nodes, inputs.LiveSpeakers, loadBalancerClass, ignoreExcludeLabel);
            SelectAffected(Context, context, inputs, dirty);
            if (Context is null || !Context.Peers.SequenceEqual(context.Peers))
                delta.Peers = context.Peers;
            Context = context;
            delta.NewContext = context;
        }
        foreach (var service in dirty)
        {
            var plan = inputs.Services.TryGetValue(service, out var info)
                ? Planner.Plan(Context, info, inputs.Addresses(service), inputs.Endpoints(service))
                : null;
            var before = Table.Plans.GetValueOrDefault(service);
            if (Equals(before, plan))
                continue;
            delta.L2Changed |= Table.Set(service, plan, delta.Routes);
            Index(service, before, remove: true);
            Index(service, plan, remove: false);
            delta.Plans.Add(new PlanChange(service, before, plan));
        }
        if (delta.Plans.Count > LargeChange)
            Table.TrimExcess();
        return delta;
    }

    private void SelectAffected(PlanContext? before, PlanContext after, PlanInputs inputs, HashSet<string> dirty)
    {
        if (before is null || !Equals(before.Node, after.Node) || before.LoadBalancerClass != after.LoadBalancerClass)
        {
            dirty.UnionWith(inputs.Services.Keys);
            dirty.UnionWith(Table.Plans.Keys);
            return;
        }
        var changedPools = before.Pools.Select(p => p.Pool.Name).Union(after.Pools.Select(p => p.Pool.Name))
            .Where(name => !Equals(before.Pool(name), after.Pool(name)))
            .ToList();
        if (changedPools.Count > 0)
            changedPools.Add(NoPool); // an address in no pool may now be in one
        if (!before.SameL2World(after))
            changedPools.AddRange(before.Pools.Concat(after.Pools).Where(p => !p.L2.IsEmpty).Select(p => p.Pool.Name));
        foreach (var pool in changedPools)
        {
            if (_servicesByPool.TryGetValue(pool, out var members))
                dirty.UnionWith(members);
        }
    }

    private void Index(string service, ServicePlan? plan, bool remove)
    {
        foreach (var address in plan?.Addresses ?? [])
        {
            var pool = address.Pool ?? NoPool;
            if (remove)
            {
                if (_servicesByPool.TryGetValue(pool, out var members) && members.Remove(service) && members.Count == 0)
                    _servicesByPool.Remove(pool);
            }
            else
            {
                if (!_servicesByPool.TryGetValue(pool, out var members))
                    _servicesByPool[pool] = members = new HashSet<string>(StringComparer.Ordinal);
                members.Add(service);
            }
        }
    }
}
