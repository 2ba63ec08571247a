using System.Collections.Immutable;
using System.Net;
using BgpLb.Bgp;
using BgpLb.Config;

namespace BgpLb.Planning.Tests;

/// <summary>
/// A <see cref="ClusterState"/> fed from YAML through <see cref="ManifestParser"/>, as the daemons build it, and the
/// planners run over it. Addresses are the Services' status ingress and ip-allocated-from-pool annotation, as the
/// speaker's StatusAddresses reads them.
/// </summary>
internal sealed class TestCluster
{
    public static readonly ConfigOptions Options = new();

    private bool _initial = true;

    public ClusterState State { get; } = new(Options);

    /// <summary>A cluster holding the objects of <paramref name="yaml"/>, whose configuration must be free of errors.</summary>
    public static TestCluster From(string yaml)
    {
        var cluster = new TestCluster();
        cluster.Apply(yaml);
        Assert.False(cluster.State.HasErrors, string.Join(" | ", cluster.State.Problems));
        return cluster;
    }

    /// <summary>Adds or replaces the objects of <paramref name="yaml"/> (one batch).</summary>
    public ClusterDelta Apply(string yaml) => Apply(Parse(yaml));

    public ClusterDelta Apply(IEnumerable<ResourceChange> changes)
    {
        var batch = new ResourceBatch { IsInitial = _initial };
        _initial = false;
        batch.Changes.AddRange(changes);
        return State.Apply(batch);
    }

    public ClusterDelta Remove(params ResourceKey[] keys) => Apply(keys.Select(k => new ResourceChange(k, null)));

    /// <summary>The objects of <paramref name="yaml"/>; reading must report no problem.</summary>
    public static List<ResourceChange> Parse(string yaml)
    {
        var parsed = ManifestParser.Parse("test.yaml", yaml, Options);
        Assert.True(parsed.Errors.Count == 0, string.Join(" | ", parsed.Errors));
        return [.. parsed.Objects.Select(o => new ResourceChange(o.Key, o.Value))];
    }

    /// <summary>What the speaker's StatusAddresses answers: status.loadBalancer.ingress and the pool the controller wrote.</summary>
    public ServiceAddresses? StatusAddresses(string service) =>
        State.Services.TryGetValue(service, out var info) && !info.Ingress.IsEmpty ? new ServiceAddresses(info.Ingress, info.AllocatedFromPool) : null;

    public PlanInputs Inputs(IReadOnlySet<string>? alive = null, Func<string, ServiceAddresses?>? addresses = null) =>
        new(State.Config, State.Services, State.EndpointsOf, State.Nodes, alive ?? AllNodesAlive(), addresses ?? StatusAddresses);

    /// <summary>Every node with a Node object is alive (the L2 membership sees them all).</summary>
    public ImmutableSortedSet<string> AllNodesAlive() => [.. State.Nodes.Keys];

    /// <summary>A fresh planner of <paramref name="node"/> that planned every Service once.</summary>
    public NodePlanner Plan(string node, IReadOnlySet<string>? alive = null, Func<string, ServiceAddresses?>? addresses = null,
        string? loadBalancerClass = null, bool ignoreExcludeLabel = false)
    {
        var planner = new NodePlanner(node, loadBalancerClass, ignoreExcludeLabel);
        planner.Apply(Inputs(alive, addresses), contextMayHaveChanged: true, State.Services.Keys);
        return planner;
    }

    public static ImmutableSortedSet<string> Set(params string[] names) => ImmutableSortedSet.Create(StringComparer.Ordinal, names);
}

/// <summary>
/// One long-lived planner driven the way the speaker's reconcile loop drives it: from each <see cref="ClusterDelta"/>,
/// the changed Services and endpoints, and whether the configuration, the nodes or the live speakers may have changed.
/// </summary>
internal sealed class IncrementalNode(TestCluster cluster, string node)
{
    private IReadOnlySet<string> _alive = ImmutableHashSet<string>.Empty;

    public NodePlanner Planner { get; } = new(node);

    /// <summary>The Services the last pass planned again (each asked for its addresses once).</summary>
    public List<string> Replanned { get; } = [];

    /// <summary>A pass as SpeakerReconciler.PassAsync makes it.</summary>
    public PlanDelta Pass(ClusterDelta delta, IReadOnlySet<string> alive)
    {
        var changed = new HashSet<string>(delta.Services, StringComparer.Ordinal);
        changed.UnionWith(delta.Endpoints);
        var contextMayHaveChanged = delta.ConfigChanged || delta.Nodes.Count > 0 || !alive.SetEquals(_alive);
        _alive = alive;
        Replanned.Clear();
        var inputs = cluster.Inputs(alive, s =>
        {
            Replanned.Add(s);
            return cluster.StatusAddresses(s);
        });
        return Planner.Apply(inputs, contextMayHaveChanged, changed);
    }
}

internal static class PlannerAssertions
{
    public static PeerKey PeerKeyOf(this NodePlanner planner, string peer) =>
        Assert.Single(planner.Context!.Peers, p => p.Name == peer).Key;

    /// <summary>The routes towards the BGPPeer named <paramref name="peer"/>, by prefix.</summary>
    public static Route[] RoutesTo(this NodePlanner planner, string peer) =>
        [.. planner.Table.RoutesOf(planner.PeerKeyOf(peer)).OrderBy(r => r.Prefix.ToString(), StringComparer.Ordinal)];

    public static ServicePlan PlanOf(this NodePlanner planner, string service) =>
        Assert.Contains(service, planner.Table.Plans);

    public static IEnumerable<AddressPlan> Decisions(this NodePlanner planner) => planner.Table.Plans.Values.SelectMany(p => p.Addresses);

    public static L2Answer[] Answers(this NodePlanner planner) =>
        [.. planner.Table.L2Answers.OrderBy(a => a.Address.ToString(), StringComparer.Ordinal)];

    public static RouteAttributes Attributes(uint? localPref, params string[] communities) =>
        new(localPref, communities.Select(Community), []);

    public static uint Community(string text)
    {
        var parts = text.Split(':');
        return uint.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture) << 16
            | uint.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    public static string Describe(RouteAttributes? attributes) => attributes is null
        ? "withdrawn"
        : $"localPref={attributes.LocalPref?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"} "
          + $"communities=[{string.Join(',', attributes.Communities.Select(c => $"{c >> 16}:{c & 0xFFFF}"))}] "
          + $"large=[{string.Join(',', attributes.LargeCommunities)}]";

    public static IPAddress IP(string text) => IPAddress.Parse(text);
}
