namespace BgpLb.Config.Yaml;

internal sealed record YamlReaderOptions
{
    public static YamlReaderOptions Default { get; } = new();

    /// <summary>Nodes that aliases may copy into one document; kubectl refuses such "billion laughs" documents too.</summary>
    public int MaxAliasExpansion { get; init; } = 100_000;

    /// <summary>
    /// Characters of scalars that aliases may copy into one document: a document cannot grow through aliases past what
    /// <see cref="MaxDocumentBytes"/> lets it say directly.
    /// </summary>
    public long MaxAliasedChars => MaxDocumentBytes;

    /// <summary>Bytes of one document in its JSON form: as much as the API server stores for one object.</summary>
    public int MaxDocumentBytes { get; init; } = KubernetesLimits.ObjectBytes;

    /// <summary>Bytes of one stream (file); reading stops with an error once it has read more.</summary>
    public long MaxStreamBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>Nesting of mappings and sequences in one document (System.Text.Json's default).</summary>
    public int MaxDepth { get; init; } = 64;

    /// <summary>False sends every document through YamlDotNet (tests and benchmarks compare both paths).</summary>
    public bool UseFastPath { get; init; } = true;
}
