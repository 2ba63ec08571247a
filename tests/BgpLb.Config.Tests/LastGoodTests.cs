using System.Net;
using static BgpLb.Config.Tests.TestConfig;

namespace BgpLb.Config.Tests;

public sealed class LastGoodTests : IDisposable
{
    private readonly ConfigDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    /// <summary>The directory holds exactly <paramref name="files"/> now.</summary>
    private Compiled Apply(params (string File, string Yaml)[] files) => _directory.Apply(files);

    private static string[] Cidrs(Compiled update, string pool) =>
        [.. update.Config.Pools.Single(p => p.Name == pool).Cidrs.Select(c => c.ToString())];

    [Fact]
    public void Invalid_edit_keeps_the_last_good_version_until_fixed()
    {
        Assert.Empty(Apply(("a.yaml", Pool("p", "[203.0.113.0/28]"))).Problems.ExceptUnadvertised());

        var bad = Apply(("a.yaml", Pool("p", "[203.0.113.0/33]")));
        var error = SingleError(bad);
        AssertError(error, "IPAddressPool", "p", "spec.addresses[0]", "invalid CIDR", "a.yaml");
        Assert.Contains("last good version stays in force", error.Message, StringComparison.Ordinal);
        Assert.Equal(["203.0.113.0/28"], Cidrs(bad, "p"));

        var fixedUpdate = Apply(("a.yaml", Pool("p", "[198.51.100.0/28]")));
        Assert.Empty(fixedUpdate.Problems.ExceptUnadvertised());
        Assert.Equal(["198.51.100.0/28"], Cidrs(fixedUpdate, "p"));
    }

    [Fact]
    public void Object_that_was_never_valid_does_not_take_effect_but_the_rest_does()
    {
        var update = Apply(("a.yaml", Pool("good", "[203.0.113.0/28]") + Peer("bad", "peerASN: 1\npeerAddress: 198.18.0.1")));
        AssertError(SingleError(update), "BGPPeer", "bad", "spec.myASN", "myASN", "a.yaml");
        Assert.Single(update.Config.Pools);
        Assert.Empty(update.Config.Peers);
    }

    [Fact]
    public void Unparseable_edit_keeps_the_last_good_version()
    {
        Apply(("a.yaml", Peer("r", GoodPeerSpec)));
        var update = Apply(("a.yaml", Peer("r", GoodPeerSpec + "\nholdTmie: 9s")));
        AssertError(SingleError(update), "BGPPeer", "r", "spec.holdTmie", "unknown field", "a.yaml");
        var peer = Assert.Single(update.Config.Peers);
        Assert.Null(peer.HoldTime);
    }

    [Fact]
    public void Builtin_object_with_a_type_error_keeps_its_last_good_version()
    {
        const string good = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {type: LoadBalancer, ports: [{port: 80}]}\n";
        var before = Assert.Single(Apply(("s.yaml", good)).State.Services.Values);
        var update = Apply(("s.yaml", good.Replace("port: 80", "port: http", StringComparison.Ordinal)));
        var error = SingleError(update);
        Assert.Equal(("spec.ports[0].port", new ResourceKey("Service", "default", "web")), (error.Field, error.Resource));
        Assert.Same(before, Assert.Single(update.State.Services.Values));
        Assert.Equal(80, before.Ports[0].Port);
    }

    [Fact]
    public void Object_whose_labels_cannot_be_read_keeps_its_last_good_version()
    {
        Apply(("a.yaml", Pool("p", "[203.0.113.0/28]") + Node("n1", "{zone: a}")));

        var update = Apply(("a.yaml", Pool("p", "[198.51.100.0/28]").Replace("pool: p", "pool: [p]", StringComparison.Ordinal) + Node("n1", "{zone: 1}")));

        Assert.Equal(
            [(new ResourceKey("IPAddressPool", Ns, "p"), "metadata.labels.pool"), (new ResourceKey("Node", "", "n1"), "metadata.labels.zone")],
            update.Errors.Select(e => (e.Resource!.Value, e.Field!)));
        Assert.Equal(["203.0.113.0/28"], Cidrs(update, "p"));
        Assert.Equal("a", update.State.Nodes["n1"].Labels["zone"]);
    }

    [Fact]
    public void Yaml_syntax_error_keeps_every_object_of_that_file_and_other_files_still_apply()
    {
        Apply(("a.yaml", Pool("p", "[203.0.113.0/28]") + Peer("r", GoodPeerSpec)), ("b.yaml", Pool("q", "[198.51.100.0/28]")));

        var update = Apply(("a.yaml", "apiVersion: v1\nkind: [broken\n"), ("b.yaml", Pool("q", "[198.51.100.0/27]")));
        var error = SingleError(update);
        Assert.Equal(("a.yaml", (int?)3), (Path.GetFileName(error.Origin), error.Line)); // the unclosed "[" is detected at the end of the input
        Assert.Equal(["p", "q"], update.Config.Pools.Select(p => p.Name));
        Assert.Equal(["198.51.100.0/27"], Cidrs(update, "q"));
        Assert.Single(update.Config.Peers);

        // Still broken on the next read: still kept.
        Assert.Equal(["p", "q"], Apply(("a.yaml", "apiVersion: v1\nkind: [broken\n"), ("b.yaml", Pool("q", "[198.51.100.0/27]"))).Config.Pools.Select(p => p.Name));

        // File removed: its objects are gone.
        var removed = Apply(("b.yaml", Pool("q", "[198.51.100.0/27]")));
        Assert.Empty(removed.Problems.ExceptUnadvertised());
        Assert.Equal(["q"], removed.Config.Pools.Select(p => p.Name));
        Assert.Empty(removed.Config.Peers);
    }

    [Fact]
    public void Deleted_objects_disappear_instead_of_keeping_a_last_good_version()
    {
        Apply(("a.yaml", Pool("p", "[203.0.113.0/28]") + Pool("q", "[198.51.100.0/28]")));
        var update = Apply(("a.yaml", Pool("q", "[198.51.100.0/28]")));
        Assert.Equal(["q"], update.Config.Pools.Select(p => p.Name));
    }

    [Fact]
    public void A_new_conflicting_object_cannot_evict_an_accepted_one()
    {
        Apply(("a.yaml", Pool("z-old", "[203.0.113.0/24]")));
        var update = Apply(("a.yaml", Pool("z-old", "[203.0.113.0/24]")), ("b.yaml", Pool("a-new", "[203.0.113.128/25]")));
        AssertError(SingleError(update), "IPAddressPool", "a-new", "spec.addresses[0]", "IPAddressPool z-old", "b.yaml");
        Assert.Equal(["z-old"], update.Config.Pools.Select(p => p.Name));
    }

    [Fact]
    public void An_edit_that_conflicts_keeps_the_edited_objects_last_good_version()
    {
        Apply(("a.yaml", Pool("a", "[203.0.113.0/24]") + Pool("b", "[198.51.100.0/24]")));
        var update = Apply(("a.yaml", Pool("a", "[198.51.100.0/25]") + Pool("b", "[198.51.100.0/24]")));
        AssertError(SingleError(update), "IPAddressPool", "a", "spec.addresses[0]", "IPAddressPool b", "a.yaml");
        Assert.Equal(["203.0.113.0/24"], Cidrs(update, "a"));
        Assert.Equal(["198.51.100.0/24"], Cidrs(update, "b"));
    }

    [Fact]
    public void Dependents_keep_working_through_the_last_good_version_of_their_dependency()
    {
        const string advertisement = "apiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: {name: ad}\nspec: {communities: [gold]}\n---\n";
        Apply(("a.yaml", Crd("Community", "c", "communities: [{name: gold, value: '64513:1'}]") + advertisement));
        var update = Apply(("a.yaml", Crd("Community", "c", "communities: [{name: gold, value: 'oops'}]") + advertisement));
        AssertError(SingleError(update), "Community", "c", "spec.communities[0].value", "invalid community", "a.yaml");
        Assert.Equal([(64513u << 16) | 1], Assert.Single(update.Config.BgpAdvertisements).Communities.ToArray());
    }

    [Fact]
    public void Removing_a_dependency_invalidates_dependents_that_never_had_another_version()
    {
        Apply(("a.yaml", Secret("md5") + Peer("r", GoodPeerSpec + "\npasswordSecret: {name: md5}")));
        Assert.Equal("pw", Assert.Single(Apply(("a.yaml", Secret("md5") + Peer("r", GoodPeerSpec + "\npasswordSecret: {name: md5}"))).Config.Peers).Password);

        var update = Apply(("a.yaml", Peer("r", GoodPeerSpec + "\npasswordSecret: {name: md5}")));
        AssertError(SingleError(update), "BGPPeer", "r", "spec.passwordSecret", "does not exist", "a.yaml");
        Assert.Empty(update.Config.Peers);
    }

    [Fact]
    public void Duplicate_definitions_across_files_keep_the_first()
    {
        var update = Apply(("a.yaml", Pool("p", "[203.0.113.0/28]")), ("b.yaml", Pool("p", "[198.51.100.0/28]")));
        var error = SingleError(update);
        AssertError(error, "IPAddressPool", "p", "metadata.name", "already defined in " + _directory.PathOf("a.yaml"), "b.yaml");
        Assert.Equal(["203.0.113.0/28"], Cidrs(update, "p"));
    }

    [Fact]
    public void Configuration_records_compare_by_value()
    {
        var first = Apply(("a.yaml", Pool("p", "[203.0.113.0/28]") + Peer("r", GoodPeerSpec + "\nnodeSelectors: [{matchLabels: {a: b}}]"))).Config;
        var second = Compile(null, ("a.yaml", Pool("p", "[203.0.113.0/28]") + Peer("r", GoodPeerSpec + "\nnodeSelectors: [{matchLabels: {a: b}}]"))).Config;
        Assert.Equal(first.Pools, second.Pools);
        Assert.Equal(first.Peers, second.Peers);
        Assert.NotEqual(first.Peers[0], second.Peers[0] with { Address = IPAddress.Parse("198.18.0.9") });
    }
}
