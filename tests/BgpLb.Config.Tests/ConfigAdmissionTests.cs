using BgpLb.Config.Resources;
using static BgpLb.Config.Tests.TestConfig;

namespace BgpLb.Config.Tests;

/// <summary><see cref="ConfigAdmission"/>: a change judged against the configuration in force, by the compiler's rules.</summary>
public sealed class ConfigAdmissionTests
{
    private static readonly ConfigOptions Options = new();

    private static ConfigBasis Basis(string yaml)
    {
        var state = new ClusterState(Options);
        state.Apply(Batch(yaml));
        return state.Basis!;
    }

    private static MetalLbObject Candidate(string yaml) => (MetalLbObject)Assert.Single(Changes(yaml)).Value!;

    [Fact]
    public void A_new_object_is_judged_after_the_accepted_ones_whatever_its_name()
    {
        // By name "0-new" would be compiled before "a" and accepted, evicting "a"; the accepted version goes first.
        var candidate = Candidate(Pool("0-new", "[203.0.113.0/24]"));
        var verdict = ConfigAdmission.Judge(Options, Basis(Pool("a", "[203.0.113.0/25]")), candidate.Key, candidate);
        var error = Assert.Single(verdict.Errors);
        Assert.Equal((candidate.Key, "spec.addresses[0]"), (error.Resource!.Value, error.Field));
        Assert.Equal("'203.0.113.0/24' overlaps with 203.0.113.0/25 in IPAddressPool a", error.Message); // no "last good" suffix
    }

    [Fact]
    public void An_object_that_is_already_invalid_does_not_block_an_unrelated_change()
    {
        var basis = Basis(Pool("a", "[203.0.113.0/25]") + Peer("broken", "peerASN: 64512\npeerAddress: 198.18.0.1"));
        var candidate = Candidate(Pool("b", "[198.51.100.0/24]"));
        Assert.True(ConfigAdmission.Judge(Options, basis, candidate.Key, candidate).Allowed);
    }

    [Fact]
    public void Deleting_judges_the_errors_the_removal_causes_on_others()
    {
        var basis = Basis(Crd("BFDProfile", "fast", "{}") + Peer("router", GoodPeerSpec + "\nbfdProfile: fast"));
        var key = new ResourceKey("BFDProfile", Ns, "fast");
        var error = Assert.Single(ConfigAdmission.Judge(Options, basis, key, null).Errors);
        Assert.Equal((new ResourceKey("BGPPeer", Ns, "router"), "spec.bfdProfile"), (error.Resource!.Value, error.Field));
        Assert.True(ConfigAdmission.Judge(Options, basis, new ResourceKey("BFDProfile", Ns, "absent"), null).Allowed);
    }
}
