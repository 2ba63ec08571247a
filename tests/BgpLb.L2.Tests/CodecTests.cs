using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using BgpLb.L2.Wire;

namespace BgpLb.L2.Tests;

public sealed class CodecTests
{
    private static readonly MacAddress Ours = new(0x0200_0000_0001);
    private static readonly MacAddress Client = new(0x0200_0000_00C1);
    private static readonly uint Vip = IPBits.ToUInt32(IPAddress.Parse("203.0.113.10"));
    private static readonly UInt128 Vip6 = IPBits.ToUInt128(IPAddress.Parse("2001:db8::10"));
    private static readonly UInt128 LinkLocal = IPBits.ToUInt128(IPAddress.Parse("fe80::1"));

    [Fact]
    public void Gratuitous_reply_frame_has_the_exact_bytes()
    {
        var frame = new byte[L2Frames.ArpFrameLength];
        Assert.Equal(42, L2Frames.WriteArp(frame, MacAddress.Broadcast, Ours, L2Frames.GratuitousReply(Ours, Vip)));
        Assert.Equal(Convert.FromHexString(
            "FFFFFFFFFFFF" + "020000000001" + "0806"
            + "0001" + "0800" + "06" + "04" + "0002"
            + "020000000001" + "CB00710A"
            + "FFFFFFFFFFFF" + "CB00710A"), frame);
    }

    [Fact]
    public void Arp_reply_answers_the_requester_with_our_mac()
    {
        var request = new ArpPacket(ArpOperation.Request, Client, 0xC612_0A01, MacAddress.Zero, Vip);
        var reply = L2Frames.Reply(request, Ours);
        Assert.Equal(new ArpPacket(ArpOperation.Reply, Ours, Vip, Client, 0xC612_0A01), reply);
        Assert.True(L2Frames.Probe(Ours, Vip).IsProbe);
        Assert.False(request.IsProbe);
    }

    [Fact]
    public void Arp_parser_rejects_short_foreign_and_unknown_operations()
    {
        var payload = new byte[ArpPacket.Length];
        L2Frames.GratuitousRequest(Ours, Vip).Write(payload);
        Assert.True(ArpPacket.TryRead(payload, out var parsed));
        Assert.Equal(L2Frames.GratuitousRequest(Ours, Vip), parsed);
        Assert.True(ArpPacket.TryRead([.. payload, 0, 0, 0], out _)); // Ethernet padding

        Assert.False(ArpPacket.TryRead(payload.AsSpan(0, ArpPacket.Length - 1), out _));
        foreach (var (offset, value) in new[] { (1, (byte)6), (3, (byte)0xDD), (4, (byte)8), (5, (byte)16), (7, (byte)3), (7, (byte)0) })
        {
            var bad = (byte[])payload.Clone();
            bad[offset] = value;
            Assert.False(ArpPacket.TryRead(bad, out _), $"byte {offset} = {value}");
        }
    }

    [Fact]
    public void Ethernet_header_needs_fourteen_bytes()
    {
        Assert.False(EthernetHeader.TryRead(new byte[13], out _));
        var frame = new byte[14];
        new EthernetHeader(Client, Ours, EthernetHeader.EtherTypeIPv6).Write(frame);
        Assert.True(EthernetHeader.TryRead(frame, out var header));
        Assert.Equal(new EthernetHeader(Client, Ours, 0x86DD), header);
    }

    [Fact]
    public void Neighbor_advertisement_matches_a_hand_computed_checksum()
    {
        var na = new NdpPacket(NdpMessageType.NeighborAdvertisement, LinkLocal, L2Frames.AllNodes, Vip6, NdpAdvertisementBits.Override, Ours);
        var packet = new byte[na.Length];
        Assert.Equal(72, na.Write(packet));
        Assert.Equal(ReferenceChecksum(packet), BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(42)));
        Assert.Equal(0x60, packet[0]);
        Assert.Equal(32, BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(4)));
        Assert.Equal(255, packet[7]);
        Assert.Equal(136, packet[40]);
        Assert.Equal(0x20, packet[44]);
        Assert.Equal([2, 1, 2, 0, 0, 0, 0, 1], packet[64..72]);
    }

    /// <summary>RFC 1071 checksum written independently of the product code: pseudo-header bytes then the message.</summary>
    private static ushort ReferenceChecksum(byte[] packet)
    {
        var icmp = packet[40..];
        icmp[2] = icmp[3] = 0;
        byte[] pseudo = [.. packet[8..40], 0, 0, (byte)(icmp.Length >> 8), (byte)icmp.Length, 0, 0, 0, 58, .. icmp];
        long sum = 0;
        for (var i = 0; i < pseudo.Length; i += 2)
            sum += (pseudo[i] << 8) | (i + 1 < pseudo.Length ? pseudo[i + 1] : 0);
        while (sum >> 16 != 0)
            sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }

    [Fact]
    public void Solicitation_round_trips_and_answers_follow_RFC_4861()
    {
        var clientAddress = IPBits.ToUInt128(IPAddress.Parse("2001:db8::c1"));
        var ns = new NdpPacket(NdpMessageType.NeighborSolicitation, clientAddress, L2Frames.SolicitedNodeMulticast(Vip6), Vip6, NdpAdvertisementBits.None, Client);
        var packet = new byte[ns.Length];
        ns.Write(packet);
        Assert.True(NdpPacket.TryRead(packet, out var parsed));
        Assert.Equal(ns, parsed);
        Assert.Equal(IPAddress.Parse("ff02::1:ff00:10"), IPBits.ToAddress(parsed.Destination));

        var answer = L2Frames.Advertisement(parsed, Ours);
        Assert.Equal((NdpMessageType.NeighborAdvertisement, Vip6, clientAddress, Vip6, NdpAdvertisementBits.Solicited, (MacAddress?)Ours),
            (answer.Type, answer.Source, answer.Destination, answer.Target, answer.Flags, answer.LinkLayerAddress));

        var dad = L2Frames.DuplicateAddressProbe(Vip6);
        Assert.True(dad.IsDuplicateAddressDetection);
        Assert.Null(dad.LinkLayerAddress);
        var dadAnswer = L2Frames.Advertisement(dad, Ours);
        Assert.Equal((Vip6, L2Frames.AllNodes, NdpAdvertisementBits.Override), (dadAnswer.Source, dadAnswer.Destination, dadAnswer.Flags));
        Assert.Equal(new MacAddress(0x3333_FF00_0010), L2Frames.MulticastMac(L2Frames.SolicitedNodeMulticast(Vip6)));
    }

    [Fact]
    public void Ndp_parser_rejects_every_broken_field()
    {
        var ns = new NdpPacket(NdpMessageType.NeighborSolicitation, LinkLocal, L2Frames.SolicitedNodeMulticast(Vip6), Vip6, NdpAdvertisementBits.None, Client);
        var good = new byte[ns.Length];
        ns.Write(good);
        Assert.True(NdpPacket.TryRead(good, out _));

        Assert.False(NdpPacket.TryRead(good.AsSpan(0, 63), out _), "shorter than header + message");
        Assert.False(NdpPacket.TryRead(good.AsSpan(0, good.Length - 1), out _), "payload length beyond the data");
        Assert.False(NdpPacket.TryRead(Mutate(good, 0, 0x40), out _), "IPv4 version");
        Assert.False(NdpPacket.TryRead(Mutate(good, 6, 17), out _), "UDP next header");
        Assert.False(NdpPacket.TryRead(Mutate(good, 7, 64), out _), "hop limit below 255");
        Assert.False(NdpPacket.TryRead(Mutate(good, 40, 128), out _), "echo request");
        Assert.False(NdpPacket.TryRead(Mutate(good, 41, 1), out _), "code 1");
        Assert.False(NdpPacket.TryRead(Mutate(good, 50, 0xFF), out _), "checksum no longer matches the target");
        Assert.False(NdpPacket.TryRead(Rechecksum(Mutate(good, 65, 0)), out _), "zero-length option");
        Assert.False(NdpPacket.TryRead(Rechecksum(Mutate(good, 65, 2)), out _), "option past the end");
        Assert.True(NdpPacket.TryRead(Rechecksum(Mutate(good, 64, 14)), out var unknownOption), "unknown option is skipped");
        Assert.Null(unknownOption.LinkLayerAddress);
        Assert.False(NdpPacket.TryRead(Rechecksum(Mutate(Mutate(good, 5, 33), 0, 0x60)), out _), "a lone option byte");
    }

    private static byte[] Mutate(byte[] packet, int offset, byte value)
    {
        var copy = (byte[])packet.Clone();
        copy[offset] = value;
        return copy;
    }

    private static byte[] Rechecksum(byte[] packet)
    {
        var length = BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(4));
        var copy = packet.Length < 40 + length ? [.. packet, .. new byte[40 + length - packet.Length]] : packet;
        var icmp = copy.AsSpan(40, length);
        icmp[2] = icmp[3] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Icmpv6Checksum.Compute(
            BinaryPrimitives.ReadUInt128BigEndian(copy.AsSpan(8)), BinaryPrimitives.ReadUInt128BigEndian(copy.AsSpan(24)), icmp));
        return copy;
    }

    [Fact]
    public void Buffer_writer_overloads_append_whole_frames()
    {
        var output = new ArrayBufferWriter<byte>();
        L2Frames.WriteArp(output, MacAddress.Broadcast, Ours, L2Frames.GratuitousRequest(Ours, Vip));
        var na = L2Frames.UnsolicitedAdvertisement(Ours, LinkLocal, Vip6);
        L2Frames.WriteNdp(output, L2Frames.MulticastMac(L2Frames.AllNodes), Ours, na);
        Assert.Equal(42 + 14 + 72, output.WrittenCount);
        Assert.True(NdpPacket.TryRead(output.WrittenSpan[(42 + 14)..], out var parsed));
        Assert.Equal(na, parsed);
    }

    [Fact]
    public void Mac_addresses_parse_and_print_in_colon_form()
    {
        Assert.True(MacAddress.TryParse("02:00:00:00:00:c1", out var mac));
        Assert.Equal(Client, mac);
        Assert.Equal("02:00:00:00:00:c1", mac.ToString());
        Assert.True(MacAddress.TryParse("FF-FF-FF-FF-FF-FF", out var broadcast));
        Assert.True(broadcast.IsBroadcast && broadcast.IsMulticast);
        Assert.False(Client.IsMulticast);
        foreach (var bad in new[] { null, "", "02:00:00:00:00", "02:00:00:00:00:c1:", "02:00:00:00:00;c1", "0g:00:00:00:00:c1" })
            Assert.False(MacAddress.TryParse(bad, out _), bad);
    }
}
