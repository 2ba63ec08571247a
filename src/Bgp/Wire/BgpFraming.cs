using System.Buffers;
using System.Buffers.Binary;

namespace BgpLb.Bgp.Wire;

/// <summary>Splits a byte stream into BGP messages (H1).</summary>
internal static class BgpFraming
{
    /// <summary>
    /// Reads one message from the front of <paramref name="buffer"/> and slices the buffer past it.
    /// The header is validated as soon as its 19 bytes are present, before waiting for the body.
    /// </summary>
    /// <param name="maxLength">4096, or 65535 once RFC 8654 is negotiated (OPEN and KEEPALIVE stay within 4096).</param>
    /// <returns>false when the message is not complete yet; <paramref name="buffer"/> is then unchanged.</returns>
    /// <exception cref="BgpNotificationException">Message Header Error (1/1, 1/2, 1/3).</exception>
    public static bool TryReadMessage(ref ReadOnlySequence<byte> buffer, int maxLength, out BgpMessageType type, out ReadOnlySequence<byte> body)
    {
        type = default;
        body = default;
        if (buffer.Length < BgpConstants.HeaderLength)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[BgpConstants.HeaderLength];
        buffer.Slice(0, BgpConstants.HeaderLength).CopyTo(header);
        var length = ValidateHeader(header, maxLength, out type);
        if (buffer.Length < length)
        {
            return false;
        }

        body = buffer.Slice(BgpConstants.HeaderLength, length - BgpConstants.HeaderLength);
        buffer = buffer.Slice(length);
        return true;
    }

    /// <summary>Checks marker, length and type of a 19-byte header and returns the message length.</summary>
    private static int ValidateHeader(ReadOnlySpan<byte> header, int maxLength, out BgpMessageType type)
    {
        if (!header[..BgpConstants.MarkerLength].SequenceEqual(BgpConstants.Marker))
        {
            throw new BgpNotificationException(BgpErrorCode.MessageHeader, MessageHeaderSubcode.ConnectionNotSynchronized);
        }

        var lengthField = header.Slice(BgpConstants.MarkerLength, 2);
        int length = BinaryPrimitives.ReadUInt16BigEndian(lengthField);
        if (length < BgpConstants.HeaderLength || length > maxLength)
        {
            throw BadLength(lengthField);
        }

        var typeByte = header[BgpConstants.MarkerLength + 2];
        type = (BgpMessageType)typeByte;
        var lengthOk = type switch
        {
            BgpMessageType.Open => length is >= 29 and <= BgpConstants.MaxMessageLength,
            BgpMessageType.Update => length >= 23,
            BgpMessageType.Notification => length >= 21,
            BgpMessageType.Keepalive => length == BgpConstants.HeaderLength,
            BgpMessageType.RouteRefresh => length >= 23,
            _ => throw new BgpNotificationException(BgpErrorCode.MessageHeader, MessageHeaderSubcode.BadMessageType, new[] { typeByte }),
        };
        return lengthOk ? length : throw BadLength(lengthField);
    }

    private static BgpNotificationException BadLength(ReadOnlySpan<byte> lengthField) =>
        new(BgpErrorCode.MessageHeader, MessageHeaderSubcode.BadMessageLength, lengthField.ToArray());
}

/// <summary>Runs a span decoder over a body that may span several segments, copying to a pooled buffer only then (H6).</summary>
internal static class ContiguousBody
{
    public delegate T SpanDecoder<T, TState>(ReadOnlySpan<byte> body, TState state);

    public static T Decode<T, TState>(in ReadOnlySequence<byte> body, TState state, SpanDecoder<T, TState> decoder)
    {
        if (body.IsSingleSegment)
        {
            return decoder(body.FirstSpan, state);
        }

        var length = checked((int)body.Length);
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            body.CopyTo(rented);
            return decoder(rented.AsSpan(0, length), state);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
