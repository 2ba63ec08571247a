using BgpLb.Config;

namespace BgpLb.Kubernetes.Tests;

public sealed class PodIdentityTests
{
    [Fact]
    public void Downward_api_variables_name_the_pod_and_its_owner_reference()
    {
        var env = new Dictionary<string, string> { ["POD_NAME"] = "speaker-x1", ["POD_NAMESPACE"] = "lb", ["POD_UID"] = "u-1" };
        var identity = PodIdentity.FromEnvironment(env.GetValueOrDefault);
        Assert.Equal(new PodIdentity("speaker-x1", "lb", "u-1"), identity);
        var owner = identity.OwnerReference!;
        Assert.Equal(("v1", "Pod", "speaker-x1", "u-1"), (owner.ApiVersion, owner.Kind, owner.Name, owner.Uid));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    public void Missing_or_blank_variables_fall_back_to_host_name_metallb_system_and_no_owner(string? value)
    {
        var identity = PodIdentity.FromEnvironment(_ => value);
        Assert.Equal(Environment.MachineName, identity.Name);
        Assert.Equal("metallb-system", identity.Namespace);
        Assert.Null(identity.Uid);
        Assert.Null(identity.OwnerReference);
    }

    [Fact]
    public void Configuration_summary_lists_errors_and_warnings_apart_and_only_errors_make_it_invalid()
    {
        var key = new ResourceKey("BGPPeer", "metallb-system", "tor");
        var error = new ConfigError(ConfigSeverity.Error, "kube", key, "spec.myASN", "missing");
        var warning = new ConfigError(ConfigSeverity.Warning, "kube", key, "spec.holdTime", "odd");
        Assert.Equal(new ConfigurationSummary(ConfigurationResult.Valid, "", warning.ToString()), ConfigurationSummary.Of([warning]));
        var (result, summary, warnings) = ConfigurationSummary.Of([error, warning, error with { Field = "spec.peerASN" }]);
        Assert.Equal(ConfigurationResult.Invalid, result);
        Assert.Equal($"{error}\n{error with { Field = "spec.peerASN" }}", summary);
        Assert.Contains("BGPPeer", summary, StringComparison.Ordinal);
        Assert.Equal(warning.ToString(), warnings);
    }
}
