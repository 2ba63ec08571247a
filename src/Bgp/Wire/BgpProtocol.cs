using System.Buffers.Binary;

namespace BgpLb.Bgp.Wire;

/// <summary>BGP message types (RFC 4271 §4.1, RFC 2918).</summary>
internal enum BgpMessageType : byte
{
    Open = 1,
    Update = 2,
    Notification = 3,
    Keepalive = 4,
    RouteRefresh = 5,
}

/// <summary>NOTIFICATION error codes (IANA "BGP Error (Notification) Codes").</summary>
internal enum BgpErrorCode : byte
{
    MessageHeader = 1,
    Open = 2,
    Update = 3,
    HoldTimerExpired = 4,
    FiniteStateMachine = 5,
    Cease = 6,
    RouteRefresh = 7,
    SendHoldTimerExpired = 8,
}

internal static class MessageHeaderSubcode
{
    public const byte ConnectionNotSynchronized = 1;
    public const byte BadMessageLength = 2;
    public const byte BadMessageType = 3;
}

internal static class OpenSubcode
{
    public const byte Unspecific = 0;
    public const byte UnsupportedVersion = 1;
    public const byte BadPeerAs = 2;
    public const byte BadBgpIdentifier = 3;
    public const byte UnsupportedOptionalParameter = 4;
    public const byte UnacceptableHoldTime = 6;
    public const byte UnsupportedCapability = 7;
    public const byte RoleMismatch = 11;
}

internal static class UpdateSubcode
{
    public const byte MalformedAttributeList = 1;
    public const byte UnrecognizedWellKnownAttribute = 2;
    public const byte MissingWellKnownAttribute = 3;
    public const byte AttributeFlagsError = 4;
    public const byte AttributeLengthError = 5;
    public const byte InvalidOrigin = 6;
    public const byte InvalidNextHop = 8;
    public const byte OptionalAttributeError = 9;
    public const byte InvalidNetworkField = 10;
    public const byte MalformedAsPath = 11;
}

/// <summary>RFC 6608.</summary>
internal static class FsmSubcode
{
    public const byte Unspecified = 0;
    public const byte UnexpectedMessageInOpenSent = 1;
    public const byte UnexpectedMessageInOpenConfirm = 2;
    public const byte UnexpectedMessageInEstablished = 3;
}

/// <summary>RFC 4486, RFC 8538, RFC 9384.</summary>
internal static class CeaseSubcode
{
    public const byte MaximumPrefixesReached = 1;
    public const byte AdministrativeShutdown = 2;
    public const byte PeerDeconfigured = 3;
    public const byte AdministrativeReset = 4;
    public const byte ConnectionRejected = 5;
    public const byte OtherConfigurationChange = 6;
    public const byte ConnectionCollisionResolution = 7;
    public const byte OutOfResources = 8;
    public const byte HardReset = 9;
    public const byte BfdDown = 10;
}

/// <summary>RFC 7313.</summary>
internal static class RouteRefreshSubcode
{
    public const byte InvalidMessageLength = 1;
}

/// <summary>A session-level protocol error: the session sends this NOTIFICATION and closes (H5).</summary>
internal sealed class BgpNotificationException(BgpErrorCode code, byte subcode, ReadOnlyMemory<byte> data = default)
    : Exception($"BGP error {(byte)code}/{subcode} ({code})")
{
    public BgpErrorCode Code { get; } = code;
    public byte Subcode { get; } = subcode;
    public ReadOnlyMemory<byte> NotificationData { get; } = data;

    public NotificationMessage ToNotification() => new(Code, Subcode, NotificationData);
}

internal enum Afi : ushort
{
    IPv4 = 1,
    IPv6 = 2,
}

internal enum Safi : byte
{
    Unicast = 1,
    Multicast = 2,
}

internal readonly record struct AfiSafi(Afi Afi, Safi Safi)
{
    public static readonly AfiSafi IPv4Unicast = new(Afi.IPv4, Safi.Unicast);
    public static readonly AfiSafi IPv6Unicast = new(Afi.IPv6, Safi.Unicast);

    public override string ToString() => $"{Afi}/{Safi}";
}

internal static class BgpConstants
{
    public const int MarkerLength = 16;
    public const int HeaderLength = 19;
    public const int MaxMessageLength = 4096;
    /// <summary>RFC 8654 limit for UPDATE, NOTIFICATION and ROUTE-REFRESH once the Extended Message capability is negotiated.</summary>
    public const int ExtendedMaxMessageLength = 65535;
    public const byte Version = 4;
    /// <summary>RFC 6793 AS_TRANS, sent in 2-octet AS fields in place of an AS above 65535.</summary>
    public const ushort AsTrans = 23456;

    public static ReadOnlySpan<byte> Marker =>
        [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];

    /// <summary>Writes marker, length and type into the first 19 bytes of <paramref name="destination"/>.</summary>
    public static void WriteHeader(Span<byte> destination, int length, BgpMessageType type)
    {
        Marker.CopyTo(destination);
        BinaryPrimitives.WriteUInt16BigEndian(destination[MarkerLength..], checked((ushort)length));
        destination[MarkerLength + 2] = (byte)type;
    }
}

/// <summary>Odd-width big-endian integers (H8).</summary>
internal static class WireInt
{
    public static uint ReadUInt24(ReadOnlySpan<byte> source) =>
        (uint)(source[0] << 16 | source[1] << 8 | source[2]);

    public static void WriteUInt24(Span<byte> destination, uint value)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 0xFFFFFFu);
        destination[2] = (byte)value;
        destination[1] = (byte)(value >> 8);
        destination[0] = (byte)(value >> 16);
    }
}
