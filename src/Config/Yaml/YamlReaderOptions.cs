namespace BgpLb.Config.Yaml;

internal sealed record YamlReaderOptions
{
    public static YamlReaderOptions Default { get; } = new();

    /// <summary>Nodes that aliases may copy into one document; kubectl refuses such "billion laughs" documents too.</summary>
    public int MaxAliasExpansion { get; init; } = 100_000;

    /// <summary>Nesting of mappings and sequences in one document (System.Text.Json's default).</summary>
    public int MaxDepth { get; init; } = 64;

    /// <summary>False sends every document through YamlDotNet (tests and benchmarks compare both paths).</summary>
    public bool UseFastPath { get; init; } = true;
}
