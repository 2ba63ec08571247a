using System.Globalization;
using System.Text;
using CsCheck;

namespace BgpLb.Config.Tests.Yaml;

/// <summary>A JSON-like tree to write as YAML.</summary>
public abstract record YNode;

public sealed record YLeaf(string Text) : YNode;

public sealed record YMap((string Key, YNode Value)[] Entries) : YNode;

public sealed record YSeq(YNode[] Items) : YNode;

/// <summary>Random trees, and random YAML for them in the styles manifests use (and some they should not).</summary>
internal static class YamlGen
{
    private static readonly string[] Words =
    [
        "a", "b", "name", "namespace", "spec", "port", "web", "svc-1", "kubernetes.io/service-name", "app.kubernetes.io/name",
        "198.18.16.1", "10.0.0.1/24", "TCP", "LoadBalancer", "node-a", "metallb.io/v1beta1", "http://x.example/a?b=c&d=e",
        "65535:65281", "large:64513:100:1", "2001:db8::1", "2001:db8:100::/124", "x y z", "dGVzdA+/==", "<b>", "a'b", "it's",
    ];

    private static readonly string[] Tricky =
    [
        "", " ", "  a", "a ", "~", "null", "Null", "NULL", "nuLL", "true", "True", "TRUE", "tRue", "false", "False", "FALSE",
        "yes", "no", "on", "0", "-0", "+1", "-1", "007", "42", "1.", ".5", "-.5", "+.5e-3", "1e3", "1E+3", "1.e5", "1_000",
        "0x1F", "0o17", ".inf", "-.inf", ".nan", "1e999", "-1e999", "9223372036854775807", "9223372036854775808",
        "-9223372036854775808", "-9223372036854775809", "18446744073709551615", "18446744073709551616", "123456789012345678901234",
        "a:b", "a: b", "a:", ":a", ": a", "#", "#a", "a#b", "a #b", "- a", "-a", "-", "--", "---", "...", "--- a", "'", "''", "\"",
        "a\"b", "\\", "\\n", "a\\", "é", "日本語", "😀", "a\tb", "\t", "[a]", "[", "]", "{a}", "{", "}", "a,b", ",", "&a", "*a",
        "!a", "!!str", "|", ">", "?", "?a", "? a", "%", "%YAML", "@a", "`a", "a\nb", "a\n\nb", "\n", "a\r\nb", "\u0085", "a\u2028b",
        "\u00a0", "\u00a0a", "<>&+", "\0", "\u0001", "\u007f", "\ufeff", "a  b", "a\u0009#", "x: [y]", "{a: b}", "&a b", "*a b",
    ];

    public static readonly Gen<string> Text = Gen.Frequency(
        (8, Gen.OneOf(Words)),
        (5, Gen.OneOf(Tricky)),
        (2, Gen.Char[' ', '~'].Array[1, 12].Select(c => new string(c))),
        (1, Gen.Char['\0', '\u00ff'].Array[0, 8].Select(c => new string(c))),
        (1, Gen.Select(Gen.Int[1, 1200], Gen.Char['a', 'z']).Select((n, c) => new string(c, n))),
        (2, Gen.Long.Select(v => v.ToString(CultureInfo.InvariantCulture))),
        (1, Gen.Double.Select(v => v.ToString("R", CultureInfo.InvariantCulture))));

    private static readonly Gen<string> Key = Gen.Frequency((6, Gen.OneOf(Words)), (1, Text));

    public static readonly Gen<YNode> Node = Gen.Recursive<YNode>((depth, self) =>
    {
        var leaf = Text.Select(YNode (t) => new YLeaf(t));
        if (depth >= 5)
        {
            return leaf;
        }
        var map = Gen.Select(Key, self).Array[0, 6].Select(YNode (entries) => new YMap(entries));
        var seq = self.Array[0, 5].Select(YNode (items) => new YSeq(items));
        return Gen.Frequency((5, leaf), (3, map), (2, seq));
    });

    public static readonly Gen<YNode> Document = Gen.Frequency(
        (6, Gen.Select(Key, Node).Array[1, 8].Select(YNode (entries) => new YMap(entries))),
        (2, Node));

    /// <summary>Documents and the seed of the style choices.</summary>
    public static readonly Gen<(YNode[] Documents, int Seed)> Stream = Gen.Select(Document.Array[1, 4], Gen.Int);

    public static string Write((YNode[] Documents, int Seed) stream) => new YamlWriter(new Random(stream.Seed)).Stream(stream.Documents);

    /// <summary>Writes a tree as YAML, choosing a style for every node with <paramref name="random"/>.</summary>
    private sealed class YamlWriter(Random random)
    {
        private readonly StringBuilder _out = new();
        private bool _crlf;

        private bool Chance(double p) => random.NextDouble() < p;

        public string Stream(YNode[] documents)
        {
            _crlf = Chance(0.2);
            for (var i = 0; i < documents.Length; i++)
            {
                if (i > 0 || Chance(0.5))
                {
                    if (i > 0 && Chance(0.1))
                    {
                        Line("...");
                    }
                    _out.Append("---");
                    if (Chance(0.15))
                    {
                        _out.Append(" # document ").Append(i);
                    }
                    NewLine();
                }
                Comments(0);
                Root(documents[i]);
            }
            if (Chance(0.1))
            {
                _out.Append(Chance(0.5) ? "---" : "...");
                if (Chance(0.5))
                {
                    NewLine();
                }
            }
            var text = _out.ToString();
            return _crlf ? text.Replace("\n", "\r\n", StringComparison.Ordinal) : text;
        }

        private void Root(YNode node)
        {
            var indent = Chance(0.1) ? random.Next(1, 3) : 0;
            switch (node)
            {
                case YMap { Entries.Length: > 0 } map when Chance(0.85):
                    _out.Append(' ', indent);
                    BlockMapping(map, indent);
                    break;
                case YSeq { Items.Length: > 0 } seq when Chance(0.8):
                    _out.Append(' ', indent);
                    BlockSequence(seq, indent);
                    break;
                case YLeaf leaf when Chance(0.1):
                    break;
                default:
                    Flow(node, -1);
                    EndOfLine();
                    break;
            }
        }

        /// <summary>A block mapping whose first key goes where the output is now (after indentation or "- ").</summary>
        private void BlockMapping(YMap map, int indent)
        {
            var step = random.Next(1, 5);
            for (var i = 0; i < map.Entries.Length; i++)
            {
                if (i > 0)
                {
                    Comments(indent);
                    _out.Append(' ', indent);
                }
                var (key, value) = map.Entries[i];
                Scalar(key, flow: false);
                switch (value)
                {
                    case YLeaf { Text: "" or "null" or "~" } when Chance(0.5):
                        _out.Append(':');
                        EndOfLine();
                        break;
                    case YMap { Entries.Length: > 0 } child when Chance(0.8):
                        _out.Append(':');
                        EndOfLine();
                        Comments(indent + step);
                        _out.Append(' ', indent + step);
                        BlockMapping(child, indent + step);
                        break;
                    case YSeq { Items.Length: > 0 } child when Chance(0.8):
                        _out.Append(':');
                        EndOfLine();
                        var sequenceIndent = Chance(0.5) ? indent : indent + step;
                        Comments(sequenceIndent);
                        _out.Append(' ', sequenceIndent);
                        BlockSequence(child, sequenceIndent);
                        break;
                    case YLeaf leaf when Chance(0.05):
                        // The value on its own line.
                        _out.Append(':');
                        EndOfLine();
                        _out.Append(' ', indent + step);
                        Scalar(leaf.Text, flow: false);
                        EndOfLine();
                        break;
                    default:
                        _out.Append(':').Append(' ', Chance(0.9) ? 1 : 2);
                        Flow(value, indent);
                        EndOfLine();
                        break;
                }
            }
        }

        /// <summary>A block sequence whose first "-" goes where the output is now.</summary>
        private void BlockSequence(YSeq seq, int indent)
        {
            for (var i = 0; i < seq.Items.Length; i++)
            {
                if (i > 0)
                {
                    Comments(indent);
                    _out.Append(' ', indent);
                }
                _out.Append('-');
                var step = Chance(0.8) ? 2 : random.Next(1, 5);
                switch (seq.Items[i])
                {
                    case YMap { Entries.Length: > 0 } map when Chance(0.7):
                        _out.Append(' ', step);
                        BlockMapping(map, indent + 1 + step);
                        break;
                    case YMap { Entries.Length: > 0 } map when Chance(0.5):
                        EndOfLine();
                        _out.Append(' ', indent + step);
                        BlockMapping(map, indent + step);
                        break;
                    case YSeq { Items.Length: > 0 } child when Chance(0.5):
                        _out.Append(' ', step);
                        BlockSequence(child, indent + step + 1);
                        break;
                    case YLeaf { Text: "" or "null" } when Chance(0.3):
                        EndOfLine();
                        break;
                    case var item:
                        _out.Append(' ');
                        Flow(item, indent);
                        EndOfLine();
                        break;
                }
            }
        }

        /// <summary>A node in flow style; continuation lines go deeper than <paramref name="blockIndent"/> (mostly).</summary>
        private void Flow(YNode node, int blockIndent)
        {
            switch (node)
            {
                case YLeaf leaf:
                    Scalar(leaf.Text, flow: _flowDepth > 0);
                    break;
                case YMap map:
                    _flowDepth++;
                    _out.Append('{');
                    for (var i = 0; i < map.Entries.Length; i++)
                    {
                        Separator(i, blockIndent);
                        Scalar(map.Entries[i].Key, flow: true);
                        _out.Append(": ");
                        Flow(map.Entries[i].Value, blockIndent);
                    }
                    _out.Append('}');
                    _flowDepth--;
                    break;
                case YSeq seq:
                    _flowDepth++;
                    _out.Append('[');
                    for (var i = 0; i < seq.Items.Length; i++)
                    {
                        Separator(i, blockIndent);
                        Flow(seq.Items[i], blockIndent);
                    }
                    _out.Append(']');
                    _flowDepth--;
                    break;
            }
        }

        private int _flowDepth;

        private void Separator(int index, int blockIndent)
        {
            if (index > 0)
            {
                _out.Append(',');
            }
            if (Chance(0.1))
            {
                if (Chance(0.3))
                {
                    _out.Append(" # in flow");
                }
                NewLine();
                _out.Append(' ', Math.Max(0, blockIndent + (Chance(0.9) ? random.Next(1, 4) : 0)));
            }
            else if (index > 0)
            {
                _out.Append(' ');
            }
        }

        private void Scalar(string text, bool flow)
        {
            var plainLooksSafe = text.Length > 0 && !text.Any(c => c is ':' or '#' or '\n' or '\r' or '\t' or '"' or '\'' || (flow && c is ',' or '[' or ']' or '{' or '}'))
                && !"-?,[]{}&*!|>%@` ".Contains(text[0], StringComparison.Ordinal) && text[^1] != ' ';
            var style = random.Next(10);
            if ((plainLooksSafe && style < 7) || style == 0)
            {
                _out.Append(text);
            }
            else if (style < 9 && !text.Contains('\n', StringComparison.Ordinal))
            {
                _out.Append('\'').Append(text.Replace("'", "''", StringComparison.Ordinal)).Append('\'');
            }
            else
            {
                DoubleQuoted(text);
            }
        }

        private void DoubleQuoted(string text)
        {
            _out.Append('"');
            foreach (var rune in text.EnumerateRunes())
            {
                var c = rune.Value;
                switch (c)
                {
                    case '"' or '\\':
                        _out.Append('\\').Append((char)c);
                        break;
                    case '\n' when Chance(0.5):
                        _out.Append("\\n");
                        break;
                    case '\t' when Chance(0.5):
                        _out.Append("\\t");
                        break;
                    case < 0x20 or 0x7f or 0x85 or 0x2028 or 0x2029 or 0xfeff:
                        _out.Append(c <= 0xff && Chance(0.5) ? $"\\x{c:x2}" : $"\\u{c:X4}");
                        break;
                    case > 0xffff when Chance(0.5):
                        _out.Append(CultureInfo.InvariantCulture, $"\\U{c:X8}");
                        break;
                    case > 0x7f when Chance(0.3):
                        _out.Append(CultureInfo.InvariantCulture, $"\\u{c:x4}");
                        break;
                    case ' ' when Chance(0.05):
                        _out.Append("\\ ");
                        break;
                    case '/' when Chance(0.5):
                        _out.Append("\\/");
                        break;
                    default:
                        _out.Append(rune.ToString());
                        break;
                }
            }
            _out.Append('"');
        }

        private void EndOfLine()
        {
            if (Chance(0.1))
            {
                _out.Append(' ', random.Next(1, 3));
            }
            if (Chance(0.1))
            {
                _out.Append(" # comment: 'with' [odd] {chars}, é");
            }
            NewLine();
        }

        private void Comments(int indent)
        {
            while (Chance(0.08))
            {
                if (Chance(0.5))
                {
                    _out.Append(' ', Chance(0.7) ? indent : random.Next(0, 8)).Append("# note ").Append(random.Next(100));
                }
                NewLine();
            }
        }

        private void Line(string text)
        {
            _out.Append(text);
            NewLine();
        }

        private void NewLine() => _out.Append('\n');
    }
}
