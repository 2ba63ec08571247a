using BgpLb.Netlab;

namespace BgpLb.Integration.Tests.Containerlab;

/// <summary>The topology reader of <c>./demo.sh --topology</c>: the shipped files as the lab reads them, and the errors for what it does not honour.</summary>
public sealed class ClabTopologyTests
{
    private static readonly string Examples = Path.Combine(BuiltExecutable.RepositoryRoot(), "examples", "containerlab");

    /// <summary>A topology file in a scratch directory, so that binds resolve there.</summary>
    private static readonly string ScratchFile = Path.Combine(Path.GetTempPath(), "test.clab.yml");

    [Fact]
    public void The_bgp_topology_reads_as_two_routers_three_speakers_and_a_client()
    {
        var topology = ClabTopology.Read(Path.Combine(Examples, "bgp-ecmp.clab.yml"));

        Assert.Equal("clab-bgp-ecmp", topology.TestName);
        Assert.Equal(
            [("tor1", ClabRole.Frr), ("tor2", ClabRole.Bird), ("node1", ClabRole.Speaker), ("node2", ClabRole.Speaker), ("node3", ClabRole.Speaker), ("client", ClabRole.Host)],
            topology.Nodes.Select(n => (n.Name, n.Role)));
        Assert.Equal(7, topology.Links.Count);
        Assert.Equal(Path.Combine(Examples, "bgp-ecmp", "tor1", "frr.conf"), topology.Node("tor1").HostPathOf(ClabTopology.FrrConfig));
        Assert.Equal(Path.Combine(Examples, "bgp-ecmp", "tor2", "bird.conf"), topology.Node("tor2").HostPathOf(ClabTopology.BirdConfig));
        // The speaker's flags and env with the bound container paths replaced by the host's.
        Assert.Equal(["--node", "node1", "--config", Path.Combine(Examples, "bgp-ecmp", "config")], topology.Node("node1").Arguments);
        Assert.Equal("node3", topology.Node("node3").SpeakerNodeName);
        Assert.Equal(Path.Combine(Examples, "bgp-ecmp", "config"), topology.Node("node3").Env["BGPLB_CONFIG"]);
        Assert.Equal([["ip", "addr", "add", "198.18.254.2/30", "dev", "eth1"], ["ip", "route", "add", "203.0.113.0/24", "via", "198.18.254.1"]], topology.Node("client").Exec);
        Assert.Equal(["tor1", "tor2"], topology.LinksOf("node2").Select(l => l.Far.Node));
    }

    [Fact]
    public void The_l2_topology_reads_as_a_bridge_three_speakers_and_a_client()
    {
        var topology = ClabTopology.Read(Path.Combine(Examples, "l2.clab.yml"));

        Assert.Equal(ClabRole.Bridge, topology.Node("br-bgplb").Role);
        Assert.Equal(3, topology.Nodes.Count(n => n.Role == ClabRole.Speaker));
        Assert.Equal(Path.Combine(Examples, "l2", "memberlist.key"), topology.Node("node2").FlagValue("--memberlist-secret-file"));
        Assert.All(topology.Links, l => Assert.Equal("br-bgplb", l.B.Node));
    }

    [Theory]
    [InlineData("[\"a:eth1\", \"beth1\"]", "topology.links[0].endpoints[1]: 'beth1' is not \"node:interface\"")]
    [InlineData("[\"a:eth1\", \"b:eth1:x\"]", "topology.links[0].endpoints[1]: 'b:eth1:x' is not \"node:interface\"")]
    [InlineData("[\"a:eth1\", \"c:eth1\"]", "topology.links[0].endpoints[1]: 'c:eth1': no node 'c' in topology.nodes")]
    [InlineData("[\"a:eth1\", \"b:an-interface-name-too-long\"]", "topology.links[0].endpoints[1]: 'b:an-interface-name-too-long': 'an-interface-name-too-long' is no Linux interface name")]
    [InlineData("[\"a:eth1\"]", "topology.links[0].endpoints: 1 endpoints: a link joins two")]
    public void A_bad_link_endpoint_is_an_error_naming_the_link_and_the_endpoint(string endpoints, string expected)
    {
        var error = ReadError($$"""
            name: t
            topology:
              nodes:
                a: { kind: linux, image: alpine:3.20 }
                b: { kind: linux, image: alpine:3.20 }
              links:
                - endpoints: {{endpoints}}
            """);
        Assert.StartsWith("test.clab.yml: " + expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_endpoint_used_twice_is_an_error() =>
        Assert.Equal("test.clab.yml: topology.links[1].endpoints: a:eth1 is already the end of another link", ReadError("""
            name: t
            topology:
              nodes:
                a: { kind: linux, image: alpine:3.20 }
                b: { kind: linux, image: alpine:3.20 }
              links:
                - endpoints: ["a:eth1", "b:eth1"]
                - endpoints: ["a:eth1", "b:eth2"]
            """));

    [Theory]
    [InlineData("nokia_srlinux", "'nokia_srlinux' is not honoured: the lab runs kinds linux and bridge")]
    [InlineData("ovs-bridge", "'ovs-bridge' is not honoured: the lab runs kinds linux and bridge")]
    public void An_unsupported_kind_is_an_error_naming_the_node(string kind, string expected) =>
        Assert.Equal($"test.clab.yml: topology.nodes.a.kind: {expected}", NodeError($"kind: {kind}", "image: ghcr.io/nokia/srlinux"));

    [Theory]
    [InlineData("ports: [\"8080:80\"]", "topology.nodes.a.ports: not honoured by the lab")]
    [InlineData("startup-config: r1.cfg", "topology.nodes.a.startup-config: not honoured by the lab")]
    [InlineData("mgmt-ipv4: 172.20.20.2", "topology.nodes.a.mgmt-ipv4: not honoured by the lab")]
    [InlineData("entrypoint: /bin/sh", "topology.nodes.a.entrypoint: not honoured by the lab")]
    [InlineData("cmd: sleep infinity", "topology.nodes.a.cmd: not honoured for image alpine:3.20")]
    public void A_node_field_the_lab_does_not_honour_is_an_error_naming_the_node_and_the_field(string field, string expected) =>
        Assert.StartsWith($"test.clab.yml: {expected}", NodeError("kind: linux", "image: alpine:3.20", field), StringComparison.Ordinal);

    [Theory]
    [InlineData("mgmt: { network: lab }", "mgmt: not honoured by the lab")]
    [InlineData("prefix: lab", "prefix: not honoured by the lab")]
    public void A_top_level_field_the_lab_does_not_honour_is_an_error(string field, string expected) =>
        Assert.StartsWith($"test.clab.yml: {expected}", ReadError($$"""
            name: t
            {{field}}
            topology:
              nodes:
                a: { kind: linux, image: alpine:3.20 }
            """), StringComparison.Ordinal);

    [Fact]
    public void Link_addresses_are_refused_because_containerlab_sets_none_on_linux_nodes() =>
        Assert.StartsWith("test.clab.yml: topology.links[0].ipv4: not honoured by the lab", ReadError("""
            name: t
            topology:
              nodes:
                a: { kind: linux, image: alpine:3.20 }
                b: { kind: linux, image: alpine:3.20 }
              links:
                - endpoints: ["a:eth1", "b:eth1"]
                  ipv4: ["198.18.0.1/30", "198.18.0.2/30"]
            """), StringComparison.Ordinal);

    [Theory]
    [InlineData("cmd: --log-level debug", "topology.nodes.a.cmd: bgplb-speaker needs --node NAME (in cmd) or BGPLB_NODE (in env)")]
    [InlineData("cmd: --node a --config /etc/bgplb/config", "topology.nodes.a.cmd: /etc/bgplb/config is not under a bind")]
    [InlineData("cmd: --node a --config=/etc/bgplb/config", "topology.nodes.a.cmd: /etc/bgplb/config is not under a bind")]
    [InlineData("env: { BGPLB_NODE: a, BGPLB_CONFIG: /etc/bgplb/config }", "topology.nodes.a.env.BGPLB_CONFIG: /etc/bgplb/config is not under a bind")]
    [InlineData("cmd: --node 's", "topology.nodes.a.cmd: '--node 's': unbalanced ' quote")]
    public void A_speaker_without_its_node_or_reading_unbound_files_is_an_error(string field, string expected) =>
        Assert.StartsWith($"test.clab.yml: {expected}", NodeError("kind: linux", "image: registry.example/bgplb:0.1.0", field), StringComparison.Ordinal);

    [Theory]
    [InlineData("quay.io/frrouting/frr:8.4.2", "topology.nodes.a.binds: an FRR node needs its configuration bound at /etc/frr/frr.conf")]
    [InlineData("bgplb-bird:2.0.12", "topology.nodes.a.binds: a BIRD node needs its configuration bound at /etc/bird/bird.conf")]
    public void A_router_without_its_bound_configuration_is_an_error(string image, string expected) =>
        Assert.Equal($"test.clab.yml: {expected}", NodeError("kind: linux", $"image: \"{image}\""));

    [Fact]
    public void A_bind_of_a_missing_file_is_an_error_naming_it() =>
        Assert.StartsWith(
            "test.clab.yml: topology.nodes.a.binds[0]: no-such-dir/frr.conf does not exist",
            NodeError("kind: linux", "image: frrouting/frr:v8.4.1", "binds: [\"no-such-dir/frr.conf:/etc/frr/frr.conf\"]"),
            StringComparison.Ordinal);

    [Fact]
    public void A_topology_name_the_lab_cannot_name_namespaces_after_is_an_error() =>
        Assert.StartsWith("test.clab.yml: name: 'Bad_Name': the lab names its namespaces after it", ReadError("""
            name: Bad_Name
            topology:
              nodes:
                a: { kind: linux, image: alpine:3.20 }
            """), StringComparison.Ordinal);

    [Fact]
    public void A_node_name_the_lab_cannot_name_a_namespace_after_is_an_error() =>
        Assert.StartsWith("test.clab.yml: topology.nodes.Node_1: the lab names a namespace", ReadError("""
            name: t
            topology:
              nodes:
                Node_1: { kind: linux, image: alpine:3.20 }
            """), StringComparison.Ordinal);

    [Theory]
    [InlineData("name: t\n---\nname: u\n", "test.clab.yml: 2 YAML documents: a topology file holds one")]
    [InlineData("name: [t\n", "test.clab.yml:2: ")]
    [InlineData("- name: t\n", "test.clab.yml: the file: must be a mapping")]
    [InlineData("name: t\n", "test.clab.yml: topology: missing")]
    public void A_file_that_is_not_one_topology_mapping_is_an_error(string yaml, string expected) =>
        Assert.StartsWith(expected, ReadError(yaml), StringComparison.Ordinal);

    [Theory]
    [InlineData("alpine:3.20", ClabRole.Host)]
    [InlineData("quay.io/frrouting/frr:8.4.2", ClabRole.Frr)]
    [InlineData("frrouting/frr@sha256:0123", ClabRole.Frr)]
    [InlineData("pierky/bird:2.0.11", ClabRole.Bird)]
    [InlineData("bgplb-bird:2.0.12", ClabRole.Bird)]
    [InlineData("registry.example:5000/bgplb:0.1.0", ClabRole.Speaker)]
    [InlineData("bgplb-speaker:latest", ClabRole.Speaker)]
    [InlineData("bgplb-controller:latest", ClabRole.Host)]
    public void The_role_comes_from_the_images_name(string image, ClabRole role) => Assert.Equal(role, ClabTopology.RoleOf(image));

    [Fact]
    public void Exec_lines_split_into_words_as_containerlab_splits_them() =>
        Assert.Equal(["sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward", "it's"], ClabTopology.SplitWords("sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward' \"it's\""));

    /// <summary>The error for a topology of one node, "a", with <paramref name="lines"/> under it.</summary>
    private static string NodeError(params string[] lines) =>
        ReadError("name: t\ntopology:\n  nodes:\n    a:\n" + string.Concat(lines.Select(l => $"      {l}\n")));

    private static string ReadError(string yaml) =>
        Assert.Throws<ClabTopologyException>(() => ClabTopology.Parse(yaml, ScratchFile)).Message;
}
