using System.Net;
using static BgpLb.Config.Tests.TestConfig;

namespace BgpLb.Config.Tests;

public class ValidationTests
{
    private const string BasePools = """
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: {name: base, namespace: metallb-system, labels: {pool: base}}
        spec: {addresses: [203.0.113.0/24]}
        ---
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: {name: base6, namespace: metallb-system}
        spec: {addresses: ["2001:db8:100::/120"]}
        ---

        """;

    private static string PeerWith(string extra) => Peer("bad", GoodPeerSpec + "\n" + extra);

    private static string SecretOf(string name, string type, string data, string ns = "metallb-system") =>
        $"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {ns}\ntype: {type}\n{data}\n---\n";

    public static TheoryData<string, string, string, string, string> Rejections => new()
    {
        // IPAddressPool
        { Pool("bad", "[]"), "IPAddressPool", "bad", "spec.addresses", "no addresses" },
        { Crd("IPAddressPool", "bad", "autoAssign: true"), "IPAddressPool", "bad", "spec.addresses", "no addresses" },
        { Pool("bad", "[203.0.113.0/33]"), "IPAddressPool", "bad", "spec.addresses[0]", "invalid CIDR" },
        { Pool("bad", "[203.0.113.0/28, 198.51.100.9-198.51.100.1]"), "IPAddressPool", "bad", "spec.addresses[1]", "start is after end" },
        { Pool("bad", "[203.0.113.0/28, 203.0.113.0-203.0.113.3]"), "IPAddressPool", "bad", "spec.addresses[1]", "'203.0.113.0-203.0.113.3' overlaps with 203.0.113.0/28 in the same pool" },
        { Pool("a", "[203.0.113.0/24]") + Pool("bad", "[198.51.100.0/24, 203.0.113.128/25]"), "IPAddressPool", "bad", "spec.addresses[1]", "overlaps with 203.0.113.0/24 in IPAddressPool a" },
        { Pool("a", "['2001:db8::/64']") + Pool("bad", "['2001:db8::5-2001:db8::9']"), "IPAddressPool", "bad", "spec.addresses[0]", "overlaps with 2001:db8::/64" },
        { Pool("bad", "[203.0.113.0/28]", "  serviceAllocation: {namespaces: [a, b, a]}"), "IPAddressPool", "bad", "spec.serviceAllocation.namespaces[2]", "duplicate namespace 'a'" },
        { Pool("bad", "[203.0.113.0/28]", "  serviceAllocation: {serviceSelectors: [{matchExpressions: [{key: app, operator: Is, values: [x]}]}]}"), "IPAddressPool", "bad", "spec.serviceAllocation.serviceSelectors[0].matchExpressions[0].operator", "unknown operator 'Is'" },
        { Pool("bad", "[203.0.113.0/28]", "  serviceAllocation: {namespaceSelectors: [{matchLabels: {a: b}}, {matchLabels: {a: b}}]}"), "IPAddressPool", "bad", "spec.serviceAllocation.namespaceSelectors[1]", "duplicate selector 'a=b'" },
        { Pool("bad", "[203.0.113.0/28]", $"  serviceAllocation: {{serviceSelectors: [{{matchLabels: {{app: {new string('x', 64)}}}}}]}}"), "IPAddressPool", "bad", "spec.serviceAllocation.serviceSelectors[0].matchLabels.app", "label value is 64 characters, more than Kubernetes' limit of 63" },
        { Pool("bad", "[203.0.113.0/28]", $"  serviceAllocation: {{serviceSelectors: [{{matchExpressions: [{{key: app, operator: In, values: [a, {new string('x', 64)}]}}]}}]}}"), "IPAddressPool", "bad", "spec.serviceAllocation.serviceSelectors[0].matchExpressions[0]", "label value is 64 characters" },
        { Pool("bad", "[203.0.113.0/28]", $"  serviceAllocation: {{serviceSelectors: [{{matchExpressions: [{{key: {new string('k', 64)}, operator: Exists}}]}}]}}"), "IPAddressPool", "bad", "spec.serviceAllocation.serviceSelectors[0].matchExpressions[0]", "label key is longer than Kubernetes' limit" },
        { Pool("bad", "[203.0.113.0/28]") + Pool("bad", "[198.51.100.0/28]"), "IPAddressPool", "bad", "metadata.name", "duplicate object" },

        // BGPPeer
        { Peer("bad", "peerASN: 64512\npeerAddress: 198.18.0.1"), "BGPPeer", "bad", "spec.myASN", "myASN is missing or 0" },
        { Peer("bad", "myASN: 0\npeerASN: 64512\npeerAddress: 198.18.0.1"), "BGPPeer", "bad", "spec.myASN", "myASN is missing or 0" },
        { PeerWith("dynamicASN: external"), "BGPPeer", "bad", "spec.peerASN", "exactly one of peerASN and dynamicASN" },
        { Peer("bad", "myASN: 64513\npeerAddress: 198.18.0.1"), "BGPPeer", "bad", "spec.peerASN", "exactly one of peerASN and dynamicASN" },
        { Peer("bad", "myASN: 64513\ndynamicASN: sideways\npeerAddress: 198.18.0.1"), "BGPPeer", "bad", "spec.dynamicASN", "'internal' or 'external'" },
        { PeerWith("interface: eth0"), "BGPPeer", "bad", "spec.peerAddress", "exactly one of peerAddress and interface" },
        { Peer("bad", "myASN: 64513\npeerASN: 64512"), "BGPPeer", "bad", "spec.peerAddress", "exactly one of peerAddress and interface" },
        { Peer("bad", "myASN: 64513\npeerASN: 64512\ninterface: eth0"), "BGPPeer", "bad", "spec.interface", "not supported yet" },
        { Peer("bad", "myASN: 64513\npeerASN: 64512\npeerAddress: 198.18.0"), "BGPPeer", "bad", "spec.peerAddress", "invalid IP address '198.18.0'" },
        { PeerWith("sourceAddress: host-a"), "BGPPeer", "bad", "spec.sourceAddress", "invalid IP address" },
        { PeerWith("routerID: '2001:db8::1'"), "BGPPeer", "bad", "spec.routerID", "must be an IPv4 address" },
        { PeerWith("peerPort: 0"), "BGPPeer", "bad", "spec.peerPort", "out of range" },
        { PeerWith("peerPort: 65536"), "BGPPeer", "bad", "spec.peerPort", "out of range" },
        { Peer("bad", "myASN: 64512\npeerASN: 64512\npeerAddress: 198.18.0.1\nebgpMultiHop: true"), "BGPPeer", "bad", "spec.ebgpMultiHop", "iBGP" },
        { Peer("bad", "myASN: 64512\ndynamicASN: internal\npeerAddress: 198.18.0.1\nebgpMultiHop: true"), "BGPPeer", "bad", "spec.ebgpMultiHop", "iBGP" },
        { PeerWith("holdTime: 2s"), "BGPPeer", "bad", "spec.holdTime", "holdTime 2s must be 0 or at least 3s" },
        { PeerWith("holdTime: 2999ms"), "BGPPeer", "bad", "spec.holdTime", "holdTime 2.999s must be 0 or at least 3s" },
        { PeerWith("holdTime: -5s"), "BGPPeer", "bad", "spec.holdTime", "must be 0 or at least 3s" },
        { PeerWith("keepaliveTime: 500ms"), "BGPPeer", "bad", "spec.keepaliveTime", "keepaliveTime 500ms implies holdTime 1.5s, but holdTime must be 0 or at least 3s" },
        { PeerWith("holdTime: 9s\nkeepaliveTime: 10s"), "BGPPeer", "bad", "spec.keepaliveTime", "keepaliveTime 10s must not be negative or greater than holdTime 9s" },
        { PeerWith("holdTime: 0s\nkeepaliveTime: 1s"), "BGPPeer", "bad", "spec.keepaliveTime", "greater than holdTime" },
        { PeerWith("holdTime: 90"), "BGPPeer", "bad", "spec.holdTime", "invalid value: expected a string" },
        { PeerWith("holdTime: 90x"), "BGPPeer", "bad", "spec.holdTime", "invalid duration '90x'" },
        { Peer("bad", "myASN: -1\npeerASN: 64512\npeerAddress: 198.18.0.1"), "BGPPeer", "bad", "spec.myASN", "expected a number 0..4294967295" },
        { PeerWith("keepaliveTime: soon"), "BGPPeer", "bad", "spec.keepaliveTime", "invalid duration 'soon'" },
        { PeerWith("connectTime: 0s"), "BGPPeer", "bad", "spec.connectTime", "whole seconds between 1s and 65535s" },
        { PeerWith("connectTime: 1500ms"), "BGPPeer", "bad", "spec.connectTime", "whole seconds" },
        { PeerWith("connectTime: 65536s"), "BGPPeer", "bad", "spec.connectTime", "whole seconds" },
        { SecretOf("md5", "kubernetes.io/basic-auth", "stringData: {password: x}") + PeerWith("password: x\npasswordSecret: {name: md5}"), "BGPPeer", "bad", "spec.passwordSecret", "cannot both be set" },
        { PeerWith("passwordSecret: {name: md5}"), "BGPPeer", "bad", "spec.passwordSecret", "Secret metallb-system/md5 does not exist" },
        { SecretOf("md5", "Opaque", "stringData: {password: x}") + PeerWith("passwordSecret: {name: md5}"), "BGPPeer", "bad", "spec.passwordSecret", "must be of type kubernetes.io/basic-auth" },
        { SecretOf("md5", "kubernetes.io/basic-auth", "stringData: {username: x}") + PeerWith("passwordSecret: {name: md5}"), "BGPPeer", "bad", "spec.passwordSecret", "no 'password' key" },
        { SecretOf("md5", "kubernetes.io/basic-auth", "stringData: {password: x}", "default") + PeerWith("passwordSecret: {name: md5, namespace: default}"), "BGPPeer", "bad", "spec.passwordSecret.namespace", "must be in the metallb-system namespace" },
        { PeerWith("bfdProfile: fast"), "BGPPeer", "bad", "spec.bfdProfile", "BFDProfile 'fast' does not exist" },
        { PeerWith("vrf: red"), "BGPPeer", "bad", "spec.vrf", "not supported" },
        { PeerWith("localASN: 65000"), "BGPPeer", "bad", "spec.localASN", "not supported" },
        { PeerWith("nodeSelectors: [{matchExpressions: [{key: zone, operator: In}]}]"), "BGPPeer", "bad", "spec.nodeSelectors[0].matchExpressions[0].values", "at least one value" },
        { Peer("a", GoodPeerSpec + "\nnodeSelectors: [{matchLabels: {zone: x}}]") + PeerWith("nodeSelectors: [{matchLabels: {zone: x}}]"), "BGPPeer", "bad", "spec.peerAddress", "duplicate peer: BGPPeer a" },

        // BFDProfile
        { Crd("BFDProfile", "bad", "receiveInterval: 9"), "BFDProfile", "bad", "spec.receiveInterval", "out of range 10..60000" },
        { Crd("BFDProfile", "bad", "transmitInterval: 60001"), "BFDProfile", "bad", "spec.transmitInterval", "out of range 10..60000" },
        { Crd("BFDProfile", "bad", "detectMultiplier: 1"), "BFDProfile", "bad", "spec.detectMultiplier", "out of range 2..255" },
        { Crd("BFDProfile", "bad", "detectMultiplier: 256"), "BFDProfile", "bad", "spec.detectMultiplier", "out of range 2..255" },
        { Crd("BFDProfile", "bad", "echoInterval: 9"), "BFDProfile", "bad", "spec.echoInterval", "out of range 10..60000" },
        { Crd("BFDProfile", "bad", "minimumTtl: 255"), "BFDProfile", "bad", "spec.minimumTtl", "out of range 1..254" },
        { Crd("BFDProfile", "bad", "minimumTtl: 0"), "BFDProfile", "bad", "spec.minimumTtl", "out of range 1..254" },
        { Crd("BFDProfile", "bad", "echoMode: true"), "BFDProfile", "bad", "spec.echoMode", "BFD echo mode is not supported" },

        // Community
        { Crd("Community", "bad", "communities: [{name: gold, value: '65536:1'}]"), "Community", "bad", "spec.communities[0].value", "invalid community '65536:1'" },
        { Crd("Community", "bad", "communities: [{name: gold, value: 'large:1:2'}]"), "Community", "bad", "spec.communities[0].value", "invalid large community" },
        { Crd("Community", "bad", "communities: [{name: gold, value: gold}]"), "Community", "bad", "spec.communities[0].value", "invalid community 'gold'" },
        { Crd("Community", "bad", "communities: [{value: '1:1'}]"), "Community", "bad", "spec.communities[0].name", "no name" },
        { Crd("Community", "bad", "communities: [{name: gold, value: '1:1'}, {name: gold, value: '1:2'}]"), "Community", "bad", "spec.communities[1].name", "duplicate community alias 'gold'" },
        { Crd("Community", "a", "communities: [{name: gold, value: '1:1'}]") + Crd("Community", "bad", "communities: [{name: gold, value: '1:2'}]"), "Community", "bad", "spec.communities[0].name", "already defined in Community a" },

        // BGPAdvertisement
        { BasePools + Advertisement("bad", "communities: ['65536:1']"), "BGPAdvertisement", "bad", "spec.communities[0]", "invalid community '65536:1'" },
        { BasePools + Advertisement("bad", "communities: ['1:2', 'large:1:2:x']"), "BGPAdvertisement", "bad", "spec.communities[1]", "invalid large community" },
        { BasePools + Advertisement("bad", "communities: [gold]"), "BGPAdvertisement", "bad", "spec.communities[0]", "unknown community alias 'gold'" },
        { BasePools + Advertisement("bad", "aggregationLength: 0"), "BGPAdvertisement", "bad", "spec.aggregationLength", "out of range 1..32" },
        { BasePools + Advertisement("bad", "aggregationLength: 33"), "BGPAdvertisement", "bad", "spec.aggregationLength", "out of range 1..32" },
        { BasePools + Advertisement("bad", "aggregationLengthV6: 129"), "BGPAdvertisement", "bad", "spec.aggregationLengthV6", "out of range 1..128" },
        { BasePools + Advertisement("bad", "aggregationLength: 16"), "BGPAdvertisement", "bad", "spec.aggregationLength", "shorter than prefix 203.0.113.0/24 of IPAddressPool base" },
        { BasePools + Advertisement("bad", "aggregationLengthV6: 64\nipAddressPools: [base6]"), "BGPAdvertisement", "bad", "spec.aggregationLengthV6", "shorter than prefix 2001:db8:100::/120 of IPAddressPool base6" },
        { BasePools + Advertisement("bad", "aggregationLength: 28\nserviceSelectors: [{matchLabels: {app: web}}]"), "BGPAdvertisement", "bad", "spec.serviceSelectors", "cannot be combined" },
        { BasePools + Advertisement("bad", "ipAddressPoolSelectors: [{matchExpressions: [{key: pool, operator: Exists, values: [x]}]}]"), "BGPAdvertisement", "bad", "spec.ipAddressPoolSelectors[0].matchExpressions[0].values", "takes no values" },
        { BasePools + Advertisement("a", "communities: ['1:1']") + Advertisement("bad", "communities: ['1:1']"), "BGPAdvertisement", "bad", "spec", "identical to BGPAdvertisement a" },
        { BasePools + Advertisement("a", "localPref: 100") + Advertisement("bad", "localPref: 200\nipAddressPools: [base]"), "BGPAdvertisement", "bad", "spec.localPref", "conflicts with localPref 100 of BGPAdvertisement a" },


        // L2Advertisement
        { BasePools + Crd("L2Advertisement", "bad", "preferredNodeSelectors: [{weight: 0, preference: {matchLabels: {a: b}}}]"), "L2Advertisement", "bad", "spec.preferredNodeSelectors[0].weight", "out of range 1..100" },
        { BasePools + Crd("L2Advertisement", "bad", "preferredNodeSelectors: [{weight: 101, preference: {matchLabels: {a: b}}}]"), "L2Advertisement", "bad", "spec.preferredNodeSelectors[0].weight", "out of range 1..100" },
        { BasePools + Crd("L2Advertisement", "bad", "preferredNodeSelectors: [{weight: 5, preference: {matchExpressions: [{key: a, operator: In}]}}]"), "L2Advertisement", "bad", "spec.preferredNodeSelectors[0].preference.matchExpressions[0].values", "at least one value" },
        { BasePools + Crd("L2Advertisement", "bad", "interfaces: ['']"), "L2Advertisement", "bad", "spec.interfaces[0]", "empty" },
        { BasePools + Crd("L2Advertisement", "bad", "nodeSelectors: [{matchExpressions: [{key: '', operator: Exists}]}]"), "L2Advertisement", "bad", "spec.nodeSelectors[0].matchExpressions[0].key", "must not be empty" },
    };

    [Theory]
    [MemberData(nameof(Rejections))]
    public void Invalid_object_is_rejected_with_file_object_and_field(string yaml, string kind, string name, string field, string message)
    {
        var update = Compile(yaml);
        AssertError(SingleError(update), kind, name, field, message);
        Assert.True(update.HasErrors);
        // Invalid objects never take effect; everything else does.
        var config = update.Config;
        var names = kind switch
        {
            "IPAddressPool" => config.Pools.Select(p => p.Name),
            "BGPPeer" => config.Peers.Select(p => p.Name),
            "BFDProfile" => config.BfdProfiles.Select(p => p.Name),
            "BGPAdvertisement" => config.BgpAdvertisements.Select(p => p.Name),
            "L2Advertisement" => config.L2Advertisements.Select(p => p.Name),
            _ => [],
        };
        if (field != "metadata.name")
        {
            Assert.DoesNotContain(name, names);
        }
        if (yaml.Contains("name: base,", StringComparison.Ordinal))
        {
            Assert.Contains("base", config.Pools.Select(p => p.Name));
        }
    }

    [Fact]
    public void Metallb_objects_outside_the_metallb_namespace_are_rejected()
    {
        var update = Compile("apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p, namespace: default}\nspec: {addresses: [203.0.113.0/28]}\n");
        var error = SingleError(update);
        Assert.Equal((new ResourceKey("IPAddressPool", "default", "p"), "metadata.namespace"), (error.Resource!.Value, error.Field));
        Assert.Contains("must be created in the metallb-system namespace", error.Message, StringComparison.Ordinal);
        Assert.Empty(update.Config.Pools);

        var custom = Compile("apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p, namespace: default}\nspec: {addresses: [203.0.113.0/28]}\n",
            new ConfigOptions { MetalLbNamespace = "default" });
        Assert.Empty(custom.Problems.ExceptUnadvertised());
        Assert.Single(custom.Config.Pools);
    }

    [Theory]
    [InlineData("holdTime: 90s", 90, 30)]
    [InlineData("holdTime: 9s", 9, 3)]
    [InlineData("keepaliveTime: 10s", 30, 10)]
    [InlineData("holdTime: 0s", 0, 0)]
    [InlineData("holdTime: 3s", 3, 1)]
    [InlineData("keepaliveTime: 1s", 3, 1)]
    [InlineData("holdTime: 1m30s\nkeepaliveTime: 1m30s", 90, 90)]
    public void Missing_timer_is_derived(string timers, int hold, int keepalive)
    {
        var update = Compile(PeerWith(timers));
        Assert.Empty(update.Problems);
        var peer = Assert.Single(update.Config.Peers);
        Assert.Equal(TimeSpan.FromSeconds(hold), peer.HoldTime);
        Assert.Equal(TimeSpan.FromSeconds(keepalive), peer.KeepaliveTime);
    }

    [Fact]
    public void Peer_fields_are_resolved()
    {
        var update = Compile(Crd("BFDProfile", "fast", "receiveInterval: 100\ntransmitInterval: 100\ndetectMultiplier: 3")
            + SecretOf("md5", "kubernetes.io/basic-auth", "data: {password: czNjcjN0}")
            + Peer("full", """
                myASN: 64513
                dynamicASN: external
                peerAddress: 2001:db8::1
                sourceAddress: 2001:db8::2
                peerPort: 1179
                connectTime: 5s
                routerID: 198.18.0.2
                passwordSecret: {name: md5}
                bfdProfile: fast
                enableGracefulRestart: true
                disableMP: true
                nodeSelectors: [{matchLabels: {zone: a}}]
                """));
        Assert.Empty(update.Problems);
        var peer = Assert.Single(update.Config.Peers);
        Assert.Equal(IPAddress.Parse("2001:db8::1"), peer.Address);
        Assert.Equal(IPAddress.Parse("2001:db8::2"), peer.SourceAddress);
        Assert.Equal((ushort)1179, peer.Port);
        Assert.Equal((64513u, (uint?)null, PeerDynamicAsn.External), (peer.MyAsn, peer.PeerAsn, peer.DynamicAsn));
        Assert.False(peer.IsInternal);
        Assert.Null(peer.HoldTime);
        Assert.Null(peer.KeepaliveTime);
        Assert.Equal(TimeSpan.FromSeconds(5), peer.ConnectTime);
        Assert.Equal(IPAddress.Parse("198.18.0.2"), peer.RouterId);
        Assert.Equal("s3cr3t", peer.Password);
        Assert.Equal("fast", peer.BfdProfile);
        Assert.True(peer.EnableGracefulRestart && peer.DisableMP && !peer.EbgpMultiHop);
        Assert.Equal("zone=a", Assert.Single(peer.NodeSelectors).ToString());
        var bfd = Assert.Single(update.Config.BfdProfiles);
        Assert.Equal((TimeSpan.FromMilliseconds(100), 3, 254), (bfd.ReceiveInterval, bfd.DetectMultiplier, bfd.MinimumTtl));
    }

    [Fact]
    public void Password_secret_may_use_string_data_and_an_explicit_namespace()
    {
        var update = Compile(SecretOf("md5", "kubernetes.io/basic-auth", "stringData: {password: plain}")
            + PeerWith("passwordSecret: {name: md5, namespace: metallb-system}"));
        Assert.Empty(update.Problems);
        Assert.Equal("plain", Assert.Single(update.Config.Peers).Password);
    }

    [Fact]
    public void BGPPeer_v1beta1_and_v1beta2_compile_to_the_same_peer()
    {
        const string spec = """
            myASN: 64513
            peerASN: 64512
            peerAddress: 198.18.0.1
            holdTime: 30s
            password: pw
            nodeSelectors: [{matchLabels: {zone: a}, matchExpressions: [{key: tier, operator: NotIn, values: [core]}]}]
            """;
        var v1 = Assert.Single(Compile(Crd("BGPPeer", "p", spec)).Config.Peers);
        var v2 = Assert.Single(Compile(Crd("BGPPeer", "p", spec, "metallb.io/v1beta2")).Config.Peers);
        Assert.Equal(v2, v1);
        Assert.NotEqual(v2, v1 with { NodeSelectors = [] });
        Assert.Equal(TimeSpan.FromSeconds(10), v1.KeepaliveTime);
    }

    [Fact]
    public void A_peer_that_names_an_invalid_bfd_profile_says_the_profile_is_invalid_not_missing()
    {
        var update = Compile(Crd("BFDProfile", "echo", "echoMode: true") + PeerWith("bfdProfile: echo"));
        Assert.Equal(2, update.Problems.Length);
        Assert.Contains(update.Problems, p => p.Field == "spec.echoMode" && p.Message.Contains("not supported", StringComparison.Ordinal));
        Assert.Contains(update.Problems, p => p.Field == "spec.bfdProfile" && p.Message.Contains("BFDProfile 'echo' is invalid", StringComparison.Ordinal));
        Assert.Empty(update.Config.Peers);
    }

    [Fact]
    public void Same_address_peers_on_different_nodes_are_not_duplicates()
    {
        var update = Compile(Peer("a", GoodPeerSpec + "\nnodeSelectors: [{matchLabels: {zone: a}}]") + Peer("b", GoodPeerSpec + "\nnodeSelectors: [{matchLabels: {zone: b}}]"));
        Assert.Empty(update.Problems);
        Assert.Equal(2, update.Config.Peers.Length);
    }

    [Fact]
    public void Advertisement_resolves_pools_communities_and_aliases()
    {
        var update = Compile(BasePools
            + Pool("other", "[198.51.100.0/24]")
            + Crd("Community", "aliases", "communities: [{name: no-export, value: '65535:65281'}, {name: big, value: 'large:64513:7:8'}]")
            + Advertisement("by-name", "ipAddressPools: [other]\ncommunities: [no-export, big, '64513:100', no-export]\nlocalPref: 50\npeers: [r1, r1]")
            + Advertisement("by-selector", "ipAddressPoolSelectors: [{matchLabels: {pool: base}}]\naggregationLength: 24")
            + Advertisement("all", "aggregationLengthV6: 120\nnodeSelectors: [{matchLabels: {zone: a}}]\npeers: [r3]")
            + Advertisement("with-missing", "ipAddressPools: [other, gone]\npeers: [r2]"));
        var warning = Assert.Single(update.Problems);
        Assert.Equal((ConfigSeverity.Warning, "spec.ipAddressPools[1]", new ResourceKey("BGPAdvertisement", Ns, "with-missing")), (warning.Severity, warning.Field, warning.Resource!.Value));
        Assert.False(update.HasErrors);

        var ads = update.Config.BgpAdvertisements.ToDictionary(a => a.Name);
        Assert.Equal(["other"], ads["by-name"].Pools.ToArray());
        Assert.Equal([0xFFFFFF01u, (64513u << 16) | 100], ads["by-name"].Communities.ToArray());
        Assert.Equal([new LargeCommunity(64513, 7, 8)], ads["by-name"].LargeCommunities.ToArray());
        Assert.Equal(50u, ads["by-name"].LocalPref);
        Assert.Equal(["r1"], ads["by-name"].Peers.ToArray());
        Assert.Equal(["base"], ads["by-selector"].Pools.ToArray());
        Assert.Equal(24, ads["by-selector"].AggregationLength);
        Assert.Equal(["base", "base6", "other"], ads["all"].Pools.ToArray());
        Assert.Equal("zone=a", Assert.Single(ads["all"].NodeSelectors).ToString());
        Assert.Equal(["other"], ads["with-missing"].Pools.ToArray());
    }

    [Fact]
    public void Different_local_prefs_are_allowed_when_peers_or_nodes_do_not_overlap()
    {
        var update = Compile(BasePools
            + Advertisement("to-r1", "localPref: 100\npeers: [r1]")
            + Advertisement("to-r2", "localPref: 200\npeers: [r2]")
            + Advertisement("zone-a", "localPref: 300\npeers: [r3]\nnodeSelectors: [{matchLabels: {zone: a}}]")
            + Advertisement("zone-b", "localPref: 400\npeers: [r3]\nnodeSelectors: [{matchLabels: {zone: b}}]"));
        Assert.Empty(update.Problems);
        Assert.Equal(4, update.Config.BgpAdvertisements.Length);
    }

    [Fact]
    public void Local_pref_conflict_is_detected_through_a_node_matching_both_selectors()
    {
        var update = Compile(BasePools
            + "apiVersion: v1\nkind: Node\nmetadata: {name: n, labels: {zone: a, rack: r1}}\n---\n"
            + Advertisement("a", "localPref: 300\nnodeSelectors: [{matchLabels: {zone: a}}]")
            + Advertisement("bad", "localPref: 400\nnodeSelectors: [{matchLabels: {rack: r1}}]"));
        AssertError(SingleError(update), "BGPAdvertisement", "bad", "spec.localPref", "conflicts");
    }

    [Fact]
    public void Pool_fields_are_resolved()
    {
        var update = Compile(Pool("p", "[203.0.113.0/28, 198.51.100.1-198.51.100.2]", """
              autoAssign: false
              avoidBuggyIPs: true
              serviceAllocation:
                priority: 5
                namespaces: [web]
                namespaceSelectors: [{matchLabels: {team: a}}]
                serviceSelectors: [{matchExpressions: [{key: app, operator: Exists}]}]
            """));
        Assert.Empty(update.Problems.ExceptUnadvertised());
        var pool = Assert.Single(update.Config.Pools);
        Assert.Equal(["203.0.113.0/28", "198.51.100.1/32", "198.51.100.2/32"], pool.Cidrs.Select(c => c.ToString()));
        Assert.False(pool.AutoAssign);
        Assert.True(pool.AvoidBuggyIPs);
        Assert.Equal("p", pool.Labels["pool"]);
        var allocation = pool.ServiceAllocation!;
        Assert.Equal(5, allocation.Priority);
        Assert.Equal(["web"], allocation.Namespaces.ToArray());
        Assert.Equal("team=a", Assert.Single(allocation.NamespaceSelectors).ToString());
        Assert.Equal("app", Assert.Single(allocation.ServiceSelectors).ToString());
    }

    [Fact]
    public void L2_advertisement_fields_are_resolved()
    {
        var update = Compile(BasePools + Crd("L2Advertisement", "l2", "ipAddressPools: [base]\ninterfaces: [eth0, eth1, eth0]\nnodeSelectors: [{matchLabels: {zone: a}}]\nserviceSelectors: [{matchLabels: {app: web}}]\npreferredNodeSelectors: [{weight: 100, preference: {matchLabels: {zone: a}}}]"));
        Assert.Empty(update.Problems.ExceptUnadvertised());
        var l2 = Assert.Single(update.Config.L2Advertisements);
        Assert.Equal(["base"], l2.Pools.ToArray());
        Assert.Equal(["eth0", "eth1"], l2.Interfaces.ToArray());
        Assert.Single(l2.NodeSelectors);
        Assert.Single(l2.ServiceSelectors);
        var preferred = Assert.Single(l2.PreferredNodeSelectors);
        Assert.Equal((100, "zone=a"), (preferred.Weight, preferred.Preference.ToString()));
    }
}
