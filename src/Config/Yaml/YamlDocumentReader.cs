using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace BgpLb.Config.Yaml;

/// <summary>
/// Reads a multi-document YAML stream one document at a time as JSON, with <see cref="YamlJson"/>'s meaning (what
/// sigs.k8s.io/yaml gives kubectl). The stream is cut into documents at "---" and "..." lines (YAML allows neither
/// inside a scalar at column 0), and only the current document is held. Each document goes through
/// <see cref="FastYamlParser"/>, or through YamlDotNet when the fast path is not sure of it.
/// </summary>
internal sealed class YamlDocumentReader : IDisposable
{
    private const int InitialBufferSize = 64 * 1024;

    private readonly Stream _stream;
    private readonly YamlReaderOptions _options;
    private readonly YamlTreeLimits _limits;
    private readonly JsonDocumentOptions _documentOptions;
    private readonly PooledBufferWriter _output = new(4096);
    private readonly Utf8JsonWriter _writer;
    private readonly JsonOutput _fastOutput;
    private readonly FastPathScratch _scratch = new();
    private readonly Queue<(JsonNode? Root, int Line)> _fallbackDocuments = new();
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(InitialBufferSize);
    // The next chunk starts at _start; bytes up to _end have been read.
    private int _start;
    private int _end;
    private bool _endOfStream;
    private bool _started;
    // The line of _start, counting line breaks as YamlDotNet does.
    private int _line = 1;
    private ScannerCarryOver _carryOver;
    // Set once YamlDotNet reads the rest of the stream (directives, documents after "...", errors).
    private FallbackParser? _rest;
    private JsonDocument? _document;
    private bool _failed;

    public YamlDocumentReader(Stream utf8Yaml, YamlReaderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(utf8Yaml);
        _options = options ?? YamlReaderOptions.Default;
        _stream = new LimitedReadStream(utf8Yaml, _options.MaxStreamBytes);
        _limits = new YamlTreeLimits(_options.MaxAliasExpansion, _options.MaxAliasedChars, _options.MaxDepth, RejectNonFiniteNumbers: true);
        _documentOptions = new JsonDocumentOptions { MaxDepth = _options.MaxDepth };
        _writer = new Utf8JsonWriter(_output, new JsonWriterOptions { SkipValidation = true, MaxDepth = _options.MaxDepth + 1 });
        _fastOutput = new JsonOutput();
    }

    public YamlDocumentReader(ReadOnlyMemory<byte> utf8Yaml, YamlReaderOptions? options = null)
        : this(MemoryMarshal.TryGetArray(utf8Yaml, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(utf8Yaml.ToArray(), writable: false), options)
    {
    }

    public static YamlDocumentReader FromString(string yaml, YamlReaderOptions? options = null) =>
        new(Encoding.UTF8.GetBytes(yaml), options);

    /// <summary>1-based line of the document's root node (of the next token for an empty document).</summary>
    public int Line { get; private set; }

    /// <summary>The document; null when it is empty or null. Valid until the next <see cref="Read"/> or <see cref="Dispose"/>.</summary>
    public JsonElement? Root => _document?.RootElement;

    /// <summary>Whether YamlDotNet read this document.</summary>
    public bool UsedFallback { get; private set; }

    /// <summary>Moves to the next document; false at the end of the stream (or after an error).</summary>
    /// <exception cref="YamlSyntaxException">The document cannot be read.</exception>
    /// <exception cref="YamlLimitException">The document or the stream is larger than <see cref="YamlReaderOptions"/> allow.</exception>
    public bool Read()
    {
        _document?.Dispose();
        _document = null;
        if (_failed)
        {
            return false;
        }
        var completed = false;
        try
        {
            var read = ReadDocument();
            completed = true;
            return read;
        }
        finally
        {
            _failed |= !completed;
        }
    }

    private bool ReadDocument()
    {
        if (_fallbackDocuments.TryDequeue(out var pending))
        {
            return Emit(pending.Root, pending.Line);
        }
        if (_rest is not null)
        {
            return _rest.TryRead(out var root, out var line) && Emit(root, line);
        }
        while (NextChunk(out var chunk))
        {
            var text = _buffer.AsSpan(_start, chunk.Length);
            if (chunk.BareDocumentFollows)
            {
                // After "..." YamlDotNet accepts fewer kinds of document than at the start of a stream.
                return ReadRestOfStream();
            }
            if (_options.UseFastPath)
            {
                var carryOver = _carryOver;
                _fastOutput.Clear();
                var result = FastYamlParser.Parse(text, chunk.StartsWithMarker, chunk.EndMarker, _fastOutput, _scratch, _options.MaxDepth,
                    ref carryOver, out var rootLine);
                if (result == FastPathResult.NoDocument && chunk.EndMarker >= 0 && _line == 1)
                {
                    // YamlDotNet fails on "..." before the first document unless nothing follows; let it.
                    return ReadRestOfStream();
                }
                if (result != FastPathResult.Fallback)
                {
                    var line = _line + rootLine;
                    _carryOver = carryOver;
                    _line += text.Count((byte)'\n');
                    _start += chunk.Length;
                    if (result == FastPathResult.Document)
                    {
                        return EmitWritten(line);
                    }
                    continue;
                }
            }
            if (HasDirective(text))
            {
                // A directive belongs to the next document and YamlDotNet keeps %YAML across documents.
                return ReadRestOfStream();
            }
            var parser = new FallbackParser(new StringReader(Encoding.UTF8.GetString(text)), _carryOver, _line, _limits);
            try
            {
                while (parser.TryRead(out var root, out var line))
                {
                    _fallbackDocuments.Enqueue((root, line));
                }
            }
            catch (YamlSyntaxException)
            {
                // Alone, the chunk ends where the whole stream goes on with "---"; read on through the stream so that
                // the error (message included) is the one the whole stream gives.
                _fallbackDocuments.Clear();
                return ReadRestOfStream();
            }
            if (parser.SawRootBlockScalar || (_fallbackDocuments.Count == 0 && _line == 1))
            {
                // A root block scalar reads on over "---" lines; "..." before any document fails if anything follows.
                _fallbackDocuments.Clear();
                return ReadRestOfStream();
            }
            _carryOver = parser.CarryOver;
            _line += CountLineBreaks(text);
            _start += chunk.Length;
            if (_fallbackDocuments.TryDequeue(out pending))
            {
                return Emit(pending.Root, pending.Line);
            }
        }
        return false;
    }

    private bool ReadRestOfStream()
    {
        var rest = new ConcatenatedStream(_buffer.AsSpan(_start, _end - _start).ToArray(), _endOfStream ? null : _stream);
        _start = _end;
        _rest = new FallbackParser(new StreamReader(rest, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: false),
            _carryOver, _line, _limits);
        return _rest.TryRead(out var root, out var line) && Emit(root, line);
    }

    private bool EmitWritten(int line)
    {
        var json = _fastOutput.Written;
        CheckDocumentSize(json.Length, line);
        // An empty document writes nothing, and a null scalar "null": YamlJson's root is null for both.
        _document = json.IsEmpty || json.Span.SequenceEqual("null"u8) ? null : JsonDocument.Parse(json, _documentOptions);
        Line = line;
        UsedFallback = false;
        return true;
    }

    private bool Emit(JsonNode? root, int line)
    {
        if (root is not null)
        {
            _output.Clear();
            _writer.Reset(_output);
            root.WriteTo(_writer);
            _writer.Flush();
            CheckDocumentSize(_output.WrittenMemory.Length, line);
            _document = JsonDocument.Parse(_output.WrittenMemory, _documentOptions);
        }
        Line = line;
        UsedFallback = true;
        return true;
    }

    private void CheckDocumentSize(int jsonBytes, int line)
    {
        if (jsonBytes > _options.MaxDocumentBytes)
        {
            throw new YamlLimitException($"the document at line {line} is larger than {_options.MaxDocumentBytes} bytes as JSON (the limit)");
        }
    }

    /// <summary>
    /// Finds the next chunk at <see cref="_start"/>: up to (not including) the next "---" line, or up to and including
    /// the next "..." line, or to the end of the stream.
    /// </summary>
    private bool NextChunk(out Chunk chunk)
    {
        chunk = default;
        if (!_started)
        {
            _started = true;
            if (EnsureAvailable(3) && _buffer.AsSpan(_start, 3).SequenceEqual("\uFEFF"u8))
            {
                _start += 3;
            }
        }
        if (!EnsureAvailable(1))
        {
            return false;
        }
        var first = MarkerAt(0);
        if (first == '.')
        {
            var length = LineEnd(0);
            chunk = new Chunk(length, StartsWithMarker: false, EndMarker: 0, BareDocumentFollows(length));
            return true;
        }
        // Offsets are relative to _start, which reading more moves.
        var from = 0;
        while (true)
        {
            var data = _buffer.AsSpan(_start, _end - _start);
            var window = data[from..];
            var dashes = window.IndexOf("\n---"u8);
            var dots = (dashes < 0 ? window : window[..dashes]).IndexOf("\n..."u8);
            var hit = dots >= 0 ? dots : dashes;
            if (hit < 0)
            {
                if (_endOfStream)
                {
                    chunk = new Chunk(data.Length, first == '-', EndMarker: -1, BareDocumentFollows: false);
                    return true;
                }
                // A marker may straddle what has been read so far.
                from = Math.Max(from, data.Length - 3);
                ReadMore();
                continue;
            }
            var lineStart = from + hit + 1;
            var marker = MarkerAt(lineStart);
            if (marker == '-')
            {
                chunk = new Chunk(lineStart, first == '-', EndMarker: -1, BareDocumentFollows: false);
                return true;
            }
            if (marker == '.')
            {
                var length = LineEnd(lineStart);
                chunk = new Chunk(length, first == '-', lineStart, BareDocumentFollows(length));
                return true;
            }
            from = lineStart;
        }
    }

    /// <summary>'-' or '.' if the line at <paramref name="offset"/> is a "---" or "..." marker, else 0.</summary>
    private byte MarkerAt(int offset)
    {
        EnsureAvailable(offset + 4);
        var data = _buffer.AsSpan(_start, _end - _start)[offset..];
        if (data.Length < 3 || (!data.StartsWith("---"u8) && !data.StartsWith("..."u8)))
        {
            return 0;
        }
        return data.Length == 3 || data[3] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' ? data[0] : (byte)0;
    }

    /// <summary>The offset past the line break of the line at <paramref name="offset"/>, or the end of the stream.</summary>
    private int LineEnd(int offset)
    {
        var from = offset;
        while (true)
        {
            var data = _buffer.AsSpan(_start, _end - _start);
            var newLine = data[from..].IndexOf((byte)'\n');
            if (newLine >= 0)
            {
                return from + newLine + 1;
            }
            if (_endOfStream)
            {
                return data.Length;
            }
            from = data.Length;
            ReadMore();
        }
    }

    /// <summary>Whether a document without "---" follows the "..." line that ends at <paramref name="offset"/>.</summary>
    private bool BareDocumentFollows(int offset)
    {
        while (true)
        {
            if (!EnsureAvailable(offset + 1))
            {
                return false;
            }
            var marker = MarkerAt(offset);
            if (marker == '-')
            {
                return false;
            }
            var end = LineEnd(offset);
            var line = _buffer.AsSpan(_start + offset, end - offset).TrimStart((byte)' ');
            var blank = line.IsEmpty || line[0] == '\n' || line.SequenceEqual("\r\n"u8)
                || (line[0] == '#' && !line.TrimEnd("\r\n"u8).ContainsAnyExceptInRange((byte)' ', (byte)'~'));
            if (marker == 0 && !blank)
            {
                return true;
            }
            offset = end;
        }
    }

    private bool EnsureAvailable(int count)
    {
        while (_end - _start < count && !_endOfStream)
        {
            ReadMore();
        }
        return _end - _start >= count;
    }

    private void ReadMore()
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
            _buffer.AsSpan(0, _end).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }
        var read = _stream.Read(_buffer.AsSpan(_end));
        _end += read;
        _endOfStream = read == 0;
    }

    /// <summary>A '%' where YamlDotNet may see a line start (it also breaks lines at CR, NEL, LS and PS).</summary>
    private static bool HasDirective(ReadOnlySpan<byte> text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '%' && (i == 0 || text[i - 1] is (byte)'\n' or (byte)'\r' or 0x85 or 0xA8 or 0xA9))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Line breaks as YamlDotNet counts them: LF, CR, CRLF, NEL, LS, PS.</summary>
    private static int CountLineBreaks(ReadOnlySpan<byte> text)
    {
        var count = 0;
        for (var i = 0; i < text.Length; i++)
        {
            switch (text[i])
            {
                case (byte)'\n':
                    count++;
                    break;
                case (byte)'\r':
                    count++;
                    if (i + 1 < text.Length && text[i + 1] == '\n')
                    {
                        i++;
                    }
                    break;
                case 0xC2 when text[(i + 1)..].StartsWith((ReadOnlySpan<byte>)[0x85]):
                case 0xE2 when text[(i + 1)..].StartsWith((ReadOnlySpan<byte>)[0x80, 0xA8]) || text[(i + 1)..].StartsWith((ReadOnlySpan<byte>)[0x80, 0xA9]):
                    count++;
                    break;
            }
        }
        return count;
    }

    public void Dispose()
    {
        _document?.Dispose();
        _document = null;
        _writer.Dispose();
        _fastOutput.Dispose();
        _output.Dispose();
        _scratch.Dispose();
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
        _failed = true;
    }

    /// <param name="Length">Bytes from <see cref="_start"/>.</param>
    /// <param name="EndMarker">Offset of a closing "..." line, or -1.</param>
    /// <param name="BareDocumentFollows">Whether a document without "---" follows the "..." line.</param>
    private readonly record struct Chunk(int Length, bool StartsWithMarker, int EndMarker, bool BareDocumentFollows);

    /// <summary>The bytes already read, then the rest of the stream.</summary>
    private sealed class ConcatenatedStream(byte[] head, Stream? tail) : Stream
    {
        private int _headRead;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_headRead < head.Length)
            {
                var count = Math.Min(buffer.Length, head.Length - _headRead);
                head.AsSpan(_headRead, count).CopyTo(buffer);
                _headRead += count;
                return count;
            }
            return tail?.Read(buffer) ?? 0;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
