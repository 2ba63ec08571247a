using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using BgpLb.Config.Yaml;

namespace BgpLb.Config;

/// <summary>One YAML document of a manifest file: where it starts, a fingerprint of its content, what it holds.</summary>
/// <param name="Fingerprint">Hash of the document's JSON form and its line: equal fingerprints mean an unchanged document.</param>
/// <param name="Keys">The keys the document defines (valid or not).</param>
/// <param name="Projection">What the document was projected into; null when it was skipped as unchanged.</param>
public sealed record ManifestDocument(int Line, ulong Fingerprint, ResourceKey[] Keys, Projection? Projection);

/// <summary>Result of reading one manifest file. <see cref="Unreadable"/>: nothing in the file could be trusted (syntax error, too large).</summary>
public sealed record ManifestParseResult(IReadOnlyList<ManifestDocument> Documents, IReadOnlyList<ConfigError> Errors, bool Unreadable)
{
    public IEnumerable<SourceObject> Objects => Documents.SelectMany(d => d.Projection?.Objects ?? []);
}

/// <summary>Reads Kubernetes-style YAML (multi-document) into model objects, document by document.</summary>
public static class ManifestParser
{
    public static ManifestParseResult Parse(string origin, string yaml, ConfigOptions options) =>
        Parse(origin, new MemoryStream(Encoding.UTF8.GetBytes(yaml)), options, _ => null);

    /// <param name="known">
    /// Documents read before, by fingerprint: a document whose fingerprint is known is not projected again (its
    /// <see cref="ManifestDocument.Projection"/> is null) unless <paramref name="known"/> returns null for it.
    /// </param>
    public static ManifestParseResult Parse(string origin, Stream yaml, ConfigOptions options, Func<ulong, ResourceKey[]?> known)
    {
        ArgumentNullException.ThrowIfNull(known);
        var documents = new List<ManifestDocument>();
        var errors = new List<ConfigError>();
        try
        {
            using var reader = new YamlDocumentReader(yaml);
            while (reader.Read())
            {
                if (reader.Root is not { } root)
                    continue; // an empty document, e.g. after a trailing "---"
                var line = reader.Line;
                var fingerprint = Fingerprint(root, line);
                if (known(fingerprint) is { } keys)
                {
                    documents.Add(new ManifestDocument(line, fingerprint, keys, null));
                    continue;
                }
                var projection = new Projection();
                ObjectProjector.Project(origin, line, root, options, projection);
                errors.AddRange(projection.Problems);
                documents.Add(new ManifestDocument(line, fingerprint, KeysOf(projection), projection));
            }
        }
        catch (YamlSyntaxException e)
        {
            return new([], [new ConfigError(ConfigSeverity.Error, origin, null, null, $"YAML syntax error: {e.Message}", e.Line, e.Column)], Unreadable: true);
        }
        catch (YamlLimitException e)
        {
            return new([], [new ConfigError(ConfigSeverity.Error, origin, null, null, e.Message)], Unreadable: true);
        }
        return new(documents, errors, Unreadable: false);
    }

    /// <summary>The document's content and its line (errors name the line, so a moved document is read again).</summary>
    private static ulong Fingerprint(JsonElement root, int line) => XxHash3.HashToUInt64(JsonMarshal.GetRawUtf8Value(root), line);

    private static ResourceKey[] KeysOf(Projection projection)
    {
        var keys = new ResourceKey[projection.Objects.Count + projection.Invalid.Count];
        for (var i = 0; i < projection.Objects.Count; i++)
            keys[i] = projection.Objects[i].Key;
        projection.Invalid.CopyTo(keys, projection.Objects.Count);
        return keys;
    }
}
