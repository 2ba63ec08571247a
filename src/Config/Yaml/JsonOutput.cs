using System.Buffers;
using System.Buffers.Text;
using System.Text.Json;

namespace BgpLb.Config.Yaml;

/// <summary>
/// Minified JSON into a pooled buffer, byte for byte what <see cref="Utf8JsonWriter"/> with default
/// options writes (and so what <see cref="System.Text.Json.Nodes.JsonNode"/> writes), without its per-call checks: strings
/// of plain ASCII are copied, the rest is escaped by System.Text.Json itself.
/// </summary>
internal sealed class JsonOutput : IDisposable
{
    // Printable ASCII that Utf8JsonWriter's default encoder leaves alone; it escapes " & ' + < > \ ` and everything else.
    private static readonly SearchValues<byte> Escaped = SearchValues.Create(EscapedBytes());

    private readonly ArrayBufferWriter<byte> _doubleText = new(32);
    private Utf8JsonWriter? _doubleWriter;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(4096);
    private int _length;
    private bool _comma;

    public ReadOnlyMemory<byte> Written => _buffer.AsMemory(0, _length);

    public void Clear()
    {
        _length = 0;
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
        Utf8Formatter.TryFormat(value, Reserve(20), out var written);
        _length += written;
        _comma = true;
    }

    public void Number(ulong value)
    {
        Separator();
        Utf8Formatter.TryFormat(value, Reserve(20), out var written);
        _length += written;
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
        if (_length == _buffer.Length)
        {
            Reserve(1);
        }
        _buffer[_length++] = value;
    }

    private void Raw(ReadOnlySpan<byte> text, bool quoted)
    {
        if (quoted)
        {
            var span = Reserve(text.Length + 2);
            span[0] = (byte)'"';
            text.CopyTo(span[1..]);
            span[text.Length + 1] = (byte)'"';
            _length += text.Length + 2;
        }
        else
        {
            text.CopyTo(Reserve(text.Length));
            _length += text.Length;
        }
    }

    private Span<byte> Reserve(int count)
    {
        if (_length + count > _buffer.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_length + count, _buffer.Length * 2));
            _buffer.AsSpan(0, _length).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }
        return _buffer.AsSpan(_length);
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

    public void Dispose()
    {
        _doubleWriter?.Dispose();
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }
}
