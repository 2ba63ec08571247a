namespace BgpLb.Planning.Tests;

/// <summary>Every reason code the planner gives, each built on purpose, and which of them mean that no node announces.</summary>
public sealed class ReasonTests
{
    private const string Base = """
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: { name: v4 }
        spec: { addresses: [203.0.113.0/28] }
        ---
        apiVersion: metallb.io/v1beta2
        kind: BGPPeer
        metadata: { name: tor }
        spec: { myASN: 64513, peerASN: 64512, peerAddress: 198.18.0.1, nodeSelectors: [{ matchLabels: { rack: r1 } }] }
        ---
        apiVersion: v1
        kind: Node
        metadata: { name: node-a, labels: { rack: r1 } }
        ---
        apiVersion: v1
        kind: Node
        metadata: { name: node-b, labels: { rack: r2 } }
        ---

        """;

    private static string Bgp(string spec = "{}") => $"apiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: {{ name: ad }}\nspec: {spec}\n---\n";

    private static string L2(string spec = "{}") => $"apiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata: {{ name: l2 }}\nspec: {spec}\n---\n";

    private static string Service(string ip = "203.0.113.1", string policy = "Cluster", string extra = "") => $$"""
        apiVersion: v1
        kind: Service
        metadata: { name: web, namespace: default, labels: { tier: front } }
        spec: { type: LoadBalancer, externalTrafficPolicy: {{policy}}{{extra}} }
        status: { loadBalancer: { ingress: [{ ip: "{{ip}}" }] } }
        ---

        """;

    private static string Endpoints(string node) => $$"""
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: { name: web-{{node}}, namespace: default, labels: { kubernetes.io/service-name: web } }
        addressType: IPv4
        endpoints: [{ addresses: [10.0.0.1], nodeName: {{node}}, conditions: { ready: true } }]
        ---

        """;

    private static string Node(string name, string labels = "{}", string status = "{}") =>
        $"apiVersion: v1\nkind: Node\nmetadata: {{ name: {name}, labels: {labels} }}\nstatus: {status}\n---\n";

    private static AddressPlan Decision(string yaml, string node = "node-a", string[]? alive = null, bool ignoreExcludeLabel = false) =>
        Assert.Single(TestCluster.From(yaml).Plan(node, alive is null ? null : TestCluster.Set(alive), ignoreExcludeLabel: ignoreExcludeLabel)
            .PlanOf("default/web").Addresses);

    private static BgpDecision BgpOf(string yaml, string node = "node-a", bool ignoreExcludeLabel = false) =>
        Decision(yaml, node, ignoreExcludeLabel: ignoreExcludeLabel).Bgp ?? throw new Xunit.Sdk.XunitException("no BGP decision");

    private static L2Decision L2Of(string yaml, string node, params string[] alive) =>
        Decision(yaml, node, alive).L2 ?? throw new Xunit.Sdk.XunitException("no L2 decision");

    [Fact]
    public void Announced() =>
        Assert.Equal(new BgpDecision(AnnounceReason.Announced, "announced", ["tor"]), BgpOf(Base + Bgp() + Service() + Endpoints("node-a")));

    [Fact]
    public void AddressNotInPool()
    {
        var decision = Decision(Base + Bgp() + Service("192.0.2.1") + Endpoints("node-a"));
        Assert.Equal((AnnounceReason.AddressNotInPool, AnnounceReason.AddressNotInPool), (decision.Bgp!.Reason, decision.Unannounced));
    }

    [Fact]
    public void NoAdvertisementForPool()
    {
        var decision = Decision(Base + Service() + Endpoints("node-a"));
        Assert.Equal((AnnounceReason.NoAdvertisementForPool, "no BGPAdvertisement or L2Advertisement selects pool 'v4'"), (decision.Bgp!.Reason, decision.Bgp.Detail));
        Assert.Equal(AnnounceReason.NoAdvertisementForPool, decision.Unannounced);
    }

    [Fact]
    public void ServiceNotSelected_by_BGP_or_L2_advertisements()
    {
        var bgp = Decision(Base + Bgp("{ serviceSelectors: [{ matchLabels: { tier: back } }] }") + Service() + Endpoints("node-a"));
        Assert.Equal((AnnounceReason.ServiceNotSelected, AnnounceReason.ServiceNotSelected), (bgp.Bgp!.Reason, bgp.Unannounced));
        Assert.Contains("'v4'", bgp.Bgp.Detail, StringComparison.Ordinal);

        var l2 = Decision(Base + L2("{ serviceSelectors: [{ matchLabels: { tier: back } }] }") + Service() + Endpoints("node-a"));
        Assert.Null(l2.Bgp);
        Assert.Equal((AnnounceReason.ServiceNotSelected, AnnounceReason.ServiceNotSelected), (l2.L2!.Reason, l2.Unannounced));
    }

    [Fact]
    public void NodeNotSelected_may_be_announced_elsewhere()
    {
        var decision = Decision(Base + Bgp("{ nodeSelectors: [{ matchLabels: { rack: r2 } }] }") + Service() + Endpoints("node-a"));
        Assert.Equal(AnnounceReason.NodeNotSelected, decision.Bgp!.Reason);
        Assert.Null(decision.Unannounced);
    }

    [Fact]
    public void NodeExcluded_unless_the_label_is_ignored()
    {
        var yaml = Base + Node("node-a", "{ rack: r1, node.kubernetes.io/exclude-from-external-load-balancers: '' }") + Bgp() + Service() + Endpoints("node-a");
        var excluded = Decision(yaml);
        Assert.Equal((AnnounceReason.NodeExcluded, null), (excluded.Bgp!.Reason, excluded.Unannounced));
        Assert.True(BgpOf(yaml, ignoreExcludeLabel: true).Announced);
    }

    [Fact]
    public void NodeNetworkUnavailable_even_when_the_exclude_label_is_ignored()
    {
        var yaml = Base + Node("node-a", "{ rack: r1 }", "{ conditions: [{ type: NetworkUnavailable, status: 'True' }] }") + Bgp() + Service() + Endpoints("node-a");
        Assert.Equal(AnnounceReason.NodeNetworkUnavailable, BgpOf(yaml, ignoreExcludeLabel: true).Reason);
    }

    [Fact]
    public void NoReadyEndpoint_holds_for_every_node()
    {
        var decision = Decision(Base + Bgp() + Service());
        Assert.Equal((AnnounceReason.NoReadyEndpoint, AnnounceReason.NoReadyEndpoint), (decision.Bgp!.Reason, decision.Unannounced));
        // Even from a node that is not selected: the reason every node shares comes first.
        Assert.Equal(AnnounceReason.NoReadyEndpoint, BgpOf(Base + Bgp("{ nodeSelectors: [{ matchLabels: { rack: r2 } }] }") + Service()).Reason);
    }

    [Fact]
    public void NoLocalReadyEndpoint_in_BGP_is_this_nodes_own()
    {
        var decision = Decision(Base + Bgp() + Service(policy: "Local") + Endpoints("node-b"));
        Assert.Equal((AnnounceReason.NoLocalReadyEndpoint, null), (decision.Bgp!.Reason, decision.Unannounced));
    }

    [Fact]
    public void NoPeerForNode()
    {
        var decision = BgpOf(Base + Bgp() + Service() + Endpoints("node-b"), "node-b");
        Assert.Equal((AnnounceReason.NoPeerForNode, "BGPAdvertisements ad reach none of this node's BGPPeers"), (decision.Reason, decision.Detail));
    }

    [Fact]
    public void ConflictingLocalPref()
    {
        var yaml = Base + Bgp("{ ipAddressPools: [v4], localPref: 200 }")
            + Bgp("{ ipAddressPools: [v4], localPref: 100, aggregationLength: 28, aggregationLengthV6: 124 }").Replace("name: ad", "name: ad2", StringComparison.Ordinal)
            + Service() + Endpoints("node-a");
        Assert.Equal(AnnounceReason.ConflictingLocalPref, BgpOf(yaml).Reason);
    }

    [Fact]
    public void NotElected_names_the_owner_and_is_announced_elsewhere()
    {
        var yaml = Base + L2() + Service() + Endpoints("node-a");
        var owner = Assert.Single(new[] { "node-a", "node-b" }, n => L2Of(yaml, n, "node-a", "node-b").Announced);
        var other = owner == "node-a" ? "node-b" : "node-a";
        var decision = Decision(yaml, other, ["node-a", "node-b"]);
        Assert.Equal((owner, AnnounceReason.NotElected, $"node {owner} is the elected owner"), (decision.L2!.Owner, decision.L2.Reason, decision.L2.Detail));
        Assert.Null(decision.Unannounced);
    }

    [Fact]
    public void SpeakerNotLive_when_no_node_is_eligible()
    {
        var decision = Decision(Base + L2() + Service() + Endpoints("node-a"), "node-a", []);
        Assert.Equal((null, AnnounceReason.SpeakerNotLive), (decision.L2!.Owner, decision.L2.Reason));
        Assert.Equal(AnnounceReason.SpeakerNotLive, decision.Unannounced);
    }

    [Fact]
    public void L2_NodeNotSelected_and_NoLocalReadyEndpoint_when_no_node_is_eligible()
    {
        var unselected = L2Of(Base + L2("{ nodeSelectors: [{ matchLabels: { rack: r2 } }] }") + Service() + Endpoints("node-a"), "node-a", "node-a");
        Assert.Equal((null, AnnounceReason.NodeNotSelected), (unselected.Owner, unselected.Reason));

        var local = L2Of(Base + L2() + Service(policy: "Local") + Endpoints("node-b"), "node-a", "node-a");
        Assert.Equal((null, AnnounceReason.NoLocalReadyEndpoint), (local.Owner, local.Reason));
    }

    [Fact]
    public void L2_NoReadyEndpoint() =>
        Assert.Equal(AnnounceReason.NoReadyEndpoint, L2Of(Base + L2() + Service(), "node-a", "node-a").Reason);

    [Fact]
    public void Services_of_another_class_are_not_planned_unless_it_is_ours()
    {
        var cluster = TestCluster.From(Base + Bgp() + Service(extra: ", loadBalancerClass: example.com/lb") + Endpoints("node-a"));
        Assert.Empty(cluster.Plan("node-a").Table.Plans);
        Assert.True(Assert.Single(cluster.Plan("node-a", loadBalancerClass: "example.com/lb").PlanOf("default/web").Addresses).Bgp!.Announced);
        Assert.Empty(cluster.Plan("node-a", loadBalancerClass: "other").Table.Plans);
    }
}
