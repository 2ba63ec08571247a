using System.Text;
using BgpLb.Config.Yaml;
using YamlDotNet.Core;

namespace BgpLb.Config.Tests.Yaml;

/// <summary>What a YAML stream reads as: documents (JSON text and line) or an error.</summary>
internal sealed record YamlOutcome(IReadOnlyList<(string? Json, int Line)> Documents, string? Error, int Line, int Column, bool PositionKnown)
{
    public bool Failed => Error is not null;

    public override string ToString() => Failed
        ? $"error {Line}:{Column} {Error}"
        : string.Join(" | ", Documents.Select(d => $"{d.Line}: {d.Json ?? "<null>"}"));
}

/// <summary>The reference (<see cref="YamlJson.Parse"/> over the whole text) against <see cref="YamlDocumentReader"/>.</summary>
internal static class YamlOracle
{
    public static YamlOutcome Reference(string yaml)
    {
        List<YamlDocument> documents;
        try
        {
            documents = YamlJson.Parse(yaml);
        }
        catch (YamlException e)
        {
            var message = e.InnerException is null ? e.Message : $"{e.Message} {e.InnerException.Message}";
            return new([], message, (int)e.Start.Line, (int)e.Start.Column, PositionKnown: true);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException)
        {
            return new([], e.Message, 0, 0, PositionKnown: false);
        }
        try
        {
            return new([.. documents.Select(d => (d.Root?.ToJsonString(), d.Line))], null, 0, 0, false);
        }
        catch (ArgumentException e)
        {
            // A number beyond double (1e999) has no JSON text; the reader reports it as an error.
            return new([], e.Message, 0, 0, PositionKnown: false);
        }
    }

    public static YamlOutcome Read(string yaml, YamlReaderOptions? options = null) => Read(Encoding.UTF8.GetBytes(yaml), options, out _);

    public static YamlOutcome Read(byte[] yaml, YamlReaderOptions? options, out int fallbacks)
    {
        fallbacks = 0;
        var documents = new List<(string?, int)>();
        using var reader = new YamlDocumentReader(yaml, options);
        try
        {
            while (reader.Read())
            {
                documents.Add((reader.Root?.GetRawText(), reader.Line));
                fallbacks += reader.UsedFallback ? 1 : 0;
            }
        }
        catch (YamlSyntaxException e)
        {
            return new(documents, e.Message, e.Line, e.Column, PositionKnown: true);
        }
        return new(documents, null, 0, 0, false);
    }

    /// <summary>Asserts that the reader reads <paramref name="yaml"/> as the reference does; returns documents that fell back.</summary>
    public static int AssertSame(string yaml, YamlReaderOptions? options = null)
    {
        var expected = Reference(yaml);
        var actual = Read(Encoding.UTF8.GetBytes(yaml), options, out var fallbacks);
        if (!Same(expected, actual))
        {
            Assert.Fail($"YAML:\n{Show(yaml)}\nexpected: {expected}\nactual:   {actual}");
        }
        return fallbacks;
    }

    public static bool Same(YamlOutcome expected, YamlOutcome actual)
    {
        if (!expected.Failed)
        {
            return !actual.Failed && expected.Documents.SequenceEqual(actual.Documents);
        }
        if (!actual.Failed)
        {
            return false;
        }
        return !expected.PositionKnown
            || (expected.Line, expected.Column, expected.Error) == (actual.Line, actual.Column, actual.Error);
    }

    public static string Show(string yaml) => yaml
        .Replace("\r", "\\r", StringComparison.Ordinal)
        .Replace("\t", "\\t", StringComparison.Ordinal)
        .Replace("\u0085", "\\u0085", StringComparison.Ordinal);
}
