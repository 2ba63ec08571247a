using System.Buffers;

namespace BgpLb.L2.Wire;

/// <summary>Builds the complete Ethernet frames the responder sends, into caller-provided buffers (no allocation).</summary>
public static class L2Frames
{
    public const int ArpFrameLength = EthernetHeader.Length + ArpPacket.Length;
    /// <summary>Large enough for any frame built here (an NDP message with its link-layer option).</summary>
    public const int MaxFrameLength = EthernetHeader.Length + NdpPacket.IPv6HeaderLength + 32;

    /// <summary>All-nodes multicast ff02::1.</summary>
    public static UInt128 AllNodes { get; } = new(0xFF02_0000_0000_0000, 1);

    public static int WriteArp(Span<byte> destination, MacAddress ethernetDestination, MacAddress ethernetSource, in ArpPacket arp)
    {
        new EthernetHeader(ethernetDestination, ethernetSource, EthernetHeader.EtherTypeArp).Write(destination);
        arp.Write(destination[EthernetHeader.Length..]);
        return ArpFrameLength;
    }

    public static int WriteNdp(Span<byte> destination, MacAddress ethernetDestination, MacAddress ethernetSource, in NdpPacket ndp)
    {
        new EthernetHeader(ethernetDestination, ethernetSource, EthernetHeader.EtherTypeIPv6).Write(destination);
        return EthernetHeader.Length + ndp.Write(destination[EthernetHeader.Length..]);
    }

    public static int WriteArp(IBufferWriter<byte> output, MacAddress ethernetDestination, MacAddress ethernetSource, in ArpPacket arp)
    {
        var written = WriteArp(output.GetSpan(ArpFrameLength), ethernetDestination, ethernetSource, arp);
        output.Advance(written);
        return written;
    }

    public static int WriteNdp(IBufferWriter<byte> output, MacAddress ethernetDestination, MacAddress ethernetSource, in NdpPacket ndp)
    {
        var written = WriteNdp(output.GetSpan(MaxFrameLength), ethernetDestination, ethernetSource, ndp);
        output.Advance(written);
        return written;
    }

    /// <summary>Gratuitous ARP request (MetalLB sends it with the reply): broadcast, sender = target = the address, target MAC zero.</summary>
    public static ArpPacket GratuitousRequest(MacAddress mac, uint address) => new(ArpOperation.Request, mac, address, MacAddress.Zero, address);

    /// <summary>Gratuitous ARP reply: broadcast, sender = target = the address, target MAC broadcast.</summary>
    public static ArpPacket GratuitousReply(MacAddress mac, uint address) => new(ArpOperation.Reply, mac, address, MacAddress.Broadcast, address);

    /// <summary>RFC 5227 ARP probe: sender IP 0.0.0.0 so no neighbour cache learns from it.</summary>
    public static ArpPacket Probe(MacAddress mac, uint address) => new(ArpOperation.Request, mac, 0, MacAddress.Zero, address);

    /// <summary>Reply to <paramref name="request"/> for an address we own, unicast back to the requester.</summary>
    public static ArpPacket Reply(in ArpPacket request, MacAddress mac) =>
        new(ArpOperation.Reply, mac, request.TargetProtocol, request.SenderHardware, request.SenderProtocol);

    /// <summary>Solicited-node multicast address ff02::1:ffXX:XXXX of <paramref name="address"/> (RFC 4291 §2.7.1).</summary>
    public static UInt128 SolicitedNodeMulticast(UInt128 address) =>
        new(0xFF02_0000_0000_0000, 0x0000_0001_FF00_0000 | ((ulong)address & 0xFF_FFFF));

    /// <summary>Ethernet multicast address 33:33:xx:xx:xx:xx of an IPv6 multicast address (RFC 2464 §7).</summary>
    public static MacAddress MulticastMac(UInt128 group) => new(0x3333_0000_0000 | (ulong)(uint)group);

    /// <summary>Unsolicited NA announcing a takeover (MetalLB: O=1 to ff02::1), from our link-local address.</summary>
    public static NdpPacket UnsolicitedAdvertisement(MacAddress mac, UInt128 linkLocal, UInt128 address) =>
        new(NdpMessageType.NeighborAdvertisement, linkLocal, AllNodes, address, NdpAdvertisementBits.Override, mac);

    /// <summary>
    /// Answer to a solicitation for an address we own: solicited NA (S=1, O=0 as MetalLB) to the soliciting address, or to
    /// all-nodes with S=0 when the solicitation came from the unspecified address (duplicate address detection, RFC 4861 §7.2.4).
    /// The source is the solicited address itself, as a Linux host owning it answers: MetalLB sources it from the
    /// link-local address, which the kernel accepts but tools like ndisc6 drop (a link-scoped answer for a global target).
    /// </summary>
    public static NdpPacket Advertisement(in NdpPacket solicitation, MacAddress mac) =>
        solicitation.IsDuplicateAddressDetection
            ? new(NdpMessageType.NeighborAdvertisement, solicitation.Target, AllNodes, solicitation.Target, NdpAdvertisementBits.Override, mac)
            : new(NdpMessageType.NeighborAdvertisement, solicitation.Target, solicitation.Source, solicitation.Target, NdpAdvertisementBits.Solicited, mac);

    /// <summary>Duplicate address detection probe (RFC 4862 §5.4.2): NS from :: to the solicited-node group, no LLA option.</summary>
    public static NdpPacket DuplicateAddressProbe(UInt128 address) =>
        new(NdpMessageType.NeighborSolicitation, UInt128.Zero, SolicitedNodeMulticast(address), address, NdpAdvertisementBits.None, null);
}
