using System.Text;
using BgpLb.Config.Yaml;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

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
    /// <summary>
    /// <see cref="YamlJson"/> over the whole text, one document after the other as a streaming reader meets them: the
    /// first syntax error, or the first document without a JSON text (a number beyond double), ends the stream.
    /// </summary>
    public static YamlOutcome Reference(string yaml)
    {
        var documents = new List<(string?, int)>();
        try
        {
            // A file's byte order mark is not part of its text (File.ReadAllText drops it, and so does the reader).
            var parser = new Parser(new StringReader(yaml.StartsWith('\uFEFF') ? yaml[1..] : yaml));
            parser.Consume<StreamStart>();
            while (YamlJson.TryReadDocument(parser, YamlTreeLimits.None, out var document))
            {
                documents.Add((document.Root?.ToJsonString(), document.Line));
            }
            parser.Consume<StreamEnd>();
        }
        catch (YamlException e)
        {
            var message = e.InnerException is null ? e.Message : $"{e.Message} {e.InnerException.Message}";
            return new([], message, (int)e.Start.Line, (int)e.Start.Column, PositionKnown: true);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException)
        {
            // YamlDotNet's own failures, and ToJsonString's for 1e999.
            return new([], e.Message, 0, 0, PositionKnown: false);
        }
        return new(documents, null, 0, 0, false);
    }

    public static YamlOutcome Read(string yaml, YamlReaderOptions? options = null) => Read(Encoding.UTF8.GetBytes(yaml), options, out _);

    /// <param name="readSize">Most bytes the stream hands out per read, to cut documents and markers apart.</param>
    public static YamlOutcome Read(byte[] yaml, YamlReaderOptions? options, out int fallbacks, int readSize = int.MaxValue)
    {
        fallbacks = 0;
        var documents = new List<(string?, int)>();
        using var reader = new YamlDocumentReader(new TrickleStream(yaml, readSize), options);
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
        if (!Same(expected, actual) && !(expected.Failed && actual.Failed && HasKeylessValue(yaml)))
        {
            Assert.Fail(Describe(yaml, options));
        }
        return fallbacks;
    }

    /// <summary>The smallest part of <paramref name="yaml"/> that still reads differently, with both readings.</summary>
    public static string Describe(string yaml, YamlReaderOptions? options = null)
    {
        bool Differs(string text) => !Same(Reference(text), Read(text, options)) && !HasKeylessValue(text);
        var smallest = yaml;
        for (var size = Math.Max(1, smallest.Length / 2); size >= 1; size /= 2)
        {
            for (var at = 0; at + size <= smallest.Length;)
            {
                var shorter = smallest.Remove(at, size);
                if (Differs(shorter))
                {
                    smallest = shorter;
                }
                else
                {
                    at += size;
                }
            }
        }
        return $"YAML (reduced from {yaml.Length} characters):\n{Show(smallest)}\nexpected: {Reference(smallest)}\nactual:   {Read(smallest, options)}";
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

    /// <summary>
    /// Whether the error may come out differently: for a ':' at column 0 without a key (always an error, as a key cannot
    /// be null) YamlDotNet's scanner uses the position of the last simple key it saw, also one of an earlier document,
    /// which a document read on its own does not have.
    /// </summary>
    public static bool HasKeylessValue(string yaml) =>
        yaml.StartsWith(':') || "\n\r\u0085\u2028\u2029".Any(lineBreak => yaml.Contains($"{lineBreak}:", StringComparison.Ordinal));

    public static string Show(string yaml) => yaml
        .Replace("\r", "\\r", StringComparison.Ordinal)
        .Replace("\t", "\\t", StringComparison.Ordinal)
        .Replace("\u0085", "\\u0085", StringComparison.Ordinal);
}

/// <summary>A stream over bytes that hands out at most a few of them per read, and counts what it handed out.</summary>
internal sealed class TrickleStream(byte[] bytes, int readSize) : Stream
{
    public long BytesRead { get; private set; }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => bytes.Length;
    public override long Position { get => BytesRead; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var count = (int)Math.Min(Math.Min(buffer.Length, readSize), bytes.Length - BytesRead);
        bytes.AsSpan((int)BytesRead, count).CopyTo(buffer);
        BytesRead += count;
        return count;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
