using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace BgpLb.Config;

/// <summary>One YAML document as a JSON tree, with the line where it starts.</summary>
internal sealed record YamlDocument(JsonNode? Root, int Line);

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
        while (parser.TryConsume<DocumentStart>(out _))
        {
            var anchors = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
            var line = (int)parser.Current!.Start.Line;
            var root = ReadNode(parser, anchors);
            parser.Consume<DocumentEnd>();
            documents.Add(new YamlDocument(root, line));
        }
        parser.Consume<StreamEnd>();
        return documents;
    }

    private static JsonNode? ReadNode(IParser parser, Dictionary<string, JsonNode?> anchors)
    {
        if (parser.TryConsume<AnchorAlias>(out var alias))
        {
            return anchors.TryGetValue(alias.Value.Value, out var target)
                ? target?.DeepClone()
                : throw new YamlException(alias.Start, alias.End, $"unknown alias '{alias.Value}'");
        }
        JsonNode? node;
        string? anchor;
        if (parser.TryConsume<Scalar>(out var scalar))
        {
            anchor = scalar.Anchor.IsEmpty ? null : scalar.Anchor.Value;
            node = ScalarValue(scalar);
        }
        else if (parser.TryConsume<SequenceStart>(out var sequenceStart))
        {
            anchor = sequenceStart.Anchor.IsEmpty ? null : sequenceStart.Anchor.Value;
            var array = new JsonArray();
            while (!parser.TryConsume<SequenceEnd>(out _))
            {
                array.Add(ReadNode(parser, anchors));
            }
            node = array;
        }
        else
        {
            var mappingStart = parser.Consume<MappingStart>();
            anchor = mappingStart.Anchor.IsEmpty ? null : mappingStart.Anchor.Value;
            var map = new JsonObject();
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                var keyStart = parser.Current!.Start;
                var key = ReadNode(parser, anchors);
                if (key is not JsonValue keyValue)
                {
                    throw new YamlException(keyStart, keyStart, "mapping keys must be scalars");
                }
                var name = keyValue.TryGetValue<string>(out var text) ? text : keyValue.ToJsonString();
                if (map.ContainsKey(name))
                {
                    throw new YamlException(keyStart, keyStart, $"duplicate key '{name}'");
                }
                map[name] = ReadNode(parser, anchors);
            }
            node = map;
        }
        if (anchor is not null)
        {
            anchors[anchor] = node;
        }
        return node;
    }

    private static JsonValue? ScalarValue(Scalar scalar)
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
