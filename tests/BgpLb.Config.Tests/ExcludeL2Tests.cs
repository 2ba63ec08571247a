using static BgpLb.Config.Tests.TestConfig;

namespace BgpLb.Config.Tests;

/// <summary>MetalLB's metallb-excludel2 ConfigMap (key excludel2.yaml) read from the configuration directory.</summary>
public sealed class ExcludeL2Tests : IDisposable
{
    private readonly ConfigDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private static string ExcludeL2(string content, string name = "metallb-excludel2") => $"""
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {name}
        data:
          excludel2.yaml: |
        {string.Join('\n', content.Split('\n').Select(l => "    " + l))}
        ---

        """;

    private Compiled Apply(string yaml) => _directory.Apply(("a.yaml", yaml));

    [Fact]
    public void Without_the_ConfigMap_MetalLBs_shipped_defaults_apply()
    {
        var update = Apply(ExcludeL2("announcedInterfacesToExclude: [\"^eth9$\"]", name: "something-else"));
        Assert.Empty(update.Problems);
        Assert.Equal(L2InterfaceExclusion.Default, update.Config.ExcludedL2Interfaces);
        Assert.Contains("^veth.*", update.Config.ExcludedL2Interfaces.Patterns);
    }

    [Fact]
    public void The_ConfigMap_replaces_the_list_and_an_invalid_edit_keeps_the_last_good_one_naming_object_and_field()
    {
        var good = Apply(ExcludeL2("announcedInterfacesToExclude: [\"^docker.*\", \"^eth9$\"]"));
        Assert.Empty(good.Problems);
        Assert.Equal(["^docker.*", "^eth9$"], good.Config.ExcludedL2Interfaces.Patterns);

        var bad = Apply(ExcludeL2("announcedInterfacesToExclude: [\"^docker.*\", \"^eth[9$\"]"));
        var error = SingleError(bad);
        Assert.Equal((new ResourceKey("ConfigMap", Ns, "metallb-excludel2"), "data.excludel2.yaml: announcedInterfacesToExclude[1]"),
            (error.Resource!.Value, error.Field));
        Assert.Contains("invalid regular expression '^eth[9$'", error.Message, StringComparison.Ordinal);
        Assert.Equal(["^docker.*", "^eth9$"], bad.Config.ExcludedL2Interfaces.Patterns);

        var typo = Apply(ExcludeL2("announcedInterfaceToExclude: [\"^eth9$\"]"));
        Assert.Equal("data.excludel2.yaml: announcedInterfaceToExclude", SingleError(typo).Field);
        Assert.Equal(["^docker.*", "^eth9$"], typo.Config.ExcludedL2Interfaces.Patterns);

        var empty = Apply(ExcludeL2("announcedInterfacesToExclude: []"));
        Assert.Empty(empty.Problems);
        Assert.Empty(empty.Config.ExcludedL2Interfaces.Patterns);

        Assert.Equal(L2InterfaceExclusion.Default, Apply("").Config.ExcludedL2Interfaces);
    }

    [Fact]
    public void A_ConfigMap_without_the_key_is_an_error()
    {
        var update = Apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: metallb-excludel2}\ndata: {other: x}\n");
        Assert.Equal("data.excludel2.yaml", SingleError(update).Field);
        Assert.Equal(L2InterfaceExclusion.Default, update.Config.ExcludedL2Interfaces);
    }
}
