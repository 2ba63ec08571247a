namespace BgpLb.Config.Yaml;

/// <summary>Reads through to a stream and throws <see cref="YamlLimitException"/> once more than <paramref name="limit"/> bytes came from it.</summary>
internal sealed class LimitedReadStream(Stream inner, long limit) : Stream
{
    private long _read;

    public override int Read(Span<byte> buffer)
    {
        // One byte past the limit tells a stream of exactly the limit from a longer one.
        var allowed = (int)Math.Min(buffer.Length, limit - _read + 1);
        var read = inner.Read(buffer[..allowed]);
        _read += read;
        if (_read > limit)
        {
            throw new YamlLimitException($"the file is larger than {limit} bytes (the limit)");
        }
        return read;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _read; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
