using BgpLb.L2.Wire;

namespace BgpLb.Fuzz;

/// <summary>
/// Feeds an Ethernet frame to the ARP or NDP reader, as the L2 responder's receive loop does, and writes the answer it
/// would send. A decoded packet must read back equal once written again; anything thrown is a finding.
/// </summary>
internal sealed class L2Target : FuzzTarget
{
    private static readonly MacAddress Ours = new(0x02_00_00_00_00_01);
    private static readonly MacAddress Theirs = new(0x02_00_00_00_00_02);
    private const uint OurIPv4 = 0xCB00_7101; // 203.0.113.1
    private static readonly UInt128 OurIPv6 = new(0x2001_0DB8_0000_0000, 1);
    private static readonly UInt128 TheirLinkLocal = new(0xFE80_0000_0000_0000, 2);

    public override string Name => "arp";

    /// <summary>A packet socket's receive buffer in the responder.</summary>
    public override int MaxInputLength => 2048;

    protected override void Run(ReadOnlySpan<byte> frame)
    {
        if (!EthernetHeader.TryRead(frame, out var ethernet))
            return;
        var payload = frame[EthernetHeader.Length..];
        Span<byte> written = stackalloc byte[L2Frames.MaxFrameLength];
        if (ethernet.EtherType == EthernetHeader.EtherTypeArp && ArpPacket.TryRead(payload, out var arp))
        {
            L2Frames.WriteArp(written, ethernet.Source, Ours, arp);
            if (!ArpPacket.TryRead(written[EthernetHeader.Length..L2Frames.ArpFrameLength], out var again) || again != arp)
                throw new FuzzFindingException($"ARP {arp} reads back as {again}");
            if (arp.Operation == ArpOperation.Request)
                L2Frames.WriteArp(written, arp.SenderHardware, Ours, L2Frames.Reply(arp, Ours));
        }
        else if (ethernet.EtherType == EthernetHeader.EtherTypeIPv6 && NdpPacket.TryRead(payload, out var ndp))
        {
            var length = L2Frames.WriteNdp(written, ethernet.Source, Ours, ndp);
            if (!NdpPacket.TryRead(written[EthernetHeader.Length..length], out var again) || again != ndp)
                throw new FuzzFindingException($"NDP {ndp} reads back as {again}");
            if (ndp.Type == NdpMessageType.NeighborSolicitation)
                L2Frames.WriteNdp(written, ethernet.Source, Ours, L2Frames.Advertisement(ndp, Ours));
        }
    }

    /// <summary>Every frame the responder sends, as a neighbour receives it, and the requests it answers.</summary>
    public override IEnumerable<(string Name, byte[] Input)> Seeds()
    {
        yield return Arp("arp-gratuitous-request", MacAddress.Broadcast, L2Frames.GratuitousRequest(Ours, OurIPv4));
        yield return Arp("arp-gratuitous-reply", MacAddress.Broadcast, L2Frames.GratuitousReply(Ours, OurIPv4));
        yield return Arp("arp-probe", MacAddress.Broadcast, L2Frames.Probe(Ours, OurIPv4));
        var request = new ArpPacket(ArpOperation.Request, Theirs, 0xCB00_71FE, MacAddress.Zero, OurIPv4);
        // As captured on a wire: padded to the 60-byte Ethernet minimum.
        var padded = Arp("arp-request-padded", MacAddress.Broadcast, request).Input;
        Array.Resize(ref padded, 60);
        yield return ("arp-request-padded", padded);
        yield return Arp("arp-reply", Theirs, L2Frames.Reply(request, Ours));

        var solicitation = new NdpPacket(NdpMessageType.NeighborSolicitation, TheirLinkLocal, L2Frames.SolicitedNodeMulticast(OurIPv6),
            OurIPv6, NdpAdvertisementBits.None, Theirs);
        yield return Ndp("ndp-solicitation", L2Frames.MulticastMac(solicitation.Destination), solicitation);
        yield return Ndp("ndp-dad-probe", L2Frames.MulticastMac(L2Frames.SolicitedNodeMulticast(OurIPv6)), L2Frames.DuplicateAddressProbe(OurIPv6));
        yield return Ndp("ndp-advertisement", Theirs, L2Frames.Advertisement(solicitation, Ours));
        yield return Ndp("ndp-unsolicited-advertisement", L2Frames.MulticastMac(L2Frames.AllNodes),
            L2Frames.UnsolicitedAdvertisement(Ours, new UInt128(0xFE80_0000_0000_0000, 1), OurIPv6));
    }

    private static (string Name, byte[] Input) Arp(string name, MacAddress destination, ArpPacket arp)
    {
        var frame = new byte[L2Frames.ArpFrameLength];
        L2Frames.WriteArp(frame, destination, arp.SenderHardware, arp);
        return (name, frame);
    }

    private static (string Name, byte[] Input) Ndp(string name, MacAddress destination, NdpPacket ndp)
    {
        var frame = new byte[L2Frames.MaxFrameLength];
        var length = L2Frames.WriteNdp(frame, destination, ndp.LinkLayerAddress ?? Theirs, ndp);
        return (name, frame[..length]);
    }
}
