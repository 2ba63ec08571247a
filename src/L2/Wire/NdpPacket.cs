using System.Buffers.Binary;

namespace BgpLb.L2.Wire;

public enum NdpMessageType : byte
{
    NeighborSolicitation = 135,
    NeighborAdvertisement = 136,
}

/// <summary>Neighbor Advertisement flags (RFC 4861 §4.4), in the first octet after the ICMPv6 checksum.</summary>
[Flags]
public enum NdpAdvertisementBits : byte
{
    None = 0,
    Override = 0x20,
    Solicited = 0x40,
    Router = 0x80,
}

/// <summary>
/// An IPv6 packet carrying an ICMPv6 Neighbor Solicitation or Advertisement (RFC 4861 §4.3, §4.4) with at most the one
/// link-layer address option that matters: source LLA (type 1) in a solicitation, target LLA (type 2) in an
/// advertisement. Addresses are big-endian values (see <see cref="IPBits"/>).
/// </summary>
public readonly record struct NdpPacket(
    NdpMessageType Type, UInt128 Source, UInt128 Destination, UInt128 Target, NdpAdvertisementBits Flags, MacAddress? LinkLayerAddress)
{
    public const int IPv6HeaderLength = 40;
    public const byte NextHeaderIcmpv6 = 58;
    /// <summary>RFC 4861 requires hop limit 255 both ways, proving the sender is on-link.</summary>
    public const byte HopLimit = 255;
    private const int MessageLength = 24;
    private const int LinkLayerOptionLength = 8;
    private const byte SourceLinkLayerOption = 1;
    private const byte TargetLinkLayerOption = 2;

    /// <summary>IPv6 packet length of this message: header, ICMPv6 body and the optional link-layer option.</summary>
    public int Length => IPv6HeaderLength + MessageLength + (LinkLayerAddress is null ? 0 : LinkLayerOptionLength);

    /// <summary>A Duplicate Address Detection solicitation (RFC 4862 §5.4.2): sent from the unspecified address.</summary>
    public bool IsDuplicateAddressDetection => Type == NdpMessageType.NeighborSolicitation && Source == UInt128.Zero;

    /// <summary>
    /// Reads an IPv6 packet (after the Ethernet header). False unless it is IPv6 with no extension header, hop limit 255,
    /// ICMPv6 type 135/136 code 0, a correct checksum, a length covering the message, and well-formed options
    /// (no zero-length option, none past the end). Unknown options are skipped; trailing Ethernet padding is ignored.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> packet, out NdpPacket ndp)
    {
        ndp = default;
        if (packet.Length < IPv6HeaderLength + MessageLength
            || packet[0] >> 4 != 6
            || packet[6] != NextHeaderIcmpv6
            || packet[7] != HopLimit)
            return false;
        int payloadLength = BinaryPrimitives.ReadUInt16BigEndian(packet[4..]);
        if (payloadLength < MessageLength || payloadLength > packet.Length - IPv6HeaderLength)
            return false;
        var source = BinaryPrimitives.ReadUInt128BigEndian(packet[8..]);
        var destination = BinaryPrimitives.ReadUInt128BigEndian(packet[24..]);
        var icmp = packet.Slice(IPv6HeaderLength, payloadLength);
        if (icmp[0] is not ((byte)NdpMessageType.NeighborSolicitation or (byte)NdpMessageType.NeighborAdvertisement)
            || icmp[1] != 0
            || Icmpv6Checksum.Compute(source, destination, icmp) != 0)
            return false;

        var type = (NdpMessageType)icmp[0];
        var flags = type == NdpMessageType.NeighborAdvertisement ? (NdpAdvertisementBits)(icmp[4] & 0xE0) : NdpAdvertisementBits.None;
        var target = BinaryPrimitives.ReadUInt128BigEndian(icmp[8..]);
        var wantedOption = type == NdpMessageType.NeighborSolicitation ? SourceLinkLayerOption : TargetLinkLayerOption;
        MacAddress? linkLayer = null;
        var options = icmp[MessageLength..];
        while (!options.IsEmpty)
        {
            if (options.Length < 2)
                return false;
            var optionLength = options[1] * 8;
            if (optionLength == 0 || optionLength > options.Length)
                return false;
            if (options[0] == wantedOption && optionLength == LinkLayerOptionLength)
                linkLayer = MacAddress.Read(options[2..]);
            options = options[optionLength..];
        }
        ndp = new NdpPacket(type, source, destination, target, flags, linkLayer);
        return true;
    }

    /// <summary>Writes the IPv6 packet with a correct ICMPv6 checksum; returns <see cref="Length"/>.</summary>
    public int Write(Span<byte> destination)
    {
        var length = Length;
        var packet = destination[..length];
        packet.Clear();
        packet[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(packet[4..], (ushort)(length - IPv6HeaderLength));
        packet[6] = NextHeaderIcmpv6;
        packet[7] = HopLimit;
        BinaryPrimitives.WriteUInt128BigEndian(packet[8..], Source);
        BinaryPrimitives.WriteUInt128BigEndian(packet[24..], Destination);
        var icmp = packet[IPv6HeaderLength..];
        icmp[0] = (byte)Type;
        icmp[4] = (byte)Flags;
        BinaryPrimitives.WriteUInt128BigEndian(icmp[8..], Target);
        if (LinkLayerAddress is { } mac)
        {
            icmp[MessageLength] = Type == NdpMessageType.NeighborSolicitation ? SourceLinkLayerOption : TargetLinkLayerOption;
            icmp[MessageLength + 1] = 1;
            mac.Write(icmp[(MessageLength + 2)..]);
        }
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Icmpv6Checksum.Compute(Source, Destination, icmp));
        return length;
    }
}

/// <summary>The ICMPv6 checksum (RFC 4443 §2.3): one's complement sum over the IPv6 pseudo-header and the message.</summary>
public static class Icmpv6Checksum
{
    /// <summary>
    /// Computes the checksum of <paramref name="icmp"/> as it stands. With the checksum field zeroed this is the value to
    /// write; over a received message with its checksum in place the result is 0 when it is correct.
    /// </summary>
    public static ushort Compute(UInt128 source, UInt128 destination, ReadOnlySpan<byte> icmp)
    {
        ulong sum = (uint)icmp.Length + NdpPacket.NextHeaderIcmpv6;
        sum += SumWords(source) + SumWords(destination);
        var i = 0;
        for (; i + 1 < icmp.Length; i += 2)
            sum += BinaryPrimitives.ReadUInt16BigEndian(icmp[i..]);
        if (i < icmp.Length)
            sum += (uint)icmp[i] << 8;
        while (sum > 0xFFFF)
            sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }

    private static ulong SumWords(UInt128 value)
    {
        ulong sum = 0;
        for (var shift = 0; shift < 128; shift += 16)
            sum += (ushort)(value >> shift);
        return sum;
    }
}
