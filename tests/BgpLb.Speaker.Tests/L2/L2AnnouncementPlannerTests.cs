using BgpLb.Allocation;
using System.Collections.Immutable;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using BgpLb.Config;
using BgpLb.Speaker.L2;

namespace BgpLb.Speaker.Tests.L2;

public sealed class L2AnnouncementPlannerTests
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

    private static BgpLbConfig Config(string yaml)
    {
        var parsed = ManifestParser.Parse("test.yaml", yaml, new ConfigOptions());
        var update = new ConfigCompiler(new ConfigOptions()).Compile(new ResourceSnapshot([.. parsed.Resources], [.. parsed.Errors], []));
        Assert.False(update.HasErrors, string.Join(" | ", update.Errors));
        return update.Config;
    }

    /// <summary>Independent statement of MetalLB's tie-break: sha256(node#ip) bytewise ascending.</summary>
    private static string[] HashOrder(IEnumerable<string> nodes, string ip) =>
        [.. nodes.OrderBy(n => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(n + "#" + ip))), StringComparer.Ordinal)];

    private static L2Plan PlanOn(BgpLbConfig config, string node, params string[] alive) =>
        L2AnnouncementPlanner.Plan(config, node,
            config.Services.ToDictionary(ServiceRequests.KeyOf, s => ServiceHelpers.ExistingAddresses(s).ToImmutableArray()), alive.ToHashSet());

    [Fact]
    public void Exactly_the_elected_node_announces_and_the_others_name_it()
    {
        var config = Config(Nodes + Pools + Advertisement("ad", "{}") + Service("web", "{ ip: 203.0.113.1 }") + Endpoints("web", "node-a"));
        var expected = HashOrder(["node-a", "node-b"], "203.0.113.1")[0];

        foreach (var node in AllNodes)
        {
            var plan = PlanOn(config, node, AllNodes);
            var decision = Assert.Single(plan.Addresses);
            Assert.Equal(expected, decision.Owner);
            Assert.Equal(node == expected, decision.Announced);
            Assert.Equal(node == expected ? 1 : 0, plan.Announcements.Length);
        }
    }

    [Fact]
    public void A_dead_owner_hands_over_to_the_next_node_in_order()
    {
        var config = Config(Nodes + Pools + Advertisement("ad", "{}") + Service("web", "{ ip: 203.0.113.1 }") + Endpoints("web", "node-a"));
        var order = HashOrder(["node-a", "node-b"], "203.0.113.1");

        var withoutFirst = PlanOn(config, order[1], order[1]);
        Assert.Equal(order[1], Assert.Single(withoutFirst.Addresses).Owner);
        Assert.True(withoutFirst.Addresses[0].Announced);

        var nobody = PlanOn(config, "node-c", "node-c");
        Assert.Null(Assert.Single(nobody.Addresses).Owner);
        Assert.Equal("no live eligible node", nobody.Addresses[0].Reason);
    }

    [Fact]
    public void Excluded_nodes_and_nodes_outside_the_node_selectors_are_never_elected()
    {
        var config = Config(Nodes + Pools + Advertisement("ad", "{ nodeSelectors: [{ matchLabels: { zone: z2 } }] }")
            + Service("web", "{ ip: 203.0.113.1 }") + Endpoints("web", "node-a"));
        // node-a is outside the selector and node-c is excluded: node-b is the only candidate whatever the hashes say.
        Assert.Equal("node-b", Assert.Single(PlanOn(config, "node-a", AllNodes).Addresses).Owner);
        Assert.True(Assert.Single(PlanOn(config, "node-b", AllNodes).Addresses).Announced);
    }

    [Fact]
    public void Local_policy_elects_among_nodes_with_a_serving_endpoint_and_Cluster_needs_one_anywhere()
    {
        var local = Config(Nodes + Pools + Advertisement("ad", "{}") + Service("web", "{ ip: 203.0.113.1 }", "Local") + Endpoints("web", "node-b"));
        Assert.Equal("node-b", Assert.Single(PlanOn(local, "node-a", AllNodes).Addresses).Owner);

        var localNone = Config(Nodes + Pools + Advertisement("ad", "{}") + Service("web", "{ ip: 203.0.113.1 }", "Local"));
        Assert.Contains("Local", Assert.Single(PlanOn(localNone, "node-a", AllNodes).Addresses).Reason, StringComparison.Ordinal);

        var cluster = Config(Nodes + Pools + Advertisement("ad", "{}") + Service("web", "{ ip: 203.0.113.1 }"));
        var decision = Assert.Single(PlanOn(cluster, "node-a", AllNodes).Addresses);
        Assert.Null(decision.Owner);
        Assert.Equal("no serving endpoint", decision.Reason);
    }

    [Fact]
    public void Preferred_node_selectors_outweigh_the_hash()
    {
        var order = HashOrder(["node-a", "node-b"], "203.0.113.1");
        var loser = order[1];
        var zone = loser == "node-a" ? "z1" : "z2";
        var config = Config(Nodes + Pools
            + Advertisement("ad", $$"""{ preferredNodeSelectors: [{ weight: 10, preference: { matchLabels: { zone: {{zone}} } } }] }""")
            + Service("web", "{ ip: 203.0.113.1 }") + Endpoints("web", "node-a"));
        Assert.Equal(loser, Assert.Single(PlanOn(config, "node-a", AllNodes).Addresses).Owner);
    }

    [Fact]
    public void All_addresses_of_a_Service_follow_the_election_on_its_first_address()
    {
        var config = Config(Nodes + Pools + Advertisement("ad", "{}")
            + Service("dual", """{ ip: 203.0.113.2 }, { ip: "2001:db8::2" }""") + Endpoints("dual", "node-a"));
        var owner = HashOrder(["node-a", "node-b"], "203.0.113.2")[0];
        var plan = PlanOn(config, owner, AllNodes);
        Assert.Equal([IPAddress.Parse("203.0.113.2"), IPAddress.Parse("2001:db8::2")], plan.Announcements.Select(a => a.Address));
    }

    [Fact]
    public void Interfaces_are_the_union_over_advertisements_and_an_unrestricted_one_means_all()
    {
        var restricted = Config(Nodes + Pools + Advertisement("a1", "{ interfaces: [eth1] }") + Advertisement("a2", "{ interfaces: [eth0, eth1] }")
            + Service("web", "{ ip: 203.0.113.1 }") + Endpoints("web", "node-a"));
        var owner = HashOrder(["node-a", "node-b"], "203.0.113.1")[0];
        Assert.Equal(["eth0", "eth1"], Assert.Single(PlanOn(restricted, owner, AllNodes).Announcements).Interfaces.ToArray());

        var open = Config(Nodes + Pools + Advertisement("a1", "{ interfaces: [eth1] }") + Advertisement("a2", "{}")
            + Service("web", "{ ip: 203.0.113.1 }") + Endpoints("web", "node-a"));
        Assert.Empty(Assert.Single(PlanOn(open, owner, AllNodes).Announcements).Interfaces);
    }

    [Fact]
    public void Services_outside_L2_pools_or_service_selectors_are_not_planned()
    {
        var config = Config(Nodes + Pools + Advertisement("ad", "{ ipAddressPools: [l2], serviceSelectors: [{ matchLabels: { l2: yes } }] }")
            + Service("bgp", "{ ip: 198.51.100.1 }") + Endpoints("bgp", "node-a")
            + Service("unlabelled", "{ ip: 203.0.113.3 }") + Endpoints("unlabelled", "node-a")
            + Service("labelled", "{ ip: 203.0.113.4 }", labels: "{ l2: \"yes\" }") + Endpoints("labelled", "node-a"));
        var plan = PlanOn(config, "node-a", AllNodes);
        Assert.Equal("default/labelled", Assert.Single(plan.Addresses).Service);
        Assert.Empty(PlanOn(Config(Nodes + Pools + Service("web", "{ ip: 203.0.113.1 }")), "node-a", AllNodes).Addresses);
    }

    [Fact]
    public void Peers_are_the_other_nodes_with_an_InternalIP()
    {
        var peers = L2AnnouncementPlanner.Peers(Config(Nodes + Pools), "node-a");
        Assert.Equal(new Dictionary<string, IPAddress> { ["node-b"] = IPAddress.Parse("198.18.1.2") }, peers);
    }
}
