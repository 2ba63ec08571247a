using System.Net;
using BenchmarkDotNet.Attributes;
using BgpLb.L2.Wire;

namespace BgpLb.Benchmarks;

/// <summary>The responder's per-request work: parse the request, build the answer frame (H9: 0 B/op).</summary>
[MemoryDiagnoser]
public class L2FrameBenchmarks
{
    private static readonly MacAddress Ours = new(0x0200_0000_0001);
    private static readonly MacAddress Client = new(0x0200_0000_00C1);
    private readonly byte[] _arpRequest = new byte[L2Frames.ArpFrameLength];
    private readonly byte[] _solicitation = new byte[L2Frames.MaxFrameLength];
    private readonly byte[] _reply = new byte[L2Frames.MaxFrameLength];
    private int _solicitationLength;

    [GlobalSetup]
    public void Setup()
    {
        var vip = IPBits.ToUInt32(IPAddress.Parse("203.0.113.10"));
        var vip6 = IPBits.ToUInt128(IPAddress.Parse("2001:db8::10"));
        L2Frames.WriteArp(_arpRequest, MacAddress.Broadcast, Client, new ArpPacket(ArpOperation.Request, Client, 0xC612_0A01, MacAddress.Zero, vip));
        _solicitationLength = L2Frames.WriteNdp(_solicitation, L2Frames.MulticastMac(L2Frames.SolicitedNodeMulticast(vip6)), Client,
            new NdpPacket(NdpMessageType.NeighborSolicitation, IPBits.ToUInt128(IPAddress.Parse("2001:db8::c1")),
                L2Frames.SolicitedNodeMulticast(vip6), vip6, NdpAdvertisementBits.None, Client));
    }

    [Benchmark]
    public int AnswerArpRequest()
    {
        EthernetHeader.TryRead(_arpRequest, out _);
        ArpPacket.TryRead(_arpRequest.AsSpan(EthernetHeader.Length), out var request);
        return L2Frames.WriteArp(_reply, request.SenderHardware, Ours, L2Frames.Reply(request, Ours));
    }

    [Benchmark]
    public int AnswerNeighborSolicitation()
    {
        EthernetHeader.TryRead(_solicitation, out _);
        NdpPacket.TryRead(_solicitation.AsSpan(EthernetHeader.Length, _solicitationLength - EthernetHeader.Length), out var solicitation);
        return L2Frames.WriteNdp(_reply, solicitation.LinkLayerAddress!.Value, Ours, L2Frames.Advertisement(solicitation, Ours));
    }
}
