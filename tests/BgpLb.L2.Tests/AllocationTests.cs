using System.Net;
using BgpLb.L2.Announcing;
using BgpLb.L2.Sockets;
using BgpLb.L2.Wire;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace BgpLb.L2.Tests;

/// <summary>H9: answering a request allocates nothing (the counters have no listener here, as in a process never scraped).</summary>
public sealed class AllocationTests
{
    private static readonly MacAddress Ours = new(0x0200_0000_0001);
    private static readonly MacAddress Client = new(0x0200_0000_00C1);

    [Fact]
    public void Parsing_and_writing_frames_allocates_nothing()
    {
        var vip = IPBits.ToUInt32(IPAddress.Parse("203.0.113.10"));
        var vip6 = IPBits.ToUInt128(IPAddress.Parse("2001:db8::10"));
        var request = new byte[L2Frames.ArpFrameLength];
        L2Frames.WriteArp(request, MacAddress.Broadcast, Client, new ArpPacket(ArpOperation.Request, Client, 1, MacAddress.Zero, vip));
        var ns = new byte[L2Frames.MaxFrameLength];
        var nsLength = L2Frames.WriteNdp(ns, Client, Client, new NdpPacket(NdpMessageType.NeighborSolicitation, 1, L2Frames.SolicitedNodeMulticast(vip6), vip6, NdpAdvertisementBits.None, Client));
        var reply = new byte[L2Frames.MaxFrameLength];

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            Assert.True(EthernetHeader.TryRead(request, out _));
            Assert.True(ArpPacket.TryRead(request.AsSpan(EthernetHeader.Length), out var arp));
            L2Frames.WriteArp(reply, arp.SenderHardware, Ours, L2Frames.Reply(arp, Ours));
            Assert.True(NdpPacket.TryRead(ns.AsSpan(EthernetHeader.Length, nsLength - EthernetHeader.Length), out var solicitation));
            L2Frames.WriteNdp(reply, Client, Ours, L2Frames.Advertisement(solicitation, Ours));
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public async Task Answering_an_arp_request_allocates_nothing()
    {
        var time = new FakeTimeProvider();
        using var meters = new TestMeterFactory();
        var links = new FakeLinkLayer(new LinkInfo("eth0", 2, Ours, true, false, false, true, null));
        await using var announcer = new L2Announcer(new L2AnnouncerOptions { ProbeTimeout = TimeSpan.Zero }, links, time, meters, NullLogger.Instance);
        await announcer.StartAsync(CancellationToken.None);
        announcer.SetAnnouncements([new L2Announcement(IPAddress.Parse("203.0.113.10"), [])]);
        await MembershipTests.WaitUntil(() => !announcer.Announced.IsEmpty);

        var request = new byte[L2Frames.ArpFrameLength];
        L2Frames.WriteArp(request, MacAddress.Broadcast, Client,
            new ArpPacket(ArpOperation.Request, Client, 1, MacAddress.Zero, IPBits.ToUInt32(IPAddress.Parse("203.0.113.10"))));
        var session = new L2Announcer.LinkSession(links.Links[0], CancellationToken.None);
        var sink = new CountingChannel();
        announcer.HandleArp(session, sink, request); // warm up lazily initialised paths

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
            announcer.HandleArp(session, sink, request);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1001, sink.Sent);
        session.Dispose();
    }

    private sealed class CountingChannel : IFrameChannel
    {
        public int Sent { get; private set; }
        public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) => throw new NotSupportedException();
        public void Send(ReadOnlySpan<byte> frame) => Sent++;
        public void SetMulticastGroups(IReadOnlySet<UInt128> groups) { }
        public void Dispose() { }
    }
}
