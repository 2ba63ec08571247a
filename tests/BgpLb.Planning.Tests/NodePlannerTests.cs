using System.Net;
using BgpLb.Bgp;
using BgpLb.Config;
using static BgpLb.Planning.Tests.PlannerAssertions;

namespace BgpLb.Planning.Tests;

/// <summary>
/// The incremental planner plans again exactly the Services a change selects. Which Services were planned is observed
/// through the addresses delegate, which the planner asks once per Service it plans.
/// </summary>
public sealed class NodePlannerTests
{
    private const string World = """
        apiVersion: v1
        kind: Node
        metadata: { name: node-a, labels: { rack: r1 } }
        ---
        apiVersion: v1
        kind: Node
        metadata: { name: node-b, labels: { rack: r2 } }
        ---
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: { name: p1 }
        spec: { addresses: [203.0.113.0/28] }
        ---
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: { name: p2 }
        spec: { addresses: [198.51.100.0/28] }
        ---
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: { name: l2 }
        spec: { addresses: [192.0.2.0/28] }
        ---
        apiVersion: metallb.io/v1beta2
        kind: BGPPeer
        metadata: { name: tor }
        spec: { myASN: 64513, peerASN: 64512, peerAddress: 198.18.0.1, holdTime: 9s }
        ---
        apiVersion: metallb.io/v1beta1
        kind: L2Advertisement
        metadata: { name: l2 }
        spec: { ipAddressPools: [l2] }
        ---

        """;

    private static string Advertisement(string name, string pool, string community) => $$"""
        apiVersion: metallb.io/v1beta1
        kind: BGPAdvertisement
        metadata: { name: {{name}} }
        spec: { ipAddressPools: [{{pool}}], communities: ["{{community}}"] }
        ---

        """;

    private static string Service(string name, string ip) => $$"""
        apiVersion: v1
        kind: Service
        metadata: { name: {{name}}, namespace: default }
        spec: { type: LoadBalancer }
        status: { loadBalancer: { ingress: [{ ip: {{ip}} }] } }
        ---

        """;

    private static string Endpoints(string service, bool ready = true) => $$"""
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: { name: {{service}}, namespace: default, labels: { kubernetes.io/service-name: {{service}} } }
        addressType: IPv4
        endpoints: [{ addresses: [10.0.0.1], nodeName: node-a, conditions: { ready: {{(ready ? "true" : "false")}} } }]
        ---

        """;

    private static readonly string[] All = ["default/a1", "default/a2", "default/b1", "default/l1", "default/l2"];
    private static readonly string[] L2Services = ["default/l1", "default/l2"];

    private static (TestCluster Cluster, IncrementalNode Node) Start()
    {
        var cluster = TestCluster.From(World + Advertisement("ad1", "p1", "1:1") + Advertisement("ad2", "p2", "2:2")
            + Service("a1", "203.0.113.1") + Service("a2", "203.0.113.2") + Service("b1", "198.51.100.1")
            + Service("l1", "192.0.2.1") + Service("l2", "192.0.2.2")
            + string.Concat(All.Select(s => Endpoints(s["default/".Length..]))));
        var node = new IncrementalNode(cluster, "node-a");
        var first = node.Pass(FullDelta(cluster), TestCluster.Set("node-a", "node-b"));
        Assert.Equal(All, node.Replanned.Order(StringComparer.Ordinal));
        Assert.Equal(All, first.Plans.Select(p => p.Service).Order(StringComparer.Ordinal));
        Assert.Equal(3, node.Planner.RoutesTo("tor").Length);
        return (cluster, node);
    }

    /// <summary>What the first pass of the speaker sees: every Service changed.</summary>
    private static ClusterDelta FullDelta(TestCluster cluster)
    {
        var delta = new ClusterDelta { PreviousConfig = MetalLbConfig.Empty };
        delta.Services.UnionWith(cluster.State.Services.Keys);
        return delta;
    }

    private static IPNetwork Host(string ip) => new(IPAddress.Parse(ip), 32);

    [Fact]
    public void A_Service_change_plans_only_that_Service()
    {
        var (cluster, node) = Start();
        var before = node.Planner.PlanOf("default/a1");

        var delta = node.Pass(cluster.Apply(Service("a1", "203.0.113.5")), TestCluster.Set("node-a", "node-b"));

        Assert.Equal(["default/a1"], node.Replanned);
        var change = Assert.Single(delta.Plans);
        Assert.Equal(("default/a1", before), (change.Service, change.Before));
        Assert.Equal([IPAddress.Parse("203.0.113.5")], change.After!.Addresses.Select(a => a.Address));
        var tor = node.Planner.PeerKeyOf("tor");
        Assert.Equal(
            [new RouteChange(tor, Host("203.0.113.1"), null), new RouteChange(tor, Host("203.0.113.5"), Attributes(null, "1:1"))],
            delta.Routes.OrderBy(r => r.Prefix.ToString(), StringComparer.Ordinal));
        Assert.Null(delta.Peers);
        Assert.Null(delta.NewContext);
        Assert.False(delta.L2Changed);
    }

    [Fact]
    public void An_EndpointSlice_flip_plans_only_its_Service()
    {
        var (cluster, node) = Start();

        var down = node.Pass(cluster.Apply(Endpoints("b1", ready: false)), TestCluster.Set("node-a", "node-b"));
        Assert.Equal(["default/b1"], node.Replanned);
        Assert.Equal(AnnounceReason.NoReadyEndpoint, Assert.Single(Assert.Single(down.Plans).After!.Addresses).Bgp!.Reason);
        Assert.Equal([new RouteChange(node.Planner.PeerKeyOf("tor"), Host("198.51.100.1"), null)], down.Routes);

        var up = node.Pass(cluster.Apply(Endpoints("b1")), TestCluster.Set("node-a", "node-b"));
        Assert.Equal(["default/b1"], node.Replanned);
        Assert.Equal([new RouteChange(node.Planner.PeerKeyOf("tor"), Host("198.51.100.1"), Attributes(null, "2:2"))], up.Routes);
    }

    [Fact]
    public void An_advertisement_change_plans_only_the_Services_of_the_pools_whose_view_changed()
    {
        var (cluster, node) = Start();

        var delta = node.Pass(cluster.Apply(Advertisement("ad1", "p1", "1:2")), TestCluster.Set("node-a", "node-b"));

        Assert.Equal(["default/a1", "default/a2"], node.Replanned.Order(StringComparer.Ordinal));
        Assert.Equal(["default/a1", "default/a2"], delta.Plans.Select(p => p.Service).Order(StringComparer.Ordinal));
        var tor = node.Planner.PeerKeyOf("tor");
        Assert.Equal(
            [new RouteChange(tor, Host("203.0.113.1"), Attributes(null, "1:2")), new RouteChange(tor, Host("203.0.113.2"), Attributes(null, "1:2"))],
            delta.Routes.OrderBy(r => r.Prefix.ToString(), StringComparer.Ordinal));
        Assert.NotNull(delta.NewContext);
        Assert.Null(delta.Peers);

        // An L2Advertisement change concerns the L2 pool only.
        node.Pass(cluster.Apply("""
            apiVersion: metallb.io/v1beta1
            kind: L2Advertisement
            metadata: { name: l2 }
            spec: { ipAddressPools: [l2], interfaces: [eth0] }
            """), TestCluster.Set("node-a", "node-b"));
        Assert.Equal(L2Services, node.Replanned.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_peer_hold_time_change_reports_the_new_peers_and_no_route_change()
    {
        var (cluster, node) = Start();

        var delta = node.Pass(cluster.Apply("""
            apiVersion: metallb.io/v1beta2
            kind: BGPPeer
            metadata: { name: tor }
            spec: { myASN: 64513, peerASN: 64512, peerAddress: 198.18.0.1, holdTime: 30s }
            """), TestCluster.Set("node-a", "node-b"));

        Assert.Equal(TimeSpan.FromSeconds(30), Assert.Single(delta.Peers!.Value).HoldTime);
        Assert.Empty(delta.Routes);
        Assert.Empty(delta.Plans);
        Assert.Empty(node.Replanned);
        Assert.Equal(3, node.Planner.RoutesTo("tor").Length);
    }

    [Fact]
    public void A_change_of_this_nodes_labels_plans_every_Service()
    {
        var (cluster, node) = Start();

        var delta = node.Pass(cluster.Apply("""
            apiVersion: v1
            kind: Node
            metadata: { name: node-a, labels: { rack: r1, zone: z9 } }
            """), TestCluster.Set("node-a", "node-b"));

        Assert.Equal(All, node.Replanned.Order(StringComparer.Ordinal));
        Assert.Empty(delta.Plans); // no selector reads the new label
        Assert.Empty(delta.Routes);
    }

    [Fact]
    public void Live_speaker_and_other_node_changes_plan_the_L2_Services_only()
    {
        var (cluster, node) = Start();

        node.Pass(new ClusterDelta(), TestCluster.Set("node-a"));
        Assert.Equal(L2Services, node.Replanned.Order(StringComparer.Ordinal));

        node.Pass(cluster.Apply("""
            apiVersion: v1
            kind: Node
            metadata: { name: node-b, labels: { rack: r3 } }
            """), TestCluster.Set("node-a"));
        Assert.Equal(L2Services, node.Replanned.Order(StringComparer.Ordinal));

        var nothing = node.Pass(new ClusterDelta(), TestCluster.Set("node-a"));
        Assert.Empty(node.Replanned);
        Assert.Null(nothing.NewContext);
    }

    [Fact]
    public void A_removed_Service_is_withdrawn_and_its_plan_reported_gone()
    {
        var (cluster, node) = Start();
        var before = node.Planner.PlanOf("default/a2");

        var delta = node.Pass(cluster.Remove(new ResourceKey("Service", "default", "a2")), TestCluster.Set("node-a", "node-b"));

        Assert.Equal(new PlanChange("default/a2", before, null), Assert.Single(delta.Plans));
        Assert.Equal([new RouteChange(node.Planner.PeerKeyOf("tor"), Host("203.0.113.2"), null)], delta.Routes);
        Assert.DoesNotContain("default/a2", node.Planner.Table.Plans.Keys);
        Assert.Empty(node.Replanned); // a Service that is gone has no addresses to ask for
    }

    [Fact]
    public void A_route_whose_merged_attributes_do_not_change_is_not_reported()
    {
        // Regression (found by the AnnouncementTable and incremental planning properties): a Service's changed route
        // used to be withdrawn and announced again, two UPDATEs for a route that ends as it was, or, when it was
        // the only contributor, a withdrawal before the new attributes.
        var cluster = TestCluster.From(World + """
            apiVersion: metallb.io/v1beta1
            kind: BGPAdvertisement
            metadata: { name: one }
            spec: { ipAddressPools: [p1], communities: ["1:1"], serviceSelectors: [{ matchLabels: { one: "yes" } }] }
            ---
            apiVersion: metallb.io/v1beta1
            kind: BGPAdvertisement
            metadata: { name: two }
            spec: { ipAddressPools: [p1], communities: ["2:2"], serviceSelectors: [{ matchLabels: { two: "yes" } }] }
            ---

            """ + Shared("a", "{ one: \"yes\" }") + Shared("b", "{ two: \"yes\" }") + Endpoints("a") + Endpoints("b"));
        var node = new IncrementalNode(cluster, "node-a");
        node.Pass(FullDelta(cluster), TestCluster.Set("node-a"));
        var tor = node.Planner.PeerKeyOf("tor");
        Assert.Equal(Attributes(null, "1:1", "2:2"), Assert.Single(node.Planner.Table.RoutesOf(tor)).Attributes);

        // b now contributes 1:1 too; a sorts first and already brings it: the shared route stays as it is.
        var same = node.Pass(cluster.Apply(Shared("b", "{ one: \"yes\", two: \"yes\" }")), TestCluster.Set("node-a"));
        Assert.Equal(["default/b"], same.Plans.Select(p => p.Service));
        Assert.Empty(same.Routes);

        // b alone on its address: one change with the new attributes, no withdrawal first.
        node.Pass(cluster.Remove(new ResourceKey("Service", "default", "a")), TestCluster.Set("node-a"));
        var changed = node.Pass(cluster.Apply(Shared("b", "{ two: \"yes\" }")), TestCluster.Set("node-a"));
        Assert.Equal([new RouteChange(tor, Host("203.0.113.7"), Attributes(null, "2:2"))], changed.Routes);
    }

    private static string Shared(string name, string labels) => $$"""
        apiVersion: v1
        kind: Service
        metadata: { name: {{name}}, namespace: default, labels: {{labels}} }
        spec: { type: LoadBalancer }
        status: { loadBalancer: { ingress: [{ ip: 203.0.113.7 }] } }
        ---

        """;
}
