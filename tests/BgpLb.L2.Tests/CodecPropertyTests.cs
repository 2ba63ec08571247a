using BgpLb.L2.Wire;
using CsCheck;

namespace BgpLb.L2.Tests;

public sealed class CodecPropertyTests
{
    private static readonly Gen<MacAddress> Mac = Gen.ULong[0, 0xFFFF_FFFF_FFFF].Select(v => new MacAddress(v));
    private static readonly Gen<UInt128> V6 = Gen.Select(Gen.ULong, Gen.ULong, (hi, lo) => new UInt128(hi, lo));

    private static readonly Gen<ArpPacket> Arp = Gen.Select(
        Pick(ArpOperation.Request, ArpOperation.Reply), Mac, Gen.UInt, Mac, Gen.UInt,
        (op, sha, spa, tha, tpa) => new ArpPacket(op, sha, spa, tha, tpa));

    private static readonly Gen<NdpPacket> Ndp = Gen.Select(
        Pick(NdpMessageType.NeighborSolicitation, NdpMessageType.NeighborAdvertisement), V6, V6, V6,
        Pick(NdpAdvertisementBits.None, NdpAdvertisementBits.Solicited, NdpAdvertisementBits.Override, NdpAdvertisementBits.Router | NdpAdvertisementBits.Solicited),
        Gen.Bool, Mac,
        (type, src, dst, target, flags, withMac, mac) => new NdpPacket(type, src, dst, target,
            type == NdpMessageType.NeighborAdvertisement ? flags : NdpAdvertisementBits.None, withMac ? mac : null));

    private static Gen<T> Pick<T>(params T[] values) => Gen.Int[0, values.Length - 1].Select(i => values[i]);

    [Fact]
    public void Arp_round_trips() => Arp.Sample(packet =>
    {
        Span<byte> bytes = stackalloc byte[ArpPacket.Length];
        packet.Write(bytes);
        return ArpPacket.TryRead(bytes, out var parsed) && parsed == packet;
    });

    [Fact]
    public void Ndp_round_trips_through_whole_frames() => Gen.Select(Ndp, Mac, Mac).Sample((packet, dst, src) =>
    {
        Span<byte> frame = stackalloc byte[L2Frames.MaxFrameLength];
        var length = L2Frames.WriteNdp(frame, dst, src, packet);
        return EthernetHeader.TryRead(frame[..length], out var header)
            && header == new EthernetHeader(dst, src, EthernetHeader.EtherTypeIPv6)
            && NdpPacket.TryRead(frame[EthernetHeader.Length..length], out var parsed) && parsed == packet;
    });

    [Fact]
    public void Random_bytes_never_throw() => Gen.Byte.Array[0, 120].Sample(bytes =>
    {
        EthernetHeader.TryRead(bytes, out _);
        ArpPacket.TryRead(bytes, out _);
        NdpPacket.TryRead(bytes, out _);
    });

    [Fact]
    public void Corrupting_one_byte_of_an_ndp_packet_never_throws_and_is_caught_by_the_checksum() =>
        Gen.Select(Ndp, Gen.Int, Gen.Byte[1, 255]).Sample((packet, position, flip) =>
        {
            var bytes = new byte[packet.Length];
            packet.Write(bytes);
            var offset = 40 + (int)((uint)position % (uint)(bytes.Length - 40));
            bytes[offset] ^= flip;
            // Any change inside the ICMPv6 message changes the one's complement sum unless it swaps 0x0000 and 0xFFFF words.
            return !NdpPacket.TryRead(bytes, out _) || IsOnesComplementAlias(bytes, offset, flip);
        });

    private static bool IsOnesComplementAlias(byte[] bytes, int offset, byte flip)
    {
        var wordStart = offset - (offset - 40) % 2;
        var after = bytes[wordStart] << 8 | (wordStart + 1 < bytes.Length ? bytes[wordStart + 1] : 0);
        bytes[offset] ^= flip;
        var before = bytes[wordStart] << 8 | (wordStart + 1 < bytes.Length ? bytes[wordStart + 1] : 0);
        return (before, after) is (0, 0xFFFF) or (0xFFFF, 0);
    }
}
