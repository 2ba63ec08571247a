using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace BgpLb.Config;

/// <summary>One YAML document as a JSON tree, with the line where it starts.</summary>
internal sealed record YamlDocument(JsonNode? Root, int Line);

/// <summary>Bounds on the tree built from one document; <see cref="None"/> keeps <see cref="YamlJson.Parse"/> unbounded.</summary>
/// <param name="MaxAliasExpansion">Nodes that aliases may copy into one document (a "billion laughs" guard).</param>
/// <param name="MaxAliasedChars">Characters of scalars that aliases may copy into one document (the same guard for a long
/// scalar aliased many times, which copies few nodes).</param>
/// <param name="MaxDepth">Nesting of mappings and sequences.</param>
/// <param name="RejectNonFiniteNumbers">Whether a number that overflows a double (1e999) is an error, as JSON cannot carry it.</param>
internal readonly record struct YamlTreeLimits(long MaxAliasExpansion, long MaxAliasedChars, int MaxDepth, bool RejectNonFiniteNumbers)
{
    public static YamlTreeLimits None => new(long.MaxValue, long.MaxValue, int.MaxValue, RejectNonFiniteNumbers: false);
}

/// <summary>
/// Converts a multi-document YAML stream into JSON trees (what sigs.k8s.io/yaml does for kubectl): plain scalars become
/// null, booleans and numbers by the YAML 1.2 core schema, everything else (and every quoted scalar) a string.
/// </summary>
internal static partial class YamlJson
{
    /// <exception cref="YamlException">Syntax error; <see cref="YamlException.Start"/> holds line and column.</exception>
    public static List<YamlDocument> Parse(string text)
    {
        var parser = new Parser(new StringReader(text));
        parser.Consume<StreamStart>();
        var documents = new List<YamlDocument>();
        while (TryReadDocument(parser, YamlTreeLimits.None, out var document))
        {
            documents.Add(document);
        }
        parser.Consume<StreamEnd>();
        return documents;
    }

    /// <summary>Reads the next document, or returns false (consuming nothing) when the parser is at the stream end.</summary>
    /// <exception cref="YamlException">Syntax error, or a limit exceeded.</exception>
    public static bool TryReadDocument(IParser parser, in YamlTreeLimits limits, [NotNullWhen(true)] out YamlDocument? document)
    {
        if (!parser.TryConsume<DocumentStart>(out _))
        {
            document = null;
            return false;
        }
        var line = (int)parser.Current!.Start.Line;
        var builder = new TreeBuilder(parser, limits);
        var root = builder.ReadNode(depth: 0).Node;
        parser.Consume<DocumentEnd>();
        // Only once the document is complete, so that a syntax error further on comes first, as it would from the whole stream.
        if (builder.NonFiniteNumber is { } number)
        {
            throw new YamlException(number.Start, number.End, $"number {number.Value} is out of range");
        }
        document = new YamlDocument(root, line);
        return true;
    }

    private sealed class TreeBuilder(IParser parser, YamlTreeLimits limits)
    {
        private readonly Dictionary<string, Tree> _anchors = new(StringComparer.Ordinal);
        private long _aliasedNodes;
        private long _aliasedChars;

        /// <summary>The first number that overflows a double, if <see cref="YamlTreeLimits.RejectNonFiniteNumbers"/>.</summary>
        public Scalar? NonFiniteNumber { get; private set; }

        /// <summary>A node with the number of nodes and scalar characters in it, which is what an alias to it would copy.</summary>
        public readonly record struct Tree(JsonNode? Node, long Size, long Chars);

        public Tree ReadNode(int depth)
        {
            if (parser.TryConsume<AnchorAlias>(out var alias))
            {
                if (!_anchors.TryGetValue(alias.Value.Value, out var target))
                {
                    throw new YamlException(alias.Start, alias.End, $"unknown alias '{alias.Value}'");
                }
                _aliasedNodes += target.Size;
                _aliasedChars += target.Chars;
                if (_aliasedNodes > limits.MaxAliasExpansion)
                {
                    throw new YamlException(alias.Start, alias.End,
                        $"document contains excessive aliasing: aliases expand to more than {limits.MaxAliasExpansion} nodes");
                }
                if (_aliasedChars > limits.MaxAliasedChars)
                {
                    throw new YamlException(alias.Start, alias.End,
                        $"document contains excessive aliasing: aliases expand to more than {limits.MaxAliasedChars} characters");
                }
                return target with { Node = target.Node?.DeepClone() };
            }
            JsonNode? node;
            long size = 1;
            long chars = 0;
            string? anchor;
            if (parser.TryConsume<Scalar>(out var scalar))
            {
                anchor = scalar.Anchor.IsEmpty ? null : scalar.Anchor.Value;
                chars = scalar.Value.Length;
                var value = ScalarValue(scalar);
                if (limits.RejectNonFiniteNumbers && value is not null && value.TryGetValue<double>(out var number) && !double.IsFinite(number))
                {
                    NonFiniteNumber ??= scalar;
                }
                node = value;
            }
            else if (parser.TryConsume<SequenceStart>(out var sequenceStart))
            {
                anchor = sequenceStart.Anchor.IsEmpty ? null : sequenceStart.Anchor.Value;
                CheckDepth(depth, sequenceStart);
                var array = new JsonArray();
                while (!parser.TryConsume<SequenceEnd>(out _))
                {
                    var item = ReadNode(depth + 1);
                    array.Add(item.Node);
                    size += item.Size;
                    chars += item.Chars;
                }
                node = array;
            }
            else
            {
                var mappingStart = parser.Consume<MappingStart>();
                anchor = mappingStart.Anchor.IsEmpty ? null : mappingStart.Anchor.Value;
                CheckDepth(depth, mappingStart);
                var map = new JsonObject();
                while (!parser.TryConsume<MappingEnd>(out _))
                {
                    var keyStart = parser.Current!.Start;
                    var key = ReadNode(depth + 1);
                    if (key.Node is not JsonValue keyValue)
                    {
                        throw new YamlException(keyStart, keyStart, "mapping keys must be scalars");
                    }
                    var name = keyValue.TryGetValue<string>(out var text) ? text : keyValue.ToJsonString();
                    if (map.ContainsKey(name))
                    {
                        throw new YamlException(keyStart, keyStart, $"duplicate key '{name}'");
                    }
                    var value = ReadNode(depth + 1);
                    map[name] = value.Node;
                    size += value.Size;
                    chars += key.Chars + value.Chars;
                }
                node = map;
            }
            var tree = new Tree(node, size, chars);
            if (anchor is not null)
            {
                _anchors[anchor] = tree;
            }
            return tree;
        }

        private void CheckDepth(int depth, ParsingEvent start)
        {
            if (depth >= limits.MaxDepth)
            {
                throw new YamlException(start.Start, start.End, $"document nests mappings and sequences deeper than {limits.MaxDepth} levels");
            }
        }
    }

    public static JsonValue? ScalarValue(Scalar scalar)
    {
        var value = scalar.Value;
        var taggedString = !scalar.Tag.IsEmpty && !scalar.Tag.IsNonSpecific && scalar.Tag.Value is "tag:yaml.org,2002:str";
        if (scalar.Style != ScalarStyle.Plain || taggedString)
        {
            return JsonValue.Create(value);
        }
        switch (value)
        {
            case "" or "~" or "null" or "Null" or "NULL":
                return null;
            case "true" or "True" or "TRUE":
                return JsonValue.Create(true);
            case "false" or "False" or "FALSE":
                return JsonValue.Create(false);
        }
        if (IntegerPattern().IsMatch(value))
        {
            if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var signed))
            {
                return JsonValue.Create(signed);
            }
            if (ulong.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var unsigned))
            {
                return JsonValue.Create(unsigned);
            }
        }
        if (FloatPattern().IsMatch(value)
            && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            return JsonValue.Create(number);
        }
        return JsonValue.Create(value);
    }

    [GeneratedRegex("^[-+]?[0-9]+$")]
    private static partial Regex IntegerPattern();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex FloatPattern();
}
