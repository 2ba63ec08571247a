using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace BgpLb.Planning.Tests;

/// <summary>The L2 half of the planner (MetalLB's layer2 controller), on configurations read from YAML.</summary>
public sealed class L2PlanningTests
{
    private static readonly string[] AllNodes = ["node-a", "node-b", "node-c"];

    private const string Nodes = """
        apiVersion: v1
        kind: Node
        metadata: { name: node-a, labels: { zone: z1 } }
        status: { addresses: [{ type: InternalIP, address: 198.18.1.1 }] }
        ---
        apiVersion: v1
        kind: Node
        metadata: { name: node-b, labels: { zone: z2 } }
        status: { addresses: [{ type: InternalIP, address: 198.18.1.2 }] }
        ---
        apiVersion: v1
        kind: Node
        metadata: { name: node-c, labels: { zone: z2, node.kubernetes.io/exclude-from-external-load-balancers: "" } }
        ---

        """;

    private const string Pools = """
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: { name: l2 }
        spec: { addresses: [203.0.113.0/28, "2001:db8::/124"] }
        ---
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: { name: bgp-only }
        spec: { addresses: [198.51.100.0/28] }
        ---

        """;

    private static string Advertisement(string name, string spec) => $$"""
        apiVersion: metallb.io/v1beta1
        kind: L2Advertisement
        metadata: { name: {{name}} }
        spec: {{spec}}
        ---

        """;

    private static string Service(string name, string ips, string policy = "Cluster", string labels = "{}") => $$"""
        apiVersion: v1
        kind: Service
        metadata: { name: {{name}}, namespace: default, labels: {{labels}} }
        spec: { type: LoadBalancer, externalTrafficPolicy: {{policy}}, ports: [{ port: 80, protocol: TCP }] }
        status: { loadBalancer: { ingress: [{{ips}}] } }
        ---

        """;

    private static string Endpoints(string service, string node) => $$"""
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: { name: {{service}}-{{node}}, namespace: default, labels: { kubernetes.io/service-name: {{service}} } }
        addressType: IPv4
        endpoints: [{ addresses: [10.0.0.1], nodeName: {{node}}, conditions: { ready: true } }]
        ---

        """;

    /// <summary>Independent statement of MetalLB's tie-break: sha256(node#ip) bytewise ascending.</summary>
    private static string[] HashOrder(IEnumerable<string> nodes, string ip) =>
        [.. nodes.OrderBy(n => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(n + "#" + ip))), StringComparer.Ordinal)];

    private static NodePlanner PlanOn(TestCluster cluster, string node, params string[] alive) => cluster.Plan(node, TestCluster.Set(alive));

    private static L2Decision L2Of(NodePlanner planner, string service) =>
        Assert.Single(planner.PlanOf(service).Addresses).L2 ?? throw new Xunit.Sdk.XunitException($"{service} has no L2 decision");

    [Fact]
    public void Exactly_the_elected_node_announces_and_the_others_name_it()
    {
        var cluster = TestCluster.From(Nodes + Pools + Advertisement("ad", "{}") + Service("web", "{ ip: 203.0.113.1 }") + Endpoints("web", "node-a"));
        var expected = HashOrder(["node-a", "node-b"], "203.0.113.1")[0];

        foreach (var node in AllNodes)
        {
            var planner = PlanOn(cluster, node, AllNodes);
            var decision = L2Of(planner, "default/web");
            Assert.Equal(expected, decision.Owner);
            Assert.Equal(node == expected, decision.Announced);
            Assert.Equal(node == expected ? AnnounceReason.Announced : AnnounceReason.NotElected, decision.Reason);
            Assert.Equal(node == expected ? [IPAddress.Parse("203.0.113.1")] : [], planner.Answers().Select(a => a.Address));
        }
    }

    [Fact]
    public void A_dead_owner_hands_over_to_the_next_node_in_order()
    {
        var cluster = TestCluster.From(Nodes + Pools + Advertisement("ad", "{}") + Service("web", "{ ip: 203.0.113.1 }") + Endpoints("web", "node-a"));
        var order = HashOrder(["node-a", "node-b"], "203.0.113.1");

        var withoutFirst = L2Of(PlanOn(cluster, order[1], order[1]), "default/web");
        Assert.Equal((order[1], true), (withoutFirst.Owner, withoutFirst.Announced));

        var nobody = L2Of(PlanOn(cluster, "node-c", "node-c"), "default/web");
        Assert.Equal((null, AnnounceReason.NodeExcluded), (nobody.Owner, nobody.Reason));
    }

    [Fact]
    public void Excluded_nodes_and_nodes_outside_the_node_selectors_are_never_elected()
    {
        var cluster = TestCluster.From(Nodes + Pools + Advertisement("ad", "{ nodeSelectors: [{ matchLabels: { zone: z2 } }] }")
            + Service("web", "{ ip: 203.0.113.1 }") + Endpoints("web", "node-a"));
        // node-a is outside the selector and node-c is excluded: node-b is the only candidate whatever the hashes say.
        Assert.Equal("node-b", L2Of(PlanOn(cluster, "node-a", AllNodes), "default/web").Owner);
        Assert.True(L2Of(PlanOn(cluster, "node-b", AllNodes), "default/web").Announced);
        Assert.Equal(("node-b", false), (L2Of(PlanOn(cluster, "node-c", AllNodes), "default/web").Owner, PlanOn(cluster, "node-c", AllNodes).Answers().Length > 0));
    }

    [Fact]
    public void NetworkUnavailable_nodes_are_never_elected()
    {
        var cluster = TestCluster.From(Nodes + Pools + Advertisement("ad", "{}") + Service("web", "{ ip: 203.0.113.1 }") + Endpoints("web", "node-a"));
        var winner = HashOrder(["node-a", "node-b"], "203.0.113.1")[0];
        cluster.Apply($$"""
            apiVersion: v1
            kind: Node
            metadata: { name: {{winner}}, labels: { zone: z1 } }
            status: { conditions: [{ type: NetworkUnavailable, status: "True" }] }
            """);
        var other = winner == "node-a" ? "node-b" : "node-a";
        Assert.Equal(other, L2Of(PlanOn(cluster, winner, AllNodes), "default/web").Owner);
    }

    [Fact]
    public void Local_policy_elects_among_nodes_with_a_serving_endpoint_and_Cluster_needs_one_anywhere()
    {
        var local = TestCluster.From(Nodes + Pools + Advertisement("ad", "{}") + Service("web", "{ ip: 203.0.113.1 }", "Local") + Endpoints("web", "node-b"));
        Assert.Equal("node-b", L2Of(PlanOn(local, "node-a", AllNodes), "default/web").Owner);

        var localNone = TestCluster.From(Nodes + Pools + Advertisement("ad", "{}") + Service("web", "{ ip: 203.0.113.1 }", "Local"));
        Assert.Equal(AnnounceReason.NoReadyEndpoint, L2Of(PlanOn(localNone, "node-a", AllNodes), "default/web").Reason);

        var cluster = TestCluster.From(Nodes + Pools + Advertisement("ad", "{}") + Service("web", "{ ip: 203.0.113.1 }"));
        Assert.Equal(new L2Decision(null, AnnounceReason.NoReadyEndpoint, "the Service has no ready endpoint (EndpointSlice) on any node", []), L2Of(PlanOn(cluster, "node-a", AllNodes), "default/web"));
    }

    [Fact]
    public void Preferred_node_selectors_outweigh_the_hash()
    {
        var order = HashOrder(["node-a", "node-b"], "203.0.113.1");
        var loser = order[1];
        var zone = loser == "node-a" ? "z1" : "z2";
        var cluster = TestCluster.From(Nodes + Pools
            + Advertisement("ad", $$"""{ preferredNodeSelectors: [{ weight: 10, preference: { matchLabels: { zone: {{zone}} } } }] }""")
            + Service("web", "{ ip: 203.0.113.1 }") + Endpoints("web", "node-a"));
        Assert.Equal(loser, L2Of(PlanOn(cluster, "node-a", AllNodes), "default/web").Owner);
    }

    [Fact]
    public void All_addresses_of_a_Service_follow_the_election_on_its_first_address()
    {
        var cluster = TestCluster.From(Nodes + Pools + Advertisement("ad", "{}")
            + Service("dual", """{ ip: 203.0.113.2 }, { ip: "2001:db8::2" }""") + Endpoints("dual", "node-a"));
        var order = HashOrder(["node-a", "node-b"], "203.0.113.2");
        var owner = PlanOn(cluster, order[0], AllNodes);
        Assert.Equal([IPAddress.Parse("2001:db8::2"), IPAddress.Parse("203.0.113.2")], owner.Answers().Select(a => a.Address));
        Assert.All(owner.PlanOf("default/dual").Addresses, a => Assert.Equal(order[0], a.L2!.Owner));
        Assert.Empty(PlanOn(cluster, order[1], AllNodes).Answers());
    }

    [Fact]
    public void Interfaces_are_the_union_over_advertisements_and_an_unrestricted_one_means_all()
    {
        var owner = HashOrder(["node-a", "node-b"], "203.0.113.1")[0];
        var restricted = TestCluster.From(Nodes + Pools + Advertisement("a1", "{ interfaces: [eth1] }") + Advertisement("a2", "{ interfaces: [eth0, eth1] }")
            + Service("web", "{ ip: 203.0.113.1 }") + Endpoints("web", "node-a"));
        var answer = Assert.Single(PlanOn(restricted, owner, AllNodes).Answers());
        Assert.Equal(["eth0", "eth1"], answer.Interfaces.ToArray());

        var open = TestCluster.From(Nodes + Pools + Advertisement("a1", "{ interfaces: [eth1] }") + Advertisement("a2", "{}")
            + Service("web", "{ ip: 203.0.113.1 }") + Endpoints("web", "node-a"));
        Assert.Empty(Assert.Single(PlanOn(open, owner, AllNodes).Answers()).Interfaces);
    }

    [Fact]
    public void Services_outside_L2_pools_get_no_L2_decision_and_the_ones_outside_service_selectors_say_why()
    {
        var cluster = TestCluster.From(Nodes + Pools + Advertisement("ad", "{ ipAddressPools: [l2], serviceSelectors: [{ matchLabels: { l2: yes } }] }")
            + Service("bgp", "{ ip: 198.51.100.1 }") + Endpoints("bgp", "node-a")
            + Service("unlabelled", "{ ip: 203.0.113.3 }") + Endpoints("unlabelled", "node-a")
            + Service("labelled", "{ ip: 203.0.113.4 }", labels: "{ l2: \"yes\" }") + Endpoints("labelled", "node-a"));
        var planner = PlanOn(cluster, "node-a", AllNodes);
        Assert.Equal(["default/labelled"], planner.Table.Plans.Values.Where(p => p.Addresses.Any(a => a.L2 is { Announced: true })).Select(p => p.Service));
        Assert.Equal(AnnounceReason.ServiceNotSelected, Assert.Single(planner.PlanOf("default/unlabelled").Addresses).L2!.Reason);
        Assert.Null(Assert.Single(planner.PlanOf("default/bgp").Addresses).L2);

        var noL2 = PlanOn(TestCluster.From(Nodes + Pools + Service("web", "{ ip: 203.0.113.1 }") + Endpoints("web", "node-a")), "node-a", AllNodes);
        Assert.All(noL2.Decisions(), d => Assert.Null(d.L2));
        Assert.Empty(noL2.Answers());
    }

    [Fact]
    public void A_node_without_a_Node_object_still_takes_part_in_elections()
    {
        var cluster = TestCluster.From(Pools + Advertisement("ad", "{}") + Service("web", "{ ip: 203.0.113.1 }") + Endpoints("web", "lonely"));
        var decision = L2Of(PlanOn(cluster, "lonely", "lonely"), "default/web");
        Assert.Equal(("lonely", true), (decision.Owner, decision.Announced));
    }

    [Fact]
    public void Nodes_carry_the_InternalIP_the_L2_speakers_reach_each_other_at()
    {
        // The speaker's membership peers with every other node that has an InternalIP (SpeakerReconciler.OtherSpeakers).
        var cluster = TestCluster.From(Nodes + Pools);
        Assert.Equal(
            [("node-a", (IPAddress?)IPAddress.Parse("198.18.1.1")), ("node-b", IPAddress.Parse("198.18.1.2")), ("node-c", null)],
            cluster.State.Nodes.Values.OrderBy(n => n.Name, StringComparer.Ordinal).Select(n => (n.Name, n.InternalAddress)));
    }
}
