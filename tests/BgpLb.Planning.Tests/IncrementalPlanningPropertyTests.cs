using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using BgpLb.Bgp;
using BgpLb.Config;
using CsCheck;
using static BgpLb.Planning.Tests.PlannerAssertions;

namespace BgpLb.Planning.Tests;

/// <summary>
/// The property of incremental planning: random sequences of changes to Services, EndpointSlices, pools, BGP and L2
/// advertisements, peers, Nodes and live speakers, applied to a <see cref="ClusterState"/> and then to one long-lived
/// <see cref="NodePlanner"/> the way the speaker's reconcile loop applies them, leave it after every step exactly where a
/// fresh planner applied once to the same inputs ends: every Service's plan (decisions, reasons, routes), the routes
/// towards every peer, the L2 answers and the peers. The route changes it reported along the way replay to the same
/// routes, each of them a real change, and the plan changes it reported are exactly the plans that changed.
/// </summary>
public sealed class IncrementalPlanningPropertyTests
{
    private const string Me = "node-a";
    private const int Sequences = 400;

    private static readonly string[] NodeNames = ["node-a", "node-b", "node-c"];
    private static readonly string[] PoolNames = ["p0", "p1", "p2"];
    private static readonly string[] PeerNames = ["peer0", "peer1"];
    private static readonly string[] ServiceNames = ["s0", "s1", "s2", "s3"];

    private static readonly string[] Blocks = ["198.51.100.0/29", "198.51.100.8/29", "198.51.100.16/29", "2001:db8::/125", "2001:db8::8/125"];

    /// <summary>Each pool's usual blocks or some of them (so that most configurations are valid); rarely any blocks (overlaps are refused).</summary>
    private static readonly int[] HomeBlocks = [0b01001, 0b00010, 0b10100];

    /// <summary>Service addresses: two per /29 of p0 (aggregation and sharing), IPv6, and one in no pool.</summary>
    private static readonly string[] Addresses = ["198.51.100.1", "198.51.100.2", "198.51.100.9", "198.51.100.17", "2001:db8::1", "2001:db8::9", "192.0.2.1"];

    private static readonly ConcurrentDictionary<string, ResourceChange> Parsed = new(StringComparer.Ordinal);

    /// <summary>One object's new version (YAML), or its deletion.</summary>
    public sealed record Change(string Kind, string Name, string? Yaml)
    {
        public ResourceKey Key => new(Kind, Kind switch
        {
            "Node" => "",
            "Service" or "EndpointSlice" => "default",
            _ => TestCluster.Options.MetalLbNamespace,
        }, Name);

        public ResourceChange ToResourceChange()
        {
            if (Yaml is null)
                return new ResourceChange(Key, null);
            var change = Parsed.GetOrAdd(Yaml, y => Assert.Single(TestCluster.Parse(y)));
            Assert.Equal(Key, change.Key);
            return change;
        }

        public override string ToString() => Yaml is null ? $"delete {Kind} {Name}" : Yaml.ReplaceLineEndings(" ").Trim();
    }

    /// <summary>One pass of the reconcile loop: a batch (coalesced by key) and the live speakers; null = unchanged.</summary>
    public sealed record Round(Change[] Changes, string[]? Alive)
    {
        public override string ToString() =>
            $"[{string.Join(" ;; ", Changes.Select(c => c.ToString()))}]{(Alive is null ? "" : $" alive={string.Join(',', Alive)}")}";
    }

    // ---- generators ----

    /// <summary>Usually <paramref name="usual"/> (the choice that lets things be announced), sometimes one of the others.</summary>
    private static Gen<T> Often<T>(T usual, params T[] others) => Gen.Frequency((3, Gen.Const(usual)), (2, Gen.OneOf(others)));

    private static readonly Gen<bool> Rarely = Gen.Frequency((8, Gen.Const(false)), (1, Gen.Const(true)));

    private static string Labels(params (string Key, string? Value)[] labels) =>
        "{ " + string.Join(", ", labels.Where(l => l.Value is not null).Select(l => $"{l.Key}: \"{l.Value}\"")) + " }";

    private static string List(IEnumerable<string> items) => "[" + string.Join(", ", items.Select(i => $"\"{i}\"")) + "]";

    private static Gen<string> GenNode(string name, int index) =>
        Gen.Select(Gen.OneOf<string?>(null, "r1", "r2"), Gen.OneOf<string?>(null, "z1", "z2"), Rarely, Rarely)
            .Select((rack, zone, excluded, unavailable) => $$"""
                apiVersion: v1
                kind: Node
                metadata: { name: {{name}}, labels: {{Labels(("rack", rack), ("zone", zone), (MetalLbNames.ExcludeFromLoadBalancersLabel, excluded ? "" : null))}} }
                status:
                  addresses: [{ type: InternalIP, address: 198.18.1.{{index + 1}} }]
                  conditions: [{ type: NetworkUnavailable, status: "{{(unavailable ? "True" : "False")}}" }]
                """);

    private static Gen<string> GenPool(string name, int index) =>
        Gen.Select(Gen.Frequency(
                    (6, Gen.Const(HomeBlocks[index])),
                    (3, Gen.Int[1, (1 << Blocks.Length) - 1].Select(m => (m & HomeBlocks[index]) is var home && home != 0 ? home : HomeBlocks[index])),
                    (1, Gen.Int[1, (1 << Blocks.Length) - 1])), Gen.OneOf<string?>(null, "gold", "silver"))
            .Select((mask, tier) => $$"""
                apiVersion: metallb.io/v1beta1
                kind: IPAddressPool
                metadata: { name: {{name}}, labels: {{Labels(("tier", tier))}} }
                spec: { addresses: {{List(Blocks.Where((_, i) => (mask & 1 << i) != 0))}} }
                """);

    /// <summary>ipAddressPools / ipAddressPoolSelectors: all pools, some by name, or by label.</summary>
    private static readonly Gen<string> GenPoolSelection = Often(
        "# every pool", "ipAddressPools: [p0]", "ipAddressPools: [p1, p2]", "ipAddressPools: [p2]", "ipAddressPoolSelectors: [{ matchLabels: { tier: gold } }]");

    private static string Selector(string key, string? value) => value is null ? "" : $"[{{ matchLabels: {{ {key}: {value} }} }}]";

    private static Gen<string> GenBgpAdvertisement(string name) =>
        Gen.Select(GenPoolSelection, Often<string?>(null, "r1", "r2"), Rarely.Select(web => web ? "web" : null),
                Often(0, 1, 2, 3), Gen.Select(Often(32, 30, 29), Often(128, 126, 125)), Gen.Int[0, 7], Gen.Frequency((15, Gen.Const(0u)), (1, Gen.Const(100u)), (1, Gen.Const(200u))))
            .Select((pools, rack, app, peers, aggregation, communities, localPref) => $$"""
                apiVersion: metallb.io/v1beta1
                kind: BGPAdvertisement
                metadata: { name: {{name}} }
                spec:
                  {{pools}}
                  nodeSelectors: {{Or(Selector("rack", rack))}}
                  serviceSelectors: {{Or(Selector("app", app))}}
                  peers: {{List(PeerNames.Where((_, i) => (peers & 1 << i) != 0))}}
                  aggregationLength: {{(app is null ? aggregation.Item1 : 32)}}
                  aggregationLengthV6: {{(app is null ? aggregation.Item2 : 128)}}
                  communities: {{List(new[] { "64512:1", "64512:2", "large:64512:1:1" }.Where((_, i) => (communities & 1 << i) != 0))}}
                  localPref: {{localPref}}
                """);

    private static string Or(string selector) => selector.Length == 0 ? "[]" : selector;

    private static Gen<string> GenL2Advertisement(string name) =>
        Gen.Select(GenPoolSelection, Often<string?>(null, "z1", "z2"), Gen.Int[0, 3], Rarely.Select(api => api ? "api" : null), Gen.Bool)
            .Select((pools, zone, interfaces, app, preferred) => $$"""
                apiVersion: metallb.io/v1beta1
                kind: L2Advertisement
                metadata: { name: {{name}} }
                spec:
                  {{pools}}
                  nodeSelectors: {{Or(Selector("zone", zone))}}
                  interfaces: {{List(new[] { "eth0", "eth1" }.Where((_, i) => (interfaces & 1 << i) != 0))}}
                  serviceSelectors: {{Or(Selector("app", app))}}
                  preferredNodeSelectors: {{(preferred ? "[{ weight: 10, preference: { matchLabels: { zone: z2 } } }]" : "[]")}}
                """);

    private static Gen<string> GenPeer(string name, int index) =>
        Gen.Select(Gen.Frequency((6, Gen.Const(index + 1)), (1, Gen.OneOf(1, 2, 3))), Gen.OneOf(64512, 64513), Gen.OneOf("", "holdTime: 9s, ", "holdTime: 30s, "),
                Often<string?>(null, "r1", "r2"))
            .Select((address, peerAsn, holdTime, rack) => $$"""
                apiVersion: metallb.io/v1beta2
                kind: BGPPeer
                metadata: { name: {{name}} }
                spec: { myASN: 64512, peerASN: {{peerAsn}}, peerAddress: 198.18.0.{{address}}, {{holdTime}}nodeSelectors: {{Or(Selector("rack", rack))}} }
                """);

    private static Gen<string> GenService(string name) =>
        Gen.Select(Rarely, Gen.Bool, Gen.OneOf<string?>(null, "web", "api"),
                Gen.Int[0, Addresses.Length - 1].Array[Often(1, 0, 2)], Gen.Frequency((3, Gen.Const((string?)null)), (1, Gen.OneOf<string?>(PoolNames))))
            .Select((foreign, local, app, addresses, pool) => $$"""
                apiVersion: v1
                kind: Service
                metadata:
                  name: {{name}}
                  namespace: default
                  labels: {{Labels(("app", app))}}
                  annotations: {{Labels((MetalLbNames.AllocatedFromPoolAnnotation, pool))}}
                spec: { type: LoadBalancer, externalTrafficPolicy: {{(local ? "Local" : "Cluster")}}{{(foreign ? ", loadBalancerClass: example.com/other" : "")}} }
                status: { loadBalancer: { ingress: [{{string.Join(", ", addresses.Distinct().Select(a => $"{{ ip: \"{Addresses[a]}\" }}"))}}] } }
                """);

    private static readonly Gen<string> GenEndpoint =
        Gen.Select(Often<string?>("node-a", "node-b", "node-c", null), Often("ready: true", "", "ready: false", "ready: false, serving: true"))
            .Select((node, conditions) => $"{{ addresses: [10.0.0.1]{(node is null ? "" : $", nodeName: {node}")}, conditions: {{ {conditions} }} }}");

    private static Gen<string> GenSlice(string name) =>
        Gen.Select(Gen.OneOf(ServiceNames), GenEndpoint.Array[Often(1, 0, 2, 3)])
            .Select((service, endpoints) => $$"""
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: { name: {{name}}, namespace: default, labels: { kubernetes.io/service-name: {{service}} } }
                addressType: IPv4
                endpoints: [{{string.Join(", ", endpoints)}}]
                """);

    private static readonly (string Kind, string Name, Gen<string> Yaml)[] Objects =
    [
        .. NodeNames.Select((n, i) => ("Node", n, GenNode(n, i))),
        .. PoolNames.Select((p, i) => ("IPAddressPool", p, GenPool(p, i))),
        .. new[] { "ad0", "ad1", "ad2" }.Select(a => ("BGPAdvertisement", a, GenBgpAdvertisement(a))),
        .. new[] { "l2a", "l2b" }.Select(a => ("L2Advertisement", a, GenL2Advertisement(a))),
        .. PeerNames.Select((p, i) => ("BGPPeer", p, GenPeer(p, i))),
        .. ServiceNames.Select(s => ("Service", s, GenService(s))),
        .. new[] { "e0", "e1", "e2", "e3", "e4" }.Select(e => ("EndpointSlice", e, GenSlice(e))),
    ];

    private static readonly Gen<Change> GenChange = Gen.Int[0, Objects.Length - 1].SelectMany(i =>
    {
        var (kind, name, yaml) = Objects[i];
        return Gen.Frequency((1, Gen.Const(new Change(kind, name, null))), (6, yaml.Select(y => new Change(kind, name, y))));
    });

    /// <summary>A first batch with a version of every object.</summary>
    private static readonly Gen<Change[]> GenWorld = Objects.Aggregate(Gen.Const(ImmutableList<Change>.Empty),
            (world, o) => Gen.Select(world, o.Yaml).Select((list, yaml) => list.Add(new Change(o.Kind, o.Name, yaml))))
        .Select(list => list.ToArray());

    /// <summary>The live speakers: always this node (the membership counts itself), and any of the others.</summary>
    private static readonly Gen<string[]> GenAlive = Gen.Int[0, 3].Select(mask => (string[])[Me, .. NodeNames.Skip(1).Where((_, i) => (mask & 1 << i) != 0)]);

    private static readonly Gen<Round> GenStep = Gen.Select(GenChange.Array[0, 3], Gen.Frequency((3, Gen.Const((string[]?)null)), (1, GenAlive.Select(a => (string[]?)a))))
        .Select((changes, alive) => new Round(changes, alive));

    private static readonly Gen<(Change[] Initial, string[] Alive, Round[] Steps)> GenScenario =
        Gen.Select(GenWorld, GenAlive, GenStep.Array[1, 20]);

    // ---- the property ----

    [Fact]
    public void Incremental_planning_equals_planning_from_scratch_after_every_step() =>
        GenScenario.Sample((initial, alive, steps) => Run(initial, alive, steps), iter: Sequences, print: Print);

    private static string Print((Change[] Initial, string[] Alive, Round[] Steps) scenario) =>
        $"initial: {new Round(scenario.Initial, scenario.Alive)}\n" + string.Join("\n", scenario.Steps.Select((s, i) => $"step {i + 1}: {s}"));

    /// <summary>Runs a scenario and checks every step.</summary>
    private static void Run(Change[] initial, string[] alive, IEnumerable<Round> steps)
    {
        var cluster = new TestCluster();
        var node = new IncrementalNode(cluster, Me);
        var replay = new Dictionary<PeerKey, Dictionary<IPNetwork, RouteAttributes>>();
        IReadOnlySet<string> live = TestCluster.Set(alive);
        Pass(cluster, node, replay, new Round(initial, alive), ref live, "initial");
        var index = 0;
        foreach (var step in steps)
            Pass(cluster, node, replay, step, ref live, $"step {++index}");
    }

    private static void Pass(TestCluster cluster, IncrementalNode node, Dictionary<PeerKey, Dictionary<IPNetwork, RouteAttributes>> replay,
        Round step, ref IReadOnlySet<string> live, string when)
    {
        // The source coalesces changes by key: the last one counts.
        var batch = step.Changes.GroupBy(c => c.Key).Select(g => g.Last().ToResourceChange());
        var clusterDelta = cluster.Apply(batch);
        if (step.Alive is not null)
            live = TestCluster.Set(step.Alive);

        var table = node.Planner.Table;
        var plansBefore = table.Plans.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        var answersBefore = table.L2Answers.ToHashSet();
        var peersBefore = node.Planner.Context?.Peers;

        var delta = node.Pass(clusterDelta, live);

        var fresh = cluster.Plan(Me, live);
        AssertSamePlanning(node.Planner, fresh, when);

        // The reported plan changes are exactly the plans that changed, each once, from what it was to what it is.
        var changed = plansBefore.Keys.Union(table.Plans.Keys)
            .Where(s => !Equals(plansBefore.GetValueOrDefault(s), table.Plans.GetValueOrDefault(s)))
            .Order(StringComparer.Ordinal);
        Assert.Equal(changed, delta.Plans.Select(p => p.Service).Order(StringComparer.Ordinal));
        foreach (var (service, before, after) in delta.Plans)
        {
            Assert.Equal(plansBefore.GetValueOrDefault(service), before);
            Assert.Equal(table.Plans.GetValueOrDefault(service), after);
        }

        // Peers are reported exactly when they changed; L2 answers that changed are reported as changed.
        var peers = node.Planner.Context!.Peers;
        Assert.Equal(peersBefore is null || !peersBefore.Value.SequenceEqual(peers), delta.Peers is not null);
        if (delta.Peers is { } reported)
            Assert.Equal(peers, reported);
        if (!answersBefore.SetEquals(table.L2Answers))
            Assert.True(delta.L2Changed, $"{when}: the L2 answers changed but the delta does not say so");

        // Every reported route change is a change, and they replay to the routes the table holds. When one Service's plan
        // changed, they are exactly the routes whose attributes differ, each reported once.
        var routesBefore = delta.Plans.Count == 1 ? replay.SelectMany(p => p.Value.Select(r => (Key: (p.Key, r.Key), r.Value))).ToDictionary(r => r.Key, r => r.Value) : null;
        foreach (var change in delta.Routes)
        {
            if (!replay.TryGetValue(change.Peer, out var routes))
                replay[change.Peer] = routes = [];
            var previous = routes.GetValueOrDefault(change.Prefix);
            if (Equals(previous, change.Attributes))
                Assert.Fail($"{when}: {change.Peer} {change.Prefix} reported as {PlannerAssertions.Describe(change.Attributes)}, which it already was");
            if (change.Attributes is null)
                routes.Remove(change.Prefix);
            else
                routes[change.Prefix] = change.Attributes;
        }
        foreach (var peer in replay.Keys.Union(table.PeersWithRoutes).ToList())
            AssertSameRoutes(Routes(table, peer), replay.GetValueOrDefault(peer) ?? [], $"{when}: replayed route changes towards {peer}");
        if (routesBefore is not null)
        {
            var routesAfter = replay.SelectMany(p => p.Value.Select(r => (Key: (p.Key, r.Key), r.Value))).ToDictionary(r => r.Key, r => r.Value);
            var differing = routesBefore.Keys.Union(routesAfter.Keys)
                .Where(k => !Equals(routesBefore.GetValueOrDefault(k), routesAfter.GetValueOrDefault(k)))
                .Select(k => $"{k.Item1} {k.Item2}").Order(StringComparer.Ordinal).ToList();
            var reportedKeys = delta.Routes.Select(r => $"{r.Peer} {r.Prefix}").Order(StringComparer.Ordinal).ToList();
            if (!differing.SequenceEqual(reportedKeys))
                Assert.Fail($"{when}: {delta.Plans[0].Service} changed routes {string.Join("; ", differing)} but reported {string.Join("; ", reportedKeys)}");
        }
    }

    private static Dictionary<IPNetwork, RouteAttributes> Routes(AnnouncementTable table, PeerKey peer) =>
        table.RoutesOf(peer).ToDictionary(r => r.Prefix, r => r.Attributes);

    private static void AssertSamePlanning(NodePlanner incremental, NodePlanner fresh, string when)
    {
        var plans = incremental.Table.Plans;
        var expected = fresh.Table.Plans;
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), plans.Keys.Order(StringComparer.Ordinal));
        foreach (var (service, plan) in expected)
        {
            if (!plan.Equals(plans[service]))
                Assert.Fail($"{when}: plan of {service}\nfrom scratch: {Describe(plan)}\nincremental:  {Describe(plans[service])}");
        }
        if (!fresh.Context!.Peers.SequenceEqual(incremental.Context!.Peers))
            Assert.Fail($"{when}: peers\nfrom scratch: {string.Join(", ", fresh.Context.Peers)}\nincremental:  {string.Join(", ", incremental.Context.Peers)}");
        foreach (var peer in fresh.Table.PeersWithRoutes.Union(incremental.Table.PeersWithRoutes).ToList())
            AssertSameRoutes(Routes(fresh.Table, peer), Routes(incremental.Table, peer), $"{when}: routes towards {peer}");
        Assert.Equal(
            fresh.Table.L2Answers.OrderBy(a => a.Address.ToString(), StringComparer.Ordinal),
            incremental.Table.L2Answers.OrderBy(a => a.Address.ToString(), StringComparer.Ordinal));
        Assert.Equal(fresh.Table.RouteCount, incremental.Table.RouteCount);
    }

    private static void AssertSameRoutes(Dictionary<IPNetwork, RouteAttributes> expected, Dictionary<IPNetwork, RouteAttributes> actual, string what)
    {
        if (expected.Count != actual.Count || expected.Any(e => !actual.TryGetValue(e.Key, out var a) || !a.Equals(e.Value)))
            Assert.Fail($"{what}\nexpected: {Describe(expected)}\nactual:   {Describe(actual)}");
    }

    private static string Describe(Dictionary<IPNetwork, RouteAttributes> routes) =>
        string.Join("; ", routes.OrderBy(r => r.Key.ToString(), StringComparer.Ordinal).Select(r => $"{r.Key} {PlannerAssertions.Describe(r.Value)}"));

    private static string Describe(ServicePlan plan) =>
        string.Join(", ", plan.Addresses) + " routes: "
        + string.Join("; ", plan.Routes.Select(r => $"{r.Peer} {r.Prefix} {PlannerAssertions.Describe(r.Attributes)}"));
}
