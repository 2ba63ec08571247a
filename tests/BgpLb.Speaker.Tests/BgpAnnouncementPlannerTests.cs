using System.Collections.Immutable;
using System.Net;
using BgpLb.Allocation;
using BgpLb.Bgp;
using BgpLb.Config;
using BgpLb.Speaker.Bgp;
using k8s.Models;

namespace BgpLb.Speaker.Tests;

public sealed class BgpAnnouncementPlannerTests
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

    private static BgpLbConfig Config(string yaml)
    {
        var parsed = ManifestParser.Parse("test.yaml", yaml, new ConfigOptions());
        var update = new ConfigCompiler(new ConfigOptions()).Compile(
            new ResourceSnapshot([.. parsed.Resources], [.. parsed.Errors], []));
        Assert.False(update.HasErrors, string.Join(" | ", update.Errors));
        return update.Config;
    }

    /// <summary>Plans with the addresses the Services carry in status, as the in-process allocator keeps them.</summary>
    private static BgpPlan Plan(BgpLbConfig config, string node) =>
        BgpAnnouncementPlanner.Plan(config, node, config.Services.ToDictionary(ServiceRequests.KeyOf, s => ServiceHelpers.ExistingAddresses(s).ToImmutableArray()));

    private static Route[] RoutesTo(BgpPlan plan, string peer) =>
        [.. plan.Peers.Single(p => p.Config.Name == peer).Routes.OrderBy(r => r.Prefix.ToString())];

    [Fact]
    public void Cluster_policy_announces_host_routes_with_the_advertisement_attributes()
    {
        var config = Config(Base + """
            apiVersion: metallb.io/v1beta1
            kind: BGPAdvertisement
            metadata: { name: ad }
            spec: { communities: ["64513:100", "large:64513:1:2"] }
            ---

            """ + Service("web", "203.0.113.1") + Service("web6", "2001:db8:100::1") + Endpoints("web", "node-b") + Endpoints("web6", "node-b"));

        var plan = Plan(config, "node-a");

        var routes = RoutesTo(plan, "tor");
        Assert.Equal([IPNetwork.Parse("2001:db8:100::1/128"), IPNetwork.Parse("203.0.113.1/32")], routes.Select(r => r.Prefix));
        Assert.All(routes, r => Assert.Equal([64513u << 16 | 100], r.Attributes.Communities.ToArray()));
        Assert.All(routes, r => Assert.Equal([new BgpLb.Bgp.LargeCommunity(64513, 1, 2)], r.Attributes.LargeCommunities.ToArray()));
        Assert.All(plan.Addresses, d => Assert.True(d.Announced, d.Reason));
        var peer = plan.Peers.Single().Config;
        Assert.Equal((IPAddress.Parse("198.18.0.1"), 64513u, (uint?)64512u, TimeSpan.FromSeconds(9), "node-a"),
            (peer.Address, peer.LocalAsn, peer.PeerAsn, peer.HoldTime, peer.Hostname));
    }

    [Fact]
    public void Planning_the_same_configuration_twice_gives_equal_decisions()
    {
        // The speaker logs only decisions absent from the previous plan: equal plans must compare equal, peers included.
        var config = Config(Base + "apiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: { name: ad }\n---\n"
            + Service("web", "203.0.113.1") + Endpoints("web", "node-a"));

        var first = Plan(config, "node-a").Addresses.Single();
        var second = Plan(config, "node-a").Addresses.Single();

        Assert.True(first.Announced);
        Assert.Equal(first, second);
        Assert.NotEqual(first, second with { Peers = ["other"] });
    }

    [Fact]
    public void Ten_thousand_services_with_endpoint_slices_are_all_planned()
    {
        // Each Service must find its EndpointSlices without scanning all of them: 40k x 40k takes about half a minute.
        const int count = 10_000;
        var config = Config(Base + """
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
        var first = BitConverter.ToUInt32([.. IPAddress.Parse("198.19.0.0").GetAddressBytes().Reverse()]);
        config = config with
        {
            Services = [.. Enumerable.Range(0, count).Select(i => new V1Service
            {
                Metadata = new V1ObjectMeta { Name = $"svc-{i}", NamespaceProperty = "default" },
                Spec = new V1ServiceSpec { Type = "LoadBalancer" },
                Status = new V1ServiceStatus { LoadBalancer = new V1LoadBalancerStatus { Ingress =
                    [new V1LoadBalancerIngress { Ip = new IPAddress([.. BitConverter.GetBytes(first + (uint)i).Reverse()]).ToString() }] } },
            })],
            EndpointSlices = [.. Enumerable.Range(0, count).Select(i => new V1EndpointSlice
            {
                Metadata = new V1ObjectMeta
                {
                    Name = $"svc-{i}-a", NamespaceProperty = "default", Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = $"svc-{i}" },
                },
                AddressType = "IPv4",
                Endpoints = [new V1Endpoint { Addresses = ["10.0.0.1"], NodeName = "node-a", Conditions = new V1EndpointConditions { Ready = true } }],
            })],
        };

        var plan = Plan(config, "node-a");

        Assert.Equal(count, plan.Peers.Single().Routes.Count);
        Assert.All(plan.Addresses, d => Assert.True(d.Announced, d.Reason));
    }

    [Fact]
    public void Local_policy_announces_only_from_nodes_with_a_serving_endpoint()
    {
        var config = Config(Base + "apiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: { name: ad }\n---\n"
            + Service("api", "203.0.113.2", "Local") + Endpoints("api", "node-a") + Endpoints("api", "node-b", ready: false));

        Assert.Single(RoutesTo(Plan(config, "node-a"), "tor"));
        var planB = Plan(config, "node-b");
        Assert.Empty(RoutesTo(planB, "tor"));
        Assert.Contains("no serving endpoint on this node", planB.Addresses.Single().Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void No_endpoint_anywhere_means_no_route_and_a_reason()
    {
        var config = Config(Base + "apiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: { name: ad }\n---\n"
            + Service("web", "203.0.113.1") + Endpoints("web", "node-b", ready: false));
        var plan = Plan(config, "node-a");
        Assert.Empty(RoutesTo(plan, "tor"));
        Assert.Equal("no serving endpoint", plan.Addresses.Single().Reason);
    }

    [Fact]
    public void Advertisement_selectors_pick_pools_nodes_and_aggregation()
    {
        var config = Config(Base + """
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

        var planA = Plan(config, "node-a");
        var route = Assert.Single(RoutesTo(planA, "tor"));
        Assert.Equal(IPNetwork.Parse("203.0.113.0/28"), route.Prefix);
        Assert.Equal(200u, route.Attributes.LocalPref);
        Assert.Contains(planA.Addresses, d => !d.Announced && d.Reason.Contains("no BGPAdvertisement selects pool 'v6'", StringComparison.Ordinal));

        Assert.Empty(RoutesTo(Plan(config, "node-b"), "tor"));
    }

    [Fact]
    public void Peer_node_selectors_decide_which_sessions_a_node_opens()
    {
        var config = Config(Base + """
            apiVersion: metallb.io/v1beta2
            kind: BGPPeer
            metadata: { name: rack2-tor }
            spec: { myASN: 64513, peerASN: 64512, peerAddress: 198.18.0.5, nodeSelectors: [{ matchLabels: { rack: r2 } }] }
            ---

            """);
        Assert.Equal(["tor"], Plan(config, "node-a").Peers.Select(p => p.Config.Name));
        Assert.Equal(["rack2-tor", "tor"], Plan(config, "node-b").Peers.Select(p => p.Config.Name).Order());
    }

    [Fact]
    public void Advertisement_peer_list_limits_the_sessions_that_get_the_route()
    {
        var config = Config(Base + """
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
        var plan = Plan(config, "node-a");
        Assert.Empty(RoutesTo(plan, "tor"));
        Assert.Single(RoutesTo(plan, "other"));
        Assert.Equal(["other"], plan.Addresses.Single().Peers.ToArray());
    }

    [Fact]
    public void Two_advertisements_of_one_prefix_union_their_communities()
    {
        var config = Config(Base + """
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
        var route = Assert.Single(RoutesTo(Plan(config, "node-a"), "tor"));
        Assert.Equal([1u << 16 | 1, 2u << 16 | 2], route.Attributes.Communities.ToArray());
    }

    [Fact]
    public void Excluded_node_addresses_outside_pools_and_foreign_classes_are_not_announced()
    {
        var config = Config(Base + "apiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: { name: ad }\n---\n"
            + """
            apiVersion: v1
            kind: Node
            metadata: { name: node-x, labels: { node.kubernetes.io/exclude-from-external-load-balancers: "" } }
            ---
            apiVersion: v1
            kind: Service
            metadata: { name: other-class, namespace: default }
            spec: { type: LoadBalancer, loadBalancerClass: example.com/other }
            status: { loadBalancer: { ingress: [{ ip: 203.0.113.3 }] } }
            ---

            """
            + Service("web", "203.0.113.1") + Service("stray", "192.0.2.1") + Endpoints("web", "node-a") + Endpoints("stray", "node-a"));

        var plan = Plan(config, "node-a");
        Assert.Equal([IPNetwork.Parse("203.0.113.1/32")], RoutesTo(plan, "tor").Select(r => r.Prefix));
        Assert.Contains(plan.Addresses, d => d.Service == "default/stray" && d.Reason == "address is in no IPAddressPool");
        Assert.DoesNotContain(plan.Addresses, d => d.Service == "default/other-class");

        var excluded = Plan(config, "node-x");
        Assert.Empty(RoutesTo(excluded, "tor"));
        Assert.All(excluded.Addresses, d => Assert.Contains("excluded", d.Reason, StringComparison.Ordinal));
    }

    [Fact]
    public void Unknown_node_is_reported_and_L2Advertisements_are_no_longer_flagged_as_unavailable()
    {
        var config = Config(Base + """
            apiVersion: metallb.io/v1beta1
            kind: L2Advertisement
            metadata: { name: l2 }
            ---

            """);
        var plan = Plan(config, "ghost");
        Assert.Contains(plan.Warnings, w => w.Contains("no Node object named 'ghost'", StringComparison.Ordinal));
        Assert.DoesNotContain(plan.Warnings, w => w.Contains("L2Advertisement 'l2'", StringComparison.Ordinal));
    }

    [Fact]
    public void Announces_the_allocated_addresses_not_the_ones_the_service_carries()
    {
        var config = Config(Base + "apiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: { name: ad }\n---\n"
            + Service("web", "203.0.113.1") + Service("api", "203.0.113.2") + Endpoints("web", "node-a") + Endpoints("api", "node-a"));
        var allocated = new Dictionary<string, ImmutableArray<IPAddress>> { ["default/web"] = [IPAddress.Parse("203.0.113.9")] };

        var plan = BgpAnnouncementPlanner.Plan(config, "node-a", allocated);

        Assert.Equal([IPNetwork.Parse("203.0.113.9/32")], RoutesTo(plan, "tor").Select(r => r.Prefix));
        var decision = Assert.Single(plan.Addresses);
        Assert.Equal(("default/web", IPAddress.Parse("203.0.113.9"), true), (decision.Service, decision.Address, decision.Announced));
    }

    [Fact]
    public void Addresses_of_layer2_only_pools_are_left_to_the_l2_planner()
    {
        var config = Config(Base + """
            apiVersion: metallb.io/v1beta1
            kind: L2Advertisement
            metadata: { name: l2 }
            spec: { ipAddressPools: [v4] }
            ---

            """ + Service("web", "203.0.113.1") + Endpoints("web", "node-a"));
        var plan = Plan(config, "node-a");
        Assert.Empty(plan.Addresses);
        Assert.Empty(RoutesTo(plan, "tor"));
    }
}
