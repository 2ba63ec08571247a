using System.Buffers;
using System.Buffers.Text;
using System.Text.Json;

namespace BgpLb.Config.Yaml;

/// <summary>
/// Minified JSON into a <see cref="PooledBufferWriter"/>, byte for byte what <see cref="Utf8JsonWriter"/> with default
/// options writes (and so what <see cref="System.Text.Json.Nodes.JsonNode"/> writes), without its per-call checks: strings
/// of plain ASCII are copied, the rest is escaped by System.Text.Json itself.
/// </summary>
internal sealed class JsonOutput(PooledBufferWriter output) : IDisposable
{
    // Printable ASCII that Utf8JsonWriter's default encoder leaves alone; it escapes " & ' + < > \ ` and everything else.
    private static readonly SearchValues<byte> Escaped = SearchValues.Create(EscapedBytes());

    private readonly ArrayBufferWriter<byte> _doubleText = new(32);
    private Utf8JsonWriter? _doubleWriter;
    private bool _comma;

    public void Clear()
    {
        output.Clear();
        _comma = false;
    }

    public void StartObject() => Open((byte)'{');

    public void StartArray() => Open((byte)'[');

    public void EndObject() => Close((byte)'}');

    public void EndArray() => Close((byte)']');

    public void PropertyName(ReadOnlySpan<byte> utf8)
    {
        String(utf8);
        Byte((byte)':');
        _comma = false;
    }

    public void String(ReadOnlySpan<byte> utf8)
    {
        Separator();
        if (utf8.ContainsAny(Escaped))
        {
            Raw(JsonEncodedText.Encode(utf8).EncodedUtf8Bytes, quoted: true);
        }
        else
        {
            Raw(utf8, quoted: true);
        }
        _comma = true;
    }

    public void Null() => Literal("null"u8);

    public void Boolean(bool value) => Literal(value ? "true"u8 : "false"u8);

    public void Number(long value)
    {
        Separator();
        var span = output.GetSpan(20);
        Utf8Formatter.TryFormat(value, span, out var written);
        output.Advance(written);
        _comma = true;
    }

    public void Number(ulong value)
    {
        Separator();
        var span = output.GetSpan(20);
        Utf8Formatter.TryFormat(value, span, out var written);
        output.Advance(written);
        _comma = true;
    }

    public void Number(double value)
    {
        // Rare in manifests; let Utf8JsonWriter pick the shortest round-trip text.
        _doubleText.ResetWrittenCount();
        if (_doubleWriter is null)
        {
            _doubleWriter = new Utf8JsonWriter(_doubleText);
        }
        else
        {
            _doubleWriter.Reset(_doubleText);
        }
        _doubleWriter.WriteNumberValue(value);
        _doubleWriter.Flush();
        Literal(_doubleText.WrittenSpan);
    }

    private void Open(byte bracket)
    {
        Separator();
        Byte(bracket);
        _comma = false;
    }

    private void Close(byte bracket)
    {
        Byte(bracket);
        _comma = true;
    }

    private void Literal(ReadOnlySpan<byte> text)
    {
        Separator();
        Raw(text, quoted: false);
        _comma = true;
    }

    private void Separator()
    {
        if (_comma)
        {
            Byte((byte)',');
        }
    }

    private void Byte(byte value)
    {
        output.GetSpan(1)[0] = value;
        output.Advance(1);
    }

    private void Raw(ReadOnlySpan<byte> text, bool quoted)
    {
        var extra = quoted ? 2 : 0;
        var span = output.GetSpan(text.Length + extra);
        if (quoted)
        {
            span[0] = (byte)'"';
            text.CopyTo(span[1..]);
            span[text.Length + 1] = (byte)'"';
        }
        else
        {
            text.CopyTo(span);
        }
        output.Advance(text.Length + extra);
    }

    private static byte[] EscapedBytes()
    {
        var bytes = new List<byte>();
        for (var b = 0; b < 256; b++)
        {
            if (b < 0x20 || b >= 0x7F || b is '"' or '&' or '\'' or '+' or '<' or '>' or '\\' or '`')
            {
                bytes.Add((byte)b);
            }
        }
        return [.. bytes];
    }

    public void Dispose() => _doubleWriter?.Dispose();
}
