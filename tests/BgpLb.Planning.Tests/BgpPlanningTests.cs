using System.Net;
using BgpLb.Bgp;
using BgpLb.Config;
using static BgpLb.Planning.Tests.PlannerAssertions;

namespace BgpLb.Planning.Tests;

/// <summary>The BGP half of the planner (MetalLB's speaker ShouldAnnounce and advertisement rules), on configurations read from YAML.</summary>
public sealed class BgpPlanningTests
{
    private const string Base = """
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: { name: v4, labels: { family: v4 } }
        spec: { addresses: [203.0.113.0/28] }
        ---
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: { name: v6 }
        spec: { addresses: ["2001:db8:100::/124"] }
        ---
        apiVersion: metallb.io/v1beta2
        kind: BGPPeer
        metadata: { name: tor }
        spec: { myASN: 64513, peerASN: 64512, peerAddress: 198.18.0.1, holdTime: 9s }
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

    private const string Advertisement = "apiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: { name: ad }\n---\n";

    private static string Service(string name, string ip, string policy = "Cluster", string labels = "{}") => $$"""
        apiVersion: v1
        kind: Service
        metadata: { name: {{name}}, namespace: default, labels: {{labels}} }
        spec: { type: LoadBalancer, externalTrafficPolicy: {{policy}}, ports: [{ port: 80, protocol: TCP }] }
        status: { loadBalancer: { ingress: [{ ip: "{{ip}}" }] } }
        ---

        """;

    private static string Endpoints(string service, string node, bool ready = true) => $$"""
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: { name: {{service}}-{{node}}, namespace: default, labels: { kubernetes.io/service-name: {{service}} } }
        addressType: IPv4
        endpoints: [{ addresses: [10.0.0.1], nodeName: {{node}}, conditions: { ready: {{(ready ? "true" : "false")}} } }]
        ---

        """;

    private static BgpDecision BgpOf(NodePlanner planner, string service) =>
        Assert.Single(planner.PlanOf(service).Addresses).Bgp ?? throw new Xunit.Sdk.XunitException($"{service} has no BGP decision");

    [Fact]
    public void Cluster_policy_announces_host_routes_with_the_advertisement_attributes()
    {
        var cluster = TestCluster.From(Base + """
            apiVersion: metallb.io/v1beta1
            kind: BGPAdvertisement
            metadata: { name: ad }
            spec: { communities: ["64513:100", "large:64513:1:2"] }
            ---

            """ + Service("web", "203.0.113.1") + Service("web6", "2001:db8:100::1") + Endpoints("web", "node-b") + Endpoints("web6", "node-b"));

        var planner = cluster.Plan("node-a");

        var routes = planner.RoutesTo("tor");
        Assert.Equal([IPNetwork.Parse("2001:db8:100::1/128"), IPNetwork.Parse("203.0.113.1/32")], routes.Select(r => r.Prefix));
        Assert.All(routes, r => Assert.Equal([64513u << 16 | 100], r.Attributes.Communities.ToArray()));
        Assert.All(routes, r => Assert.Equal([new BgpLb.Bgp.LargeCommunity(64513, 1, 2)], r.Attributes.LargeCommunities.ToArray()));
        Assert.All(planner.Decisions(), d => Assert.True(d.Bgp!.Announced, d.Bgp.Detail));
        Assert.All(planner.Decisions(), d => Assert.Null(d.L2));
        var peer = Assert.Single(planner.Context!.Peers);
        Assert.Equal((IPAddress.Parse("198.18.0.1"), 64513u, (uint?)64512u, TimeSpan.FromSeconds(9), "node-a"),
            (peer.Address, peer.LocalAsn, peer.PeerAsn, peer.HoldTime, peer.Hostname));
    }

    [Fact]
    public void Enable_graceful_restart_reaches_the_peer_config_without_a_warning()
    {
        var cluster = TestCluster.From(Base.Replace("holdTime: 9s }", "holdTime: 9s, enableGracefulRestart: true }", StringComparison.Ordinal)
            + """
            apiVersion: metallb.io/v1beta2
            kind: BGPPeer
            metadata: { name: plain }
            spec: { myASN: 64513, peerASN: 64512, peerAddress: 198.18.0.5 }
            ---

            """);

        var context = cluster.Plan("node-a").Context!;

        Assert.Equal([("plain", false), ("tor", true)], context.Peers.Select(p => (p.Name, p.GracefulRestart)).OrderBy(p => p.Name, StringComparer.Ordinal));
        Assert.DoesNotContain(context.Warnings, w => w.Contains("GracefulRestart", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void Planning_the_same_configuration_twice_gives_equal_decisions()
    {
        // The speaker logs only decisions that changed: equal plans must compare equal, peers included.
        var cluster = TestCluster.From(Base + Advertisement + Service("web", "203.0.113.1") + Endpoints("web", "node-a"));

        var first = BgpOf(cluster.Plan("node-a"), "default/web");
        var second = BgpOf(cluster.Plan("node-a"), "default/web");

        Assert.True(first.Announced);
        Assert.Equal(first, second);
        Assert.NotEqual(first, second with { Peers = ["other"] });
        Assert.Equal(cluster.Plan("node-a").PlanOf("default/web"), cluster.Plan("node-a").PlanOf("default/web"));
    }

    [Fact]
    public void Ten_thousand_services_with_endpoint_slices_are_all_planned()
    {
        // Each Service must find its endpoints without scanning all slices: 10k x 10k would take many seconds.
        const int count = 10_000;
        var cluster = TestCluster.From(Base + """
            apiVersion: metallb.io/v1beta1
            kind: IPAddressPool
            metadata: { name: big }
            spec: { addresses: [198.19.0.0/16] }
            ---
            apiVersion: metallb.io/v1beta1
            kind: BGPAdvertisement
            metadata: { name: ad }
            spec: { ipAddressPools: [big] }
            """);
        var changes = new List<ResourceChange>(2 * count);
        for (var i = 0; i < count; i++)
        {
            var address = new IPAddress([198, 19, (byte)(i >> 8), (byte)i]);
            changes.Add(new(new ResourceKey("Service", "default", $"svc-{i}"),
                new ServiceInfo { Key = $"default/svc-{i}", Namespace = "default", Ingress = [address] }));
            changes.Add(new(new ResourceKey("EndpointSlice", "default", $"svc-{i}-a"),
                new EndpointSliceInfo($"default/svc-{i}-a", $"default/svc-{i}", true, ["node-a"])));
        }
        cluster.Apply(changes);

        var planner = cluster.Plan("node-a");

        Assert.Equal(count, planner.RoutesTo("tor").Length);
        Assert.Equal(count, planner.Table.Plans.Count);
        Assert.All(planner.Decisions(), d => Assert.True(d.Bgp!.Announced, d.Bgp.Detail));
    }

    [Fact]
    public void Local_policy_announces_only_from_nodes_with_a_serving_endpoint()
    {
        var cluster = TestCluster.From(Base + Advertisement
            + Service("api", "203.0.113.2", "Local") + Endpoints("api", "node-a") + Endpoints("api", "node-b", ready: false));

        Assert.Single(cluster.Plan("node-a").RoutesTo("tor"));
        var planB = cluster.Plan("node-b");
        Assert.Empty(planB.RoutesTo("tor"));
        var decision = BgpOf(planB, "default/api");
        Assert.False(decision.Announced);
        Assert.Equal(AnnounceReason.NoLocalReadyEndpoint, decision.Reason);
    }

    [Fact]
    public void No_endpoint_anywhere_means_no_route_and_a_reason()
    {
        var cluster = TestCluster.From(Base + Advertisement + Service("web", "203.0.113.1") + Endpoints("web", "node-b", ready: false));
        var planner = cluster.Plan("node-a");
        Assert.Empty(planner.RoutesTo("tor"));
        Assert.Equal(AnnounceReason.NoReadyEndpoint, BgpOf(planner, "default/web").Reason);

        // Cluster policy: a serving endpoint on another node is enough.
        cluster.Apply(Endpoints("web", "node-b"));
        Assert.True(BgpOf(cluster.Plan("node-a"), "default/web").Announced);
    }

    [Fact]
    public void Advertisement_selectors_pick_pools_nodes_and_aggregation()
    {
        var cluster = TestCluster.From(Base + """
            apiVersion: metallb.io/v1beta1
            kind: BGPAdvertisement
            metadata: { name: rack1 }
            spec:
              ipAddressPoolSelectors: [{ matchLabels: { family: v4 } }]
              nodeSelectors: [{ matchLabels: { rack: r1 } }]
              aggregationLength: 28
              localPref: 200
            ---

            """ + Service("web", "203.0.113.5") + Service("web6", "2001:db8:100::1") + Endpoints("web", "node-a") + Endpoints("web6", "node-a"));

        var planA = cluster.Plan("node-a");
        var route = Assert.Single(planA.RoutesTo("tor"));
        Assert.Equal(IPNetwork.Parse("203.0.113.0/28"), route.Prefix);
        Assert.Equal(200u, route.Attributes.LocalPref);
        Assert.Equal(AnnounceReason.NoAdvertisementForPool, BgpOf(planA, "default/web6").Reason);

        var planB = cluster.Plan("node-b");
        Assert.Empty(planB.RoutesTo("tor"));
        Assert.Equal(AnnounceReason.NodeNotSelected, BgpOf(planB, "default/web").Reason);
    }

    [Fact]
    public void Aggregated_services_share_one_route_and_it_stays_while_one_of_them_is_announced()
    {
        var cluster = TestCluster.From(Base + """
            apiVersion: metallb.io/v1beta1
            kind: BGPAdvertisement
            metadata: { name: agg }
            spec: { ipAddressPools: [v4], aggregationLength: 28 }
            ---

            """ + Service("a", "203.0.113.1") + Service("b", "203.0.113.9") + Endpoints("a", "node-a") + Endpoints("b", "node-a"));
        var planner = cluster.Plan("node-a");
        Assert.Equal([IPNetwork.Parse("203.0.113.0/28")], planner.RoutesTo("tor").Select(r => r.Prefix));
        Assert.Equal(2, planner.Table.Plans.Values.Sum(p => p.Routes.Length));

        cluster.Apply(Endpoints("a", "node-a", ready: false));
        Assert.Equal([IPNetwork.Parse("203.0.113.0/28")], cluster.Plan("node-a").RoutesTo("tor").Select(r => r.Prefix));
        cluster.Apply(Endpoints("b", "node-a", ready: false));
        Assert.Empty(cluster.Plan("node-a").RoutesTo("tor"));
    }

    [Fact]
    public void Peer_node_selectors_decide_which_sessions_a_node_opens()
    {
        var cluster = TestCluster.From(Base + """
            apiVersion: metallb.io/v1beta2
            kind: BGPPeer
            metadata: { name: rack2-tor }
            spec: { myASN: 64513, peerASN: 64512, peerAddress: 198.18.0.5, nodeSelectors: [{ matchLabels: { rack: r2 } }] }
            ---

            """);
        Assert.Equal(["tor"], cluster.Plan("node-a").Context!.Peers.Select(p => p.Name));
        Assert.Equal(["rack2-tor", "tor"], cluster.Plan("node-b").Context!.Peers.Select(p => p.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Advertisement_peer_list_limits_the_sessions_that_get_the_route()
    {
        var cluster = TestCluster.From(Base + """
            apiVersion: metallb.io/v1beta2
            kind: BGPPeer
            metadata: { name: other }
            spec: { myASN: 64513, peerASN: 64512, peerAddress: 198.18.0.9 }
            ---
            apiVersion: metallb.io/v1beta1
            kind: BGPAdvertisement
            metadata: { name: ad }
            spec: { peers: [other] }
            ---

            """ + Service("web", "203.0.113.1") + Endpoints("web", "node-a"));
        var planner = cluster.Plan("node-a");
        Assert.Empty(planner.RoutesTo("tor"));
        Assert.Single(planner.RoutesTo("other"));
        Assert.Equal(["other"], BgpOf(planner, "default/web").Peers.ToArray());
    }

    [Fact]
    public void An_advertisement_naming_only_peers_this_node_lacks_gives_a_reason()
    {
        var cluster = TestCluster.From(Base + """
            apiVersion: metallb.io/v1beta2
            kind: BGPPeer
            metadata: { name: rack2-tor }
            spec: { myASN: 64513, peerASN: 64512, peerAddress: 198.18.0.5, nodeSelectors: [{ matchLabels: { rack: r2 } }] }
            ---
            apiVersion: metallb.io/v1beta1
            kind: BGPAdvertisement
            metadata: { name: ad }
            spec: { peers: [rack2-tor] }
            ---

            """ + Service("web", "203.0.113.1") + Endpoints("web", "node-a"));
        var decision = BgpOf(cluster.Plan("node-a"), "default/web");
        Assert.Equal(new BgpDecision(AnnounceReason.NoPeerForNode, "BGPAdvertisements ad reach none of this node's BGPPeers", []), decision);
        Assert.Single(cluster.Plan("node-b").RoutesTo("rack2-tor"));
    }

    [Fact]
    public void Two_advertisements_of_one_prefix_union_their_communities()
    {
        var cluster = TestCluster.From(Base + """
            apiVersion: metallb.io/v1beta1
            kind: BGPAdvertisement
            metadata: { name: a }
            spec: { communities: ["1:1"] }
            ---
            apiVersion: metallb.io/v1beta1
            kind: BGPAdvertisement
            metadata: { name: b }
            spec: { communities: ["2:2"] }
            ---

            """ + Service("web", "203.0.113.1") + Endpoints("web", "node-a"));
        var route = Assert.Single(cluster.Plan("node-a").RoutesTo("tor"));
        Assert.Equal([1u << 16 | 1, 2u << 16 | 2], route.Attributes.Communities.ToArray());
        Assert.Null(route.Attributes.LocalPref);
    }

    [Fact]
    public void Advertisements_that_set_different_localPref_for_one_Service_announce_nothing()
    {
        // The webhook lets them through (different aggregation lengths), but one route cannot carry two localPrefs.
        var cluster = TestCluster.From(Base + """
            apiVersion: metallb.io/v1beta1
            kind: BGPAdvertisement
            metadata: { name: high }
            spec: { ipAddressPools: [v4], localPref: 200 }
            ---
            apiVersion: metallb.io/v1beta1
            kind: BGPAdvertisement
            metadata: { name: low }
            spec: { ipAddressPools: [v4], localPref: 100, aggregationLength: 28, aggregationLengthV6: 124 }
            ---

            """ + Service("web", "203.0.113.1") + Endpoints("web", "node-a"));
        var planner = cluster.Plan("node-a");
        Assert.Empty(planner.RoutesTo("tor"));
        var decision = BgpOf(planner, "default/web");
        Assert.False(decision.Announced);
        Assert.Equal((AnnounceReason.ConflictingLocalPref, "BGPAdvertisements high, low set different localPref values"), (decision.Reason, decision.Detail));
    }

    [Fact]
    public void Service_selectors_of_advertisements_pick_the_Services()
    {
        var cluster = TestCluster.From(Base + """
            apiVersion: metallb.io/v1beta1
            kind: BGPAdvertisement
            metadata: { name: ad }
            spec: { serviceSelectors: [{ matchLabels: { expose: bgp } }] }
            ---

            """ + Service("in", "203.0.113.1", labels: "{ expose: bgp }") + Service("out", "203.0.113.2")
            + Endpoints("in", "node-a") + Endpoints("out", "node-a"));
        var planner = cluster.Plan("node-a");
        Assert.Equal([IPNetwork.Parse("203.0.113.1/32")], planner.RoutesTo("tor").Select(r => r.Prefix));
        Assert.Equal(AnnounceReason.ServiceNotSelected, BgpOf(planner, "default/out").Reason);
    }

    [Fact]
    public void Excluded_nodes_addresses_outside_pools_and_foreign_classes_are_not_announced()
    {
        var cluster = TestCluster.From(Base + Advertisement
            + """
            apiVersion: v1
            kind: Node
            metadata: { name: node-x, labels: { node.kubernetes.io/exclude-from-external-load-balancers: "" } }
            ---
            apiVersion: v1
            kind: Node
            metadata: { name: node-y }
            status: { conditions: [{ type: NetworkUnavailable, status: "True" }] }
            ---
            apiVersion: v1
            kind: Service
            metadata: { name: other-class, namespace: default }
            spec: { type: LoadBalancer, loadBalancerClass: example.com/other }
            status: { loadBalancer: { ingress: [{ ip: 203.0.113.3 }] } }
            ---

            """
            + Service("web", "203.0.113.1") + Service("stray", "192.0.2.1") + Endpoints("web", "node-a") + Endpoints("stray", "node-a"));

        var planner = cluster.Plan("node-a");
        Assert.Equal([IPNetwork.Parse("203.0.113.1/32")], planner.RoutesTo("tor").Select(r => r.Prefix));
        Assert.Equal(new BgpDecision(AnnounceReason.AddressNotInPool, "the address is in no IPAddressPool", []), BgpOf(planner, "default/stray"));
        Assert.DoesNotContain("default/other-class", planner.Table.Plans.Keys);

        var excluded = cluster.Plan("node-x");
        Assert.Equal(0, excluded.Table.RouteCount);
        Assert.Equal(AnnounceReason.NodeExcluded, BgpOf(excluded, "default/web").Reason);
        var unavailable = cluster.Plan("node-y");
        Assert.Equal(0, unavailable.Table.RouteCount);
        Assert.Equal(AnnounceReason.NodeNetworkUnavailable, BgpOf(unavailable, "default/web").Reason);
    }

    [Fact]
    public void Unknown_node_is_reported_and_L2Advertisements_are_not_flagged()
    {
        var cluster = TestCluster.From(Base + """
            apiVersion: metallb.io/v1beta1
            kind: L2Advertisement
            metadata: { name: l2 }
            ---

            """);
        var context = cluster.Plan("ghost").Context!;
        Assert.Contains(context.Warnings, w => w.Contains("no Node object named 'ghost'", StringComparison.Ordinal));
        Assert.DoesNotContain(context.Warnings, w => w.Contains("L2Advertisement", StringComparison.Ordinal));
        Assert.DoesNotContain(cluster.Plan("node-a").Context!.Warnings, w => w.Contains("no Node object", StringComparison.Ordinal));
    }

    [Fact]
    public void A_peer_with_a_bfd_profile_gets_its_timers_in_microseconds_and_no_warning()
    {
        var cluster = TestCluster.From(Base.Replace("holdTime: 9s }", "holdTime: 9s, bfdProfile: fast }", StringComparison.Ordinal) + """
            apiVersion: metallb.io/v1beta1
            kind: BFDProfile
            metadata: { name: fast }
            spec: { receiveInterval: 50, transmitInterval: 100, detectMultiplier: 4, passiveMode: true, minimumTtl: 200 }
            ---

            """);
        var context = cluster.Plan("node-a").Context!;
        var bfd = Assert.Single(context.Peers).Bfd;
        Assert.Equal(new BgpLb.Bgp.Bfd.BfdSessionOptions
        {
            RequiredMinRxInterval = 50_000, DesiredMinTxInterval = 100_000, DetectMultiplier = 4, Passive = true, MinimumTtl = 200,
        }, bfd);
        Assert.DoesNotContain(context.Warnings, w => w.Contains("bfd", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void Announces_the_addresses_the_source_gives_not_the_ones_the_service_carries()
    {
        var cluster = TestCluster.From(Base + Advertisement
            + Service("web", "203.0.113.1") + Service("api", "203.0.113.2") + Endpoints("web", "node-a") + Endpoints("api", "node-a"));
        var allocated = new Dictionary<string, ServiceAddresses> { ["default/web"] = new([IPAddress.Parse("203.0.113.9")], "v4") };

        var planner = cluster.Plan("node-a", addresses: allocated.GetValueOrDefault);

        Assert.Equal([IPNetwork.Parse("203.0.113.9/32")], planner.RoutesTo("tor").Select(r => r.Prefix));
        var plan = Assert.Single(planner.Table.Plans.Values);
        var decision = Assert.Single(plan.Addresses);
        Assert.Equal(("default/web", IPAddress.Parse("203.0.113.9"), "v4", true), (plan.Service, decision.Address, decision.Pool, decision.Bgp!.Announced));
    }

    [Fact]
    public void Addresses_of_layer2_only_pools_are_no_BGP_matter()
    {
        var cluster = TestCluster.From(Base + """
            apiVersion: metallb.io/v1beta1
            kind: L2Advertisement
            metadata: { name: l2 }
            spec: { ipAddressPools: [v4] }
            ---

            """ + Service("web", "203.0.113.1") + Service("web6", "2001:db8:100::1") + Endpoints("web", "node-a") + Endpoints("web6", "node-a"));
        var planner = cluster.Plan("node-a");
        Assert.Empty(planner.RoutesTo("tor"));
        var l2Only = Assert.Single(planner.PlanOf("default/web").Addresses);
        Assert.Null(l2Only.Bgp);
        Assert.NotNull(l2Only.L2);
        // A pool that nothing selects is still a BGP matter: it says why it is not announced.
        var unselected = Assert.Single(planner.PlanOf("default/web6").Addresses);
        Assert.Equal(AnnounceReason.NoAdvertisementForPool, unselected.Bgp!.Reason);
        Assert.Null(unselected.L2);
    }

    [Fact]
    public void A_dual_stack_Service_gets_one_route_per_family_each_with_its_own_pool()
    {
        var cluster = TestCluster.From(Base + Advertisement + """
            apiVersion: v1
            kind: Service
            metadata: { name: dual, namespace: default }
            spec: { type: LoadBalancer, ipFamilyPolicy: RequireDualStack, ipFamilies: [IPv4, IPv6] }
            status: { loadBalancer: { ingress: [{ ip: 203.0.113.4 }, { ip: "2001:db8:100::4" }] } }
            ---

            """ + Endpoints("dual", "node-a"));
        var planner = cluster.Plan("node-a");
        Assert.Equal([IPNetwork.Parse("2001:db8:100::4/128"), IPNetwork.Parse("203.0.113.4/32")], planner.RoutesTo("tor").Select(r => r.Prefix));
        Assert.Equal(["v4", "v6"], planner.PlanOf("default/dual").Addresses.Select(a => a.Pool));
        Assert.All(planner.Decisions(), d => Assert.Equal(["tor"], d.Bgp!.Peers.ToArray()));
    }
}
