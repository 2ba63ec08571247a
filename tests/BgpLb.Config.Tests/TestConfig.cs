using System.Collections.Immutable;

namespace BgpLb.Config.Tests;

internal static class TestConfig
{
    public const string Ns = "metallb-system";

    public static ResourceSnapshot Snapshot(params (string File, string Yaml)[] files)
    {
        var resources = ImmutableArray.CreateBuilder<RawResource>();
        var errors = ImmutableArray.CreateBuilder<ConfigError>();
        var unreadable = ImmutableHashSet.CreateBuilder<string>();
        foreach (var (file, yaml) in files)
        {
            var parsed = ManifestParser.Parse(file, yaml, new ConfigOptions());
            resources.AddRange(parsed.Resources);
            errors.AddRange(parsed.Errors);
            if (parsed.Unreadable)
            {
                unreadable.Add(file);
            }
        }
        return new ResourceSnapshot(resources.ToImmutable(), errors.ToImmutable(), unreadable.ToImmutable());
    }

    public static ConfigUpdate Compile(string yaml) => new ConfigCompiler(new ConfigOptions()).Compile(Snapshot(("test.yaml", yaml)));

    public static ConfigError SingleError(ConfigUpdate update)
    {
        var errors = update.Errors.Where(e => e.Severity == ConfigSeverity.Error).ToList();
        Assert.True(errors.Count == 1, "expected one error, got: " + string.Join(" | ", errors));
        return errors[0];
    }

    public static void AssertError(ConfigError error, string kind, string name, string field, string messagePart, string file = "test.yaml")
    {
        Assert.Equal(ConfigSeverity.Error, error.Severity);
        Assert.Equal(file, error.Origin);
        Assert.Equal(new ResourceKey(kind, Ns, name), error.Resource);
        Assert.Equal(field, error.Field);
        Assert.Contains(messagePart, error.Message, StringComparison.Ordinal);
        var text = error.ToString();
        Assert.Contains(file, text, StringComparison.Ordinal);
        Assert.Contains($"{kind} {Ns}/{name}", text, StringComparison.Ordinal);
        Assert.Contains(field, text, StringComparison.Ordinal);
    }

    public static string Pool(string name, string addresses, string extra = "") => $"""
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata:
          name: {name}
          namespace: metallb-system
          labels:
            pool: {name}
        spec:
          addresses: {addresses}
        {extra}
        ---

        """;

    public static string Peer(string name, string spec) => $"""
        apiVersion: metallb.io/v1beta2
        kind: BGPPeer
        metadata:
          name: {name}
          namespace: metallb-system
        spec:
        {Indent(spec)}
        ---

        """;

    public static string Advertisement(string name, string spec) => $"""
        apiVersion: metallb.io/v1beta1
        kind: BGPAdvertisement
        metadata:
          name: {name}
          namespace: metallb-system
        spec:
        {Indent(spec)}
        ---

        """;

    public static string Crd(string kind, string name, string spec, string apiVersion = "metallb.io/v1beta1") => $"""
        apiVersion: {apiVersion}
        kind: {kind}
        metadata:
          name: {name}
          namespace: metallb-system
        spec:
        {Indent(spec)}
        ---

        """;

    public const string GoodPeerSpec = """
        myASN: 64513
        peerASN: 64512
        peerAddress: 198.18.0.1
        """;

    private static string Indent(string spec) =>
        string.Join('\n', spec.Split('\n').Select(l => "  " + l));
}
