using System.Buffers;
using System.Text;

namespace BgpLb.Config.Yaml;

internal enum FastPathResult
{
    Document,
    /// <summary>Only comments and blank lines, and no "---": the whole stream would have no document here.</summary>
    NoDocument,
    Fallback,
}

/// <summary>Buffers the fast path reuses from document to document.</summary>
internal sealed class FastPathScratch : IDisposable
{
    private byte[] _unescaped = ArrayPool<byte>.Shared.Rent(256);

    public KeySet Keys { get; } = new();

    public Span<byte> Unescaped(int length)
    {
        if (_unescaped.Length < length)
        {
            ArrayPool<byte>.Shared.Return(_unescaped);
            _unescaped = ArrayPool<byte>.Shared.Rent(length);
        }
        return _unescaped;
    }

    public void Dispose()
    {
        Keys.Dispose();
        ArrayPool<byte>.Shared.Return(_unescaped);
        _unescaped = [];
    }
}

/// <summary>
/// Reads one document of the YAML that Kubernetes manifests use straight from UTF-8 into JSON (<see cref="JsonOutput"/>):
/// block mappings and sequences (also "- " items at their key's indentation and compact "- key: value" mappings), flow
/// mappings and sequences over one or more lines, one-line plain and quoted scalars, comments. Whatever it is not sure
/// about yields <see cref="FastPathResult.Fallback"/>, and the caller hands the document to YamlDotNet: the result of
/// this parser must always be the tree YamlDotNet builds (<see cref="YamlJson"/>), so anything YamlDotNet would reject or
/// read differently (tabs, anchors, tags, block scalars, multi-line scalars, ':' in a flow scalar, duplicate keys...)
/// is left to it.
/// </summary>
internal ref struct FastYamlParser
{
    // YamlDotNet drops a simple key (and so reads a different tree) once its ':' is 1024 characters away.
    private const int MaxKeyLength = 1000;

    // Per byte: whether it ends or interrupts a plain scalar in block context (Block) or only in flow context (Flow);
    // scalars are short, so a table beats a vectorized search. Also whether it may not start a plain scalar.
    private static readonly PlainByte[] PlainBytes = PlainByteTable();
    private static readonly SearchValues<byte> SingleQuotedStops = QuotedStops("'");
    private static readonly SearchValues<byte> DoubleQuotedStops = QuotedStops("\"\\");

    private readonly ReadOnlySpan<byte> _text;
    private readonly JsonOutput _json;
    private readonly FastPathScratch _scratch;
    private readonly int _maxDepth;
    private ScannerCarryOver _carryOver;
    private int _pos;
    private int _lineStart;
    private int _lines;
    // Column of the content line at _pos, or -1 at the end of the document.
    private int _indent;
    private int _depth;
    private int _flowLevel;

    private FastYamlParser(ReadOnlySpan<byte> text, JsonOutput json, FastPathScratch scratch, int maxDepth, ScannerCarryOver carryOver)
    {
        _text = text;
        _json = json;
        _scratch = scratch;
        _maxDepth = maxDepth;
        _carryOver = carryOver;
    }

    /// <param name="chunk">One document's lines: an optional "---" line, the body, an optional "..." line.</param>
    /// <param name="startsWithMarker">Whether the first line is "---".</param>
    /// <param name="endMarker">Offset of the "..." line, or -1.</param>
    /// <param name="carryOver">YamlDotNet's scanner flags before the chunk; updated when the result is not Fallback.</param>
    /// <param name="rootLine">Line of the root node (or of the end of an empty document), counted from the chunk's first line as 0.</param>
    public static FastPathResult Parse(ReadOnlySpan<byte> chunk, bool startsWithMarker, int endMarker, JsonOutput json,
        FastPathScratch scratch, int maxDepth, ref ScannerCarryOver carryOver, out int rootLine)
    {
        rootLine = 0;
        scratch.Keys.Clear();
        var parser = new FastYamlParser(endMarker >= 0 ? chunk[..endMarker] : chunk, json, scratch, maxDepth, carryOver);
        if (startsWithMarker)
        {
            parser._pos = 3;
            if (!parser.FinishLine())
            {
                return FastPathResult.Fallback;
            }
        }
        else if (!parser.NextContentLine())
        {
            return FastPathResult.Fallback;
        }
        if (endMarker >= 0 && !IsBlankLineRest(chunk[(endMarker + 3)..]))
        {
            return FastPathResult.Fallback;
        }
        if (parser._indent < 0)
        {
            if (!startsWithMarker)
            {
                return FastPathResult.NoDocument;
            }
            // An empty document sits where the next token is: the "..." line, the next "---", or past the last line.
            rootLine = parser._lines + (endMarker < 0 && chunk[^1] != '\n' ? 1 : 0);
            return FastPathResult.Document;
        }
        rootLine = parser._lines;
        if (!parser.ParseBlockNode(parser._indent, parentIndent: -1) || parser._indent >= 0)
        {
            return FastPathResult.Fallback;
        }
        carryOver = parser._carryOver;
        return FastPathResult.Document;
    }

    private bool ParseBlockNode(int column, int parentIndent)
    {
        var first = _text[_pos];
        if (first == '-' && IsBlankAt(_pos + 1))
        {
            return ParseBlockSequence(column);
        }
        if (first is (byte)'[' or (byte)'{')
        {
            return ParseFlowCollection(blockIndent: parentIndent) && FinishLine();
        }
        if (!ScanBlockScalar(out var scalar, out var colon))
        {
            return false;
        }
        return colon >= 0 ? ParseBlockMapping(column, scalar, colon) : WriteScalar(scalar) && FinishLine();
    }

    private bool ParseBlockMapping(int indent, Scalar key, int colon)
    {
        if (++_depth > _maxDepth)
        {
            return false;
        }
        _json.StartObject();
        var keys = _scratch.Keys.BeginMapping();
        while (true)
        {
            if (!WriteKey(ref keys, key))
            {
                return false;
            }
            _pos = colon + 1;
            SkipSpaces();
            if (AtLineEnd())
            {
                if (!FinishLine())
                {
                    return false;
                }
                if (_indent > indent)
                {
                    if (!ParseBlockNode(_indent, indent))
                    {
                        return false;
                    }
                }
                else if (_indent == indent && IsSequenceEntry())
                {
                    // Kubernetes' style: the sequence's "- " at the key's own indentation.
                    if (!ParseBlockSequence(indent))
                    {
                        return false;
                    }
                }
                else
                {
                    _json.Null();
                }
            }
            else if (!ParseInlineValue(indent))
            {
                return false;
            }
            if (_indent < indent)
            {
                break;
            }
            if (_indent > indent || IsSequenceEntry() || !ScanBlockScalar(out key, out colon) || colon < 0)
            {
                return false;
            }
        }
        _json.EndObject();
        _depth--;
        return true;
    }

    private bool ParseBlockSequence(int indent)
    {
        if (++_depth > _maxDepth)
        {
            return false;
        }
        _json.StartArray();
        while (true)
        {
            _pos++;
            SkipSpaces();
            if (AtLineEnd())
            {
                if (!FinishLine())
                {
                    return false;
                }
                if (_indent > indent)
                {
                    if (!ParseBlockNode(_indent, indent))
                    {
                        return false;
                    }
                }
                else
                {
                    _json.Null();
                }
            }
            else if (!ParseBlockNode(_pos - _lineStart, indent))
            {
                return false;
            }
            if (_indent < indent)
            {
                break;
            }
            if (_indent > indent)
            {
                return false;
            }
            if (!IsSequenceEntry())
            {
                break;
            }
        }
        _json.EndArray();
        _depth--;
        return true;
    }

    /// <summary>The value after "key: " on the same line.</summary>
    private bool ParseInlineValue(int blockIndent)
    {
        if (_text[_pos] is (byte)'[' or (byte)'{')
        {
            return ParseFlowCollection(blockIndent) && FinishLine();
        }
        return ScanBlockScalar(out var scalar, out var colon) && colon < 0 && WriteScalar(scalar) && FinishLine();
    }

    /// <param name="blockIndent">Indentation of the innermost block collection: continuation lines must go deeper.</param>
    private bool ParseFlowCollection(int blockIndent)
    {
        if (++_depth > _maxDepth)
        {
            return false;
        }
        var isMapping = _text[_pos] == '{';
        var close = isMapping ? (byte)'}' : (byte)']';
        var keys = default(KeySet.Mapping);
        if (isMapping)
        {
            _json.StartObject();
            keys = _scratch.Keys.BeginMapping();
        }
        else
        {
            _json.StartArray();
        }
        _carryOver.OnFlowCollectionStart();
        _flowLevel++;
        _pos++;
        if (!SkipFlowSpace(blockIndent))
        {
            return false;
        }
        if (_text[_pos] != close)
        {
            while (true)
            {
                if (isMapping)
                {
                    if (!ScanFlowKey(out var key, out var colon) || !WriteKey(ref keys, key))
                    {
                        return false;
                    }
                    _pos = colon + 1;
                    if (!SkipFlowSpace(blockIndent) || _text[_pos] is (byte)',' or (byte)'}')
                    {
                        return false;
                    }
                }
                if (!ParseFlowNode(blockIndent) || !SkipFlowSpace(blockIndent))
                {
                    return false;
                }
                if (_text[_pos] == close)
                {
                    break;
                }
                // YamlDotNet rejects a comment right after ','; a trailing comma is left to it as well.
                if (_text[_pos] != ',' || ByteAt(_pos + 1) == '#')
                {
                    return false;
                }
                _pos++;
                if (!SkipFlowSpace(blockIndent) || _text[_pos] == close)
                {
                    return false;
                }
            }
        }
        _pos++;
        _carryOver.OnFlowCollectionEnd();
        _flowLevel--;
        if (ByteAt(_pos) == '#')
        {
            return false;
        }
        if (isMapping)
        {
            _json.EndObject();
        }
        else
        {
            _json.EndArray();
        }
        _depth--;
        return true;
    }

    private bool ParseFlowNode(int blockIndent)
    {
        var first = _text[_pos];
        if (first is (byte)'[' or (byte)'{')
        {
            return ParseFlowCollection(blockIndent);
        }
        Scalar scalar;
        if (first is (byte)'"' or (byte)'\'')
        {
            if (!ScanQuoted(out scalar) || ByteAt(_pos) is not (-1 or ' ' or ',' or ']' or '}' or '\n' or '\r'))
            {
                return false;
            }
        }
        else if (!IsPlainStart(_pos, flow: true) || !ScanPlain(flow: true, out scalar, out var end) || end == PlainEnd.Colon)
        {
            return false;
        }
        return WriteScalar(scalar);
    }

    private bool ScanFlowKey(out Scalar key, out int colon)
    {
        var start = _pos;
        colon = -1;
        if (_text[_pos] is (byte)'"' or (byte)'\'')
        {
            if (!ScanQuoted(out key))
            {
                return false;
            }
            var i = _pos;
            while (ByteAt(i) == ' ')
            {
                i++;
            }
            if (ByteAt(i) == ':' && ByteAt(i + 1) is -1 or ' ' or '\n' or '\r')
            {
                colon = i;
            }
        }
        else if (IsPlainStart(_pos, flow: true) && ScanPlain(flow: true, out key, out var end) && end == PlainEnd.Colon)
        {
            colon = _pos;
        }
        else
        {
            key = default;
        }
        return colon >= 0 && colon - start < MaxKeyLength;
    }

    /// <summary>A plain or quoted scalar in block context; <paramref name="colon"/> is the offset of its ':' if it is a key.</summary>
    private bool ScanBlockScalar(out Scalar scalar, out int colon)
    {
        scalar = default;
        var start = _pos;
        colon = -1;
        if (_text[_pos] is (byte)'"' or (byte)'\'')
        {
            if (!ScanQuoted(out scalar))
            {
                return false;
            }
            var i = _pos;
            while (ByteAt(i) == ' ')
            {
                i++;
            }
            if (ByteAt(i) == ':')
            {
                if (ByteAt(i + 1) is not (-1 or ' ' or '\n' or '\r'))
                {
                    return false;
                }
                colon = i;
            }
        }
        else
        {
            if (!IsPlainStart(_pos, flow: false) || !ScanPlain(flow: false, out scalar, out var end))
            {
                return false;
            }
            if (end == PlainEnd.Colon)
            {
                colon = _pos;
            }
        }
        return colon - start < MaxKeyLength;
    }

    /// <summary>Scans a plain scalar from its (checked) first byte; leaves <see cref="_pos"/> on what ends it.</summary>
    private bool ScanPlain(bool flow, out Scalar scalar, out PlainEnd end)
    {
        scalar = default;
        end = PlainEnd.Line;
        var start = _pos;
        var i = _pos;
        var stop = flow ? PlainByte.Block | PlainByte.Flow : PlainByte.Block;
        while (true)
        {
            while (i < _text.Length && (PlainBytes[_text[i]] & stop) == 0)
            {
                i++;
            }
            if (i == _text.Length)
            {
                break;
            }
            var b = _text[i];
            if (b == ':')
            {
                if (ByteAt(i + 1) is -1 or ' ' or '\n' or '\r')
                {
                    end = PlainEnd.Colon;
                    break;
                }
                // In flow context YamlDotNet reads such a ':' by state carried across tokens; leave it to YamlDotNet.
                if (flow || ByteAt(i + 1) == '\t')
                {
                    return false;
                }
                i++;
            }
            else if (b == '#')
            {
                if (_text[i - 1] == ' ')
                {
                    break;
                }
                i++;
            }
            else if (b == '\n' || (b == '\r' && ByteAt(i + 1) == '\n'))
            {
                break;
            }
            else if (b is (byte)',' or (byte)']' or (byte)'}')
            {
                end = PlainEnd.FlowIndicator;
                break;
            }
            else if (b is (byte)'*' or (byte)'&' or (byte)'!')
            {
                // After a space YamlDotNet may read it as the start of an alias, anchor or tag (it reads "y *:" as one
                // scalar, not as a key): leave that to YamlDotNet.
                if (_text[i - 1] == ' ')
                {
                    return false;
                }
                i++;
            }
            else if (b < 0x80 || !TrySkipUtf8(ref i))
            {
                return false;
            }
        }
        var contentEnd = i;
        while (contentEnd > start && _text[contentEnd - 1] == ' ')
        {
            contentEnd--;
        }
        scalar = new Scalar(start, contentEnd, Quote: 0, Escaped: false);
        _pos = i;
        return true;
    }

    /// <summary>A one-line quoted scalar; leaves <see cref="_pos"/> after the closing quote.</summary>
    private bool ScanQuoted(out Scalar scalar)
    {
        scalar = default;
        var quote = _text[_pos];
        var stops = quote == '"' ? DoubleQuotedStops : SingleQuotedStops;
        var escaped = false;
        var i = _pos + 1;
        while (true)
        {
            var next = _text[i..].IndexOfAny(stops);
            if (next < 0)
            {
                return false;
            }
            i += next;
            var b = _text[i];
            if (b == quote)
            {
                if (quote == '\'' && ByteAt(i + 1) == '\'')
                {
                    escaped = true;
                    i += 2;
                    continue;
                }
                break;
            }
            if (b == '\\')
            {
                if (!TrySkipEscape(ref i))
                {
                    return false;
                }
                escaped = true;
            }
            else if (b < 0x80 || !TrySkipUtf8(ref i))
            {
                // A line break (a multi-line scalar) or a control character.
                return false;
            }
        }
        scalar = new Scalar(_pos + 1, i, quote, escaped);
        _pos = i + 1;
        return true;
    }

    private readonly bool TrySkipEscape(ref int i)
    {
        var digits = ByteAt(i + 1) switch
        {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            '0' or 'a' or 'b' or 't' or '\t' or 'n' or 'v' or 'f' or 'r' or 'e' or ' ' or '"' or '\\' or '/' or 'N' or '_' or 'L' or 'P' => 0,
            _ => -1,
        };
        if (digits < 0 || !TryParseHex(i + 2, digits, out var codePoint) || codePoint is >= 0xD800 and <= 0xDFFF || codePoint > 0x10FFFF)
        {
            // An unknown escape, a line continuation, or a code point YamlDotNet rejects or pairs up.
            return false;
        }
        i += 2 + digits;
        return true;
    }

    private readonly bool TryParseHex(int start, int digits, out uint value)
    {
        value = 0;
        if (start + digits > _text.Length)
        {
            return false;
        }
        foreach (var b in _text.Slice(start, digits))
        {
            var digit = HexDigit(b);
            if (digit < 0)
            {
                return false;
            }
            value = (value << 4) | (uint)digit;
        }
        return true;
    }

    private static int HexDigit(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };

    /// <summary>Skips one non-ASCII character; false for invalid UTF-8 and for the line breaks YAML 1.1 adds (NEL, LS, PS).</summary>
    private readonly bool TrySkipUtf8(ref int i)
    {
        if (Rune.DecodeFromUtf8(_text[i..], out var rune, out var length) != OperationStatus.Done || rune.Value is 0x85 or 0x2028 or 0x2029)
        {
            return false;
        }
        i += length;
        return true;
    }

    private bool WriteKey(ref KeySet.Mapping keys, in Scalar key)
    {
        ReadOnlySpan<byte> name;
        if (key.Quote == 0)
        {
            name = _text[key.Start..key.End];
            // YamlJson names a key 1, true or 1.5 by its JSON text; rare enough to leave to it.
            if (PlainScalar.Resolve(name, out _, out _, out _) != PlainScalarKind.String)
            {
                return false;
            }
            _carryOver.OnPlainScalar();
        }
        else
        {
            name = Content(key);
            _carryOver.OnQuotedScalar(_flowLevel > 0);
        }
        if (!_scratch.Keys.TryAdd(ref keys, name))
        {
            return false;
        }
        _json.PropertyName(name);
        return true;
    }

    private bool WriteScalar(in Scalar scalar)
    {
        if (scalar.Quote != 0)
        {
            _json.String(Content(scalar));
            _carryOver.OnQuotedScalar(_flowLevel > 0);
            return true;
        }
        var text = _text[scalar.Start..scalar.End];
        switch (PlainScalar.Resolve(text, out var int64, out var uint64, out var number))
        {
            case PlainScalarKind.Null:
                _json.Null();
                break;
            case PlainScalarKind.True:
                _json.Boolean(true);
                break;
            case PlainScalarKind.False:
                _json.Boolean(false);
                break;
            case PlainScalarKind.Int64:
                _json.Number(int64);
                break;
            case PlainScalarKind.UInt64:
                _json.Number(uint64);
                break;
            case PlainScalarKind.Double when double.IsFinite(number):
                _json.Number(number);
                break;
            case PlainScalarKind.Double:
                return false;
            default:
                _json.String(text);
                break;
        }
        _carryOver.OnPlainScalar();
        return true;
    }

    /// <summary>A quoted scalar's value: its bytes, or their unescaped copy in the scratch buffer.</summary>
    private readonly ReadOnlySpan<byte> Content(Scalar scalar)
    {
        var raw = _text[scalar.Start..scalar.End];
        if (!scalar.Escaped)
        {
            return raw;
        }
        // No escape grows by more than half: "\L" (2 bytes) is U+2028 (3 bytes).
        var output = _scratch.Unescaped(raw.Length * 3 / 2 + 4);
        var written = 0;
        for (var i = 0; i < raw.Length; i++)
        {
            var b = raw[i];
            if (scalar.Quote == '\'')
            {
                output[written++] = b;
                if (b == '\'')
                {
                    i++;
                }
                continue;
            }
            if (b != '\\')
            {
                output[written++] = b;
                continue;
            }
            var code = raw[++i];
            var digits = code switch { (byte)'x' => 2, (byte)'u' => 4, (byte)'U' => 8, _ => 0 };
            uint codePoint = code switch
            {
                (byte)'0' => 0,
                (byte)'a' => 0x07,
                (byte)'b' => 0x08,
                (byte)'t' or (byte)'\t' => 0x09,
                (byte)'n' => 0x0A,
                (byte)'v' => 0x0B,
                (byte)'f' => 0x0C,
                (byte)'r' => 0x0D,
                (byte)'e' => 0x1B,
                (byte)'N' => 0x85,
                (byte)'_' => 0xA0,
                (byte)'L' => 0x2028,
                (byte)'P' => 0x2029,
                _ => code,
            };
            if (digits > 0)
            {
                codePoint = 0;
                foreach (var hex in raw.Slice(i + 1, digits))
                {
                    codePoint = (codePoint << 4) | (uint)HexDigit(hex);
                }
                i += digits;
            }
            written += new Rune(codePoint).EncodeToUtf8(output[written..]);
        }
        return output[..written];
    }

    /// <summary>Moves past blank and comment lines to the next content line: <see cref="_pos"/> on its first character.</summary>
    private bool NextContentLine()
    {
        while (true)
        {
            _lineStart = _pos;
            var i = _pos;
            while (ByteAt(i) == ' ')
            {
                i++;
            }
            switch (ByteAt(i))
            {
                case -1:
                    _pos = _text.Length;
                    _indent = -1;
                    return true;
                case '\n':
                    _pos = i + 1;
                    _lines++;
                    continue;
                case '\r' when ByteAt(i + 1) == '\n':
                    _pos = i + 2;
                    _lines++;
                    continue;
                case '#':
                    _pos = i;
                    if (!SkipComment())
                    {
                        return false;
                    }
                    continue;
                case '\t' or '\r':
                    return false;
            }
            if (i == _lineStart && IsMarkerLike(i))
            {
                return false;
            }
            _pos = i;
            _indent = i - _lineStart;
            return true;
        }
    }

    /// <summary>Only spaces and a comment may follow on this line; then <see cref="NextContentLine"/>.</summary>
    private bool FinishLine()
    {
        SkipSpaces();
        switch (ByteAt(_pos))
        {
            case -1:
                break;
            case '\n':
                _pos++;
                _lines++;
                break;
            case '\r' when ByteAt(_pos + 1) == '\n':
                _pos += 2;
                _lines++;
                break;
            case '#' when _text[_pos - 1] == ' ':
                if (!SkipComment())
                {
                    return false;
                }
                break;
            default:
                return false;
        }
        return NextContentLine();
    }

    /// <summary>Skips spaces, line breaks and comments between flow tokens; false at the end of the document.</summary>
    private bool SkipFlowSpace(int blockIndent)
    {
        var newLine = false;
        while (true)
        {
            switch (ByteAt(_pos))
            {
                case -1 or '\t':
                    return false;
                case ' ':
                    _pos++;
                    continue;
                case '\n':
                    _pos++;
                    break;
                case '\r' when ByteAt(_pos + 1) == '\n':
                    _pos += 2;
                    break;
                case '#' when _text[_pos - 1] is (byte)' ' or (byte)'\n':
                    if (!SkipComment())
                    {
                        return false;
                    }
                    _lineStart = _pos;
                    newLine = true;
                    continue;
                default:
                    // YamlDotNet throws InvalidOperationException for a plain scalar left of the block's indentation.
                    return !newLine || (_pos - _lineStart > blockIndent && !(_pos == _lineStart && IsMarkerLike(_pos)));
            }
            _lines++;
            _lineStart = _pos;
            newLine = true;
        }
    }

    /// <summary>From '#' past the end of its line; the comment may hold anything but control characters and odd line breaks.</summary>
    private bool SkipComment()
    {
        var i = _pos + 1;
        while (true)
        {
            var next = _text[i..].IndexOfAnyExceptInRange((byte)' ', (byte)'~');
            if (next < 0)
            {
                _pos = _text.Length;
                return true;
            }
            i += next;
            switch (_text[i])
            {
                case (byte)'\t':
                    i++;
                    continue;
                case (byte)'\n':
                    _pos = i + 1;
                    _lines++;
                    return true;
                case (byte)'\r' when ByteAt(i + 1) == '\n':
                    _pos = i + 2;
                    _lines++;
                    return true;
                case >= 0x80 when TrySkipUtf8(ref i):
                    continue;
                default:
                    return false;
            }
        }
    }

    /// <summary>The rest of a "---" or "..." line: blanks and a comment.</summary>
    private static bool IsBlankLineRest(ReadOnlySpan<byte> rest)
    {
        var line = new FastYamlParser(rest, null!, null!, 0, default);
        line.SkipSpaces();
        return line.ByteAt(line._pos) switch
        {
            -1 or '\n' => true,
            '\r' => line.ByteAt(line._pos + 1) == '\n',
            '#' => line._pos > 0 && line.SkipComment(),
            _ => false,
        };
    }

    private void SkipSpaces()
    {
        while (ByteAt(_pos) == ' ')
        {
            _pos++;
        }
    }

    private readonly bool AtLineEnd() => ByteAt(_pos) is -1 or '\n' or '\r' or '#';

    private readonly bool IsSequenceEntry() => ByteAt(_pos) == '-' && IsBlankAt(_pos + 1);

    private readonly bool IsBlankAt(int i) => ByteAt(i) is -1 or ' ' or '\t' or '\n' or '\r';

    /// <summary>"---" or "..." at a line start: a document marker, or a plain scalar YamlDotNet might read as one.</summary>
    private readonly bool IsMarkerLike(int i) => ByteAt(i) is '-' or '.' && ByteAt(i + 1) == ByteAt(i) && ByteAt(i + 2) == ByteAt(i);

    private readonly bool IsPlainStart(int i, bool flow)
    {
        var first = _text[i];
        if (first == '-')
        {
            var next = ByteAt(i + 1);
            return next is not (-1 or ' ' or '\t' or '\n' or '\r' or '#') && !(flow && next is ',' or '[' or ']' or '{' or '}');
        }
        return (PlainBytes[first] & PlainByte.NotStart) == 0;
    }

    /// <summary>The byte at <paramref name="i"/>, or -1 past the end.</summary>
    private readonly int ByteAt(int i) => (uint)i < (uint)_text.Length ? _text[i] : -1;

    /// <summary>What ends or interrupts a quoted scalar: its quote (and escape), line breaks and other control characters, non-ASCII.</summary>
    private static SearchValues<byte> QuotedStops(string specials)
    {
        var bytes = new List<byte>();
        for (var b = 0; b < 256; b++)
        {
            if ((b < 0x20 && b != '\t') || b >= 0x7F || specials.Contains((char)b, StringComparison.Ordinal))
            {
                bytes.Add((byte)b);
            }
        }
        return SearchValues.Create(bytes.ToArray());
    }

    private static PlainByte[] PlainByteTable()
    {
        var table = new PlainByte[256];
        for (var b = 0; b < 256; b++)
        {
            if (b < 0x20 || b >= 0x7F || b is ':' or '#' or '*' or '&' or '!')
            {
                table[b] |= PlainByte.Block;
            }
            else if (b is ',' or '[' or ']' or '{' or '}')
            {
                table[b] |= PlainByte.Flow;
            }
            if (b < 0x20 || b == 0x7F || "?:,[]{}#&*!|>'\"%@` ".Contains((char)b, StringComparison.Ordinal))
            {
                table[b] |= PlainByte.NotStart;
            }
        }
        return table;
    }

    [Flags]
    private enum PlainByte : byte
    {
        None = 0,
        Block = 1,
        Flow = 2,
        NotStart = 4,
    }

    private enum PlainEnd
    {
        Line,
        Colon,
        FlowIndicator,
    }

    /// <summary>A scalar's bytes: a plain scalar without trailing spaces, or a quoted one between its quotes.</summary>
    private readonly record struct Scalar(int Start, int End, byte Quote, bool Escaped);
}
