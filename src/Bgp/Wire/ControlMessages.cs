using System.Buffers;
using System.Buffers.Binary;

namespace BgpLb.Bgp.Wire;

internal static class KeepaliveCodec
{
    public static void Write(IBufferWriter<byte> output)
    {
        BgpConstants.WriteHeader(output.GetSpan(BgpConstants.HeaderLength), BgpConstants.HeaderLength, BgpMessageType.Keepalive);
        output.Advance(BgpConstants.HeaderLength);
    }
}

/// <summary>NOTIFICATION message (RFC 4271 §4.5).</summary>
internal sealed record NotificationMessage(BgpErrorCode Code, byte Subcode, ReadOnlyMemory<byte> Data)
{
    /// <summary>
    /// RFC 9003 shutdown communication of a Cease/Administrative Shutdown or Reset; null when absent or malformed
    /// (bad length octet or invalid UTF-8 is tolerated, not an error).
    /// </summary>
    public string? ShutdownCommunication
    {
        get
        {
            if (Code != BgpErrorCode.Cease || Subcode is not (CeaseSubcode.AdministrativeShutdown or CeaseSubcode.AdministrativeReset))
            {
                return null;
            }

            var data = Data.Span;
            if (data.Length < 1 || data[0] == 0 || data[0] > data.Length - 1)
            {
                return null;
            }

            return Utf8Text.TryDecodeStrict(data.Slice(1, data[0]), out var text) ? text : null;
        }
    }

    public override string ToString() => $"{(byte)Code}/{Subcode} {Code} ({Data.Length} B data)";
}

internal static class NotificationCodec
{
    /// <summary>RFC 9003: at most 255 octets of UTF-8.</summary>
    public const int MaxShutdownCommunicationLength = 255;

    /// <summary>Writes a NOTIFICATION; data beyond what fits in <paramref name="maxMessageLength"/> is cut off.</summary>
    public static void Write(IBufferWriter<byte> output, BgpErrorCode code, byte subcode, ReadOnlySpan<byte> data,
        int maxMessageLength = BgpConstants.MaxMessageLength)
    {
        var dataLength = Math.Min(data.Length, maxMessageLength - 21);
        var length = 21 + dataLength;
        var span = output.GetSpan(length);
        BgpConstants.WriteHeader(span, length, BgpMessageType.Notification);
        span[19] = (byte)code;
        span[20] = subcode;
        data[..dataLength].CopyTo(span[21..]);
        output.Advance(length);
    }

    public static void Write(IBufferWriter<byte> output, NotificationMessage notification) =>
        Write(output, notification.Code, notification.Subcode, notification.Data.Span);

    /// <summary>
    /// Writes Cease with subcode 2 (Administrative Shutdown) or 4 (Administrative Reset) and an RFC 9003 communication,
    /// truncated to 255 bytes on a UTF-8 character boundary. A null or empty message sends no data.
    /// </summary>
    public static void WriteShutdown(IBufferWriter<byte> output, byte ceaseSubcode, string? communication)
    {
        if (ceaseSubcode is not (CeaseSubcode.AdministrativeShutdown or CeaseSubcode.AdministrativeReset))
        {
            throw new ArgumentOutOfRangeException(nameof(ceaseSubcode), ceaseSubcode, "Only Administrative Shutdown and Reset carry a communication.");
        }

        var text = string.IsNullOrEmpty(communication) ? [] : Utf8Text.TruncateToBytes(communication, MaxShutdownCommunicationLength);
        Span<byte> data = stackalloc byte[text.Length == 0 ? 0 : 1 + text.Length];
        if (text.Length > 0)
        {
            data[0] = (byte)text.Length;
            text.CopyTo(data[1..]);
        }

        Write(output, BgpErrorCode.Cease, ceaseSubcode, data);
    }

    /// <summary>Reads a NOTIFICATION body (framing guarantees at least 2 bytes). The data is copied.</summary>
    public static NotificationMessage Read(ReadOnlySpan<byte> body) =>
        new((BgpErrorCode)body[0], body[1], body[2..].ToArray());

    public static NotificationMessage Read(in ReadOnlySequence<byte> body) =>
        ContiguousBody.Decode(body, 0, static (span, _) => Read(span));
}

/// <summary>RFC 7313 Message Subtype (the former Reserved octet).</summary>
internal enum RouteRefreshSubtype : byte
{
    Normal = 0,
    BeginningOfRouteRefresh = 1,
    EndOfRouteRefresh = 2,
}

/// <summary>ROUTE-REFRESH (RFC 2918, RFC 7313). Subtypes other than 0..2 are passed up; RFC 7313 says to ignore them.</summary>
internal readonly record struct RouteRefreshMessage(AfiSafi Family, RouteRefreshSubtype Subtype)
{
    public bool IsKnownSubtype => Subtype <= RouteRefreshSubtype.EndOfRouteRefresh;
}

internal static class RouteRefreshCodec
{
    private const int Length = 23;

    public static void Write(IBufferWriter<byte> output, RouteRefreshMessage message)
    {
        var span = output.GetSpan(Length);
        BgpConstants.WriteHeader(span, Length, BgpMessageType.RouteRefresh);
        BinaryPrimitives.WriteUInt16BigEndian(span[19..], (ushort)message.Family.Afi);
        span[21] = (byte)message.Subtype;
        span[22] = (byte)message.Family.Safi;
        output.Advance(Length);
    }

    /// <summary>Reads a ROUTE-REFRESH body (framing guarantees at least 4 bytes). A subtype 0 message may carry
    /// trailing ORF data (RFC 5291), which is ignored.</summary>
    /// <exception cref="BgpNotificationException">7/1 with the complete message as data when a BoRR/EoRR body is not 4 bytes.</exception>
    public static RouteRefreshMessage Read(ReadOnlySpan<byte> body)
    {
        var subtype = (RouteRefreshSubtype)body[2];
        if (subtype is RouteRefreshSubtype.BeginningOfRouteRefresh or RouteRefreshSubtype.EndOfRouteRefresh && body.Length != 4)
        {
            // Framing has validated the header, so the original message is the marker, the length, type 5 and the body.
            var message = new byte[BgpConstants.HeaderLength + body.Length];
            BgpConstants.WriteHeader(message, message.Length, BgpMessageType.RouteRefresh);
            body.CopyTo(message.AsSpan(BgpConstants.HeaderLength));
            throw new BgpNotificationException(BgpErrorCode.RouteRefresh, RouteRefreshSubcode.InvalidMessageLength, message);
        }

        return new RouteRefreshMessage(new AfiSafi((Afi)BinaryPrimitives.ReadUInt16BigEndian(body), (Safi)body[3]), subtype);
    }

    public static RouteRefreshMessage Read(in ReadOnlySequence<byte> body) =>
        ContiguousBody.Decode(body, 0, static (span, _) => Read(span));
}
