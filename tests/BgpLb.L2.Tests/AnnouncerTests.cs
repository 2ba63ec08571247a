using System.Net;
using BgpLb.L2.Announcing;
using BgpLb.L2.Sockets;
using BgpLb.L2.Wire;
using BgpLb.Testing;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Testing;

namespace BgpLb.L2.Tests;

#pragma warning disable CA1001 // disposed in DisposeAsync (xunit IAsyncLifetime)
public sealed class AnnouncerTests : IAsyncLifetime
#pragma warning restore CA1001
{
    private static readonly MacAddress Eth0Mac = new(0x0200_0000_0001);
    private static readonly MacAddress Eth1Mac = new(0x0200_0000_0002);
    private static readonly MacAddress Client = new(0x0200_0000_00C1);
    private static readonly MacAddress Intruder = new(0x0200_0000_00BB);
    private static readonly IPAddress Vip = IPAddress.Parse("203.0.113.10");
    private static readonly IPAddress Vip6 = IPAddress.Parse("2001:db8::10");
    private static readonly UInt128 ClientV6 = IPBits.ToUInt128(IPAddress.Parse("2001:db8::c1"));
    private static readonly IPAddress Eth0LinkLocal = IPAddress.Parse("fe80::1");

    private readonly ArmedTimeProvider _time = new();
    private int _timersConsumed;
    private readonly TestMeterFactory _meters = new();
    private readonly FakeLinkLayer _links = new(
        new LinkInfo("eth0", 2, Eth0Mac, true, false, false, true, Eth0LinkLocal),
        new LinkInfo("eth1", 3, Eth1Mac, true, false, false, true, IPAddress.Parse("fe80::2")),
        new LinkInfo("veth12", 4, new MacAddress(0x0200_0000_0004), true, false, false, true, null),
        new LinkInfo("noarp0", 5, new MacAddress(0x0200_0000_0005), true, true, false, true, null),
        new LinkInfo("bond-slave", 6, new MacAddress(0x0200_0000_0006), true, false, true, true, IPAddress.Parse("fe80::6")),
        new LinkInfo("down0", 7, new MacAddress(0x0200_0000_0007), false, false, false, true, IPAddress.Parse("fe80::7")));
    private readonly FakeLogger _logger = new();
    private readonly L2Announcer _announcer;

    public AnnouncerTests() =>
        _announcer = new L2Announcer(new L2AnnouncerOptions { ExcludedInterfacePatterns = ["^veth.*", "^lo$"] }, _links, _time, _meters, _logger);

    public async Task InitializeAsync()
    {
        await _announcer.StartAsync(CancellationToken.None);
        _timersConsumed = _time.TimersCreated; // the interface rescan timer
    }

    public async Task DisposeAsync()
    {
        await _announcer.DisposeAsync();
        _meters.Dispose();
    }

    private static byte[] ArpRequest(IPAddress target, MacAddress destination)
    {
        var frame = new byte[L2Frames.ArpFrameLength];
        L2Frames.WriteArp(frame, destination, Client,
            new ArpPacket(ArpOperation.Request, Client, IPBits.ToUInt32(IPAddress.Parse("198.18.10.1")), MacAddress.Zero, IPBits.ToUInt32(target)));
        return frame;
    }

    private static byte[] ArpFrom(MacAddress sender, ArpOperation operation, IPAddress senderIp)
    {
        var frame = new byte[L2Frames.ArpFrameLength];
        L2Frames.WriteArp(frame, MacAddress.Broadcast, sender,
            new ArpPacket(operation, sender, IPBits.ToUInt32(senderIp), MacAddress.Zero, IPBits.ToUInt32(senderIp)));
        return frame;
    }

    private static byte[] Solicitation(IPAddress target, MacAddress? sourceLinkLayer)
    {
        var t = IPBits.ToUInt128(target);
        var frame = new byte[L2Frames.MaxFrameLength];
        var length = L2Frames.WriteNdp(frame, L2Frames.MulticastMac(L2Frames.SolicitedNodeMulticast(t)), Client,
            new NdpPacket(NdpMessageType.NeighborSolicitation, ClientV6, L2Frames.SolicitedNodeMulticast(t), t, NdpAdvertisementBits.None, sourceLinkLayer));
        return frame[..length];
    }

    private static ArpPacket ParseArp(byte[] frame, out EthernetHeader header)
    {
        Assert.True(EthernetHeader.TryRead(frame, out header));
        Assert.True(ArpPacket.TryRead(frame.AsSpan(EthernetHeader.Length), out var arp));
        return arp;
    }

    private static NdpPacket ParseNdp(byte[] frame, out EthernetHeader header)
    {
        Assert.True(EthernetHeader.TryRead(frame, out header));
        Assert.True(NdpPacket.TryRead(frame.AsSpan(EthernetHeader.Length), out var ndp));
        return ndp;
    }

    private static async Task<byte[][]> WaitForSent(FakeChannel channel, int count)
    {
        await MembershipTests.WaitUntil(() => channel.Sent.Count >= count);
        return channel.TakeSent();
    }

    /// <summary>Advances virtual time once the announcer has armed its next wait (a timer created since the last advance).</summary>
    private async Task AdvanceWhenArmed(TimeSpan by)
    {
        await MembershipTests.WaitUntil(() => _time.TimersCreated > _timersConsumed);
        _timersConsumed = _time.TimersCreated;
        _time.Advance(by);
    }

    private static Task Drained(FakeChannel channel) => MembershipTests.WaitUntil(() => channel.Drained);

    /// <summary>Announces <paramref name="address"/>: waits for the probe, lets the probe time pass, returns the first burst.</summary>
    private async Task<byte[][]> Announce(IPAddress address, FakeChannel channel, int burstFrames, params string[] interfaces)
    {
        _announcer.SetAnnouncements([new L2Announcement(address, [.. interfaces])]);
        var probe = await WaitForSent(channel, 1);
        Assert.Single(probe);
        await AdvanceWhenArmed(TimeSpan.FromMilliseconds(200));
        return await WaitForSent(channel, burstFrames);
    }

    [Fact]
    public void Only_usable_and_not_excluded_interfaces_are_opened()
    {
        Assert.Equal(["eth0/arp", "eth0/ndp", "eth1/arp", "eth1/ndp"],
            _links.Channels.Keys.Select(k => $"{k.Link}/{(k.Ndp ? "ndp" : "arp")}").Order(StringComparer.Ordinal));
    }

    [Fact]
    public void New_exclusions_close_the_responders_of_excluded_interfaces_and_open_the_others()
    {
        _announcer.SetExcludedInterfaces(["^eth1$"]);
        Assert.True(_links.Arp("eth1").Disposed);
        Assert.True(_links.Ndp("eth1").Disposed);
        Assert.False(_links.Arp("eth0").Disposed);
        Assert.False(_links.Arp("veth12").Disposed); // no longer excluded: opened
        Assert.Contains(_logger.Collector.GetSnapshot(), r => r.Message == "Interfaces excluded from L2 announcements (metallb-excludel2): ^eth1$");
    }

    [Fact]
    public async Task Probes_then_sends_gratuitous_request_and_reply_five_times_over_five_seconds()
    {
        var eth0 = _links.Arp("eth0");
        _announcer.SetAnnouncements([new L2Announcement(Vip, [])]);
        var probe = ParseArp(Assert.Single(await WaitForSent(eth0, 1)), out var probeHeader);
        Assert.True(probe.IsProbe);
        Assert.Equal((MacAddress.Broadcast, IPBits.ToUInt32(Vip)), (probeHeader.Destination, probe.TargetProtocol));
        Assert.Empty(_announcer.Announced);

        await AdvanceWhenArmed(TimeSpan.FromMilliseconds(199));
        Assert.True(_time.IsPending(new L2AnnouncerOptions().ProbeTimeout), "the probe wait has not run out, so no burst can have been sent");
        Assert.Empty(eth0.Sent);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        var burst = await WaitForSent(eth0, 2);
        Assert.Equal([Vip], _announcer.Announced.ToArray());
        var request = ParseArp(burst[0], out var requestHeader);
        var reply = ParseArp(burst[1], out _);
        Assert.Equal(L2Frames.GratuitousRequest(Eth0Mac, IPBits.ToUInt32(Vip)), request);
        Assert.Equal(L2Frames.GratuitousReply(Eth0Mac, IPBits.ToUInt32(Vip)), reply);
        Assert.Equal(MacAddress.Broadcast, requestHeader.Destination);
        Assert.Equal(2, (await WaitForSent(_links.Arp("eth1"), 3)).Length - 1); // eth1: its probe and its burst

        for (var i = 0; i < 4; i++)
        {
            await AdvanceWhenArmed(TimeSpan.FromMilliseconds(1100));
            Assert.Equal(2, (await WaitForSent(eth0, 2)).Length);
        }
        // The fifth burst ends the announcing: no further wait is armed, so no amount of time brings another.
        Assert.False(_time.IsPending(new L2AnnouncerOptions().GratuitousInterval));
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Empty(eth0.Sent);
    }

    [Fact]
    public async Task Answering_tells_when_the_last_gratuitous_frame_went_out_on_virtual_time()
    {
        var eth0 = _links.Arp("eth0");
        await Announce(Vip, eth0, 2);
        var first = _time.GetUtcNow();
        await MembershipTests.WaitUntil(() => _announcer.Answering.SingleOrDefault()?.GratuitousSentAt == first);

        await AdvanceWhenArmed(TimeSpan.FromMilliseconds(1100));
        await WaitForSent(eth0, 2);
        await MembershipTests.WaitUntil(() => _announcer.Answering.SingleOrDefault()?.GratuitousSentAt == first.AddMilliseconds(1100));
        Assert.Equal([new AnsweredAddress(Vip, first.AddMilliseconds(1100))], _announcer.Answering.ToArray());
    }

    [Fact]
    public async Task Answers_arp_requests_for_owned_addresses_only_until_released()
    {
        using var requests = new MetricCollector<long>(_meters.Meters.Single(), "metallb_layer2_requests_received");
        using var responses = new MetricCollector<long>(_meters.Meters.Single(), "metallb_layer2_responses_sent");
        var eth0 = _links.Arp("eth0");
        await Announce(Vip, eth0, 2, "eth0");

        eth0.Inject(ArpRequest(Vip, MacAddress.Broadcast));
        var reply = ParseArp(Assert.Single(await WaitForSent(eth0, 1)), out var header);
        Assert.Equal(new ArpPacket(ArpOperation.Reply, Eth0Mac, IPBits.ToUInt32(Vip), Client, IPBits.ToUInt32(IPAddress.Parse("198.18.10.1"))), reply);
        Assert.Equal((Client, Eth0Mac), (header.Destination, header.Source));
        Assert.Equal(1, requests.LastMeasurement?.Value);
        Assert.Equal("203.0.113.10", responses.LastMeasurement?.Tags["ip"]);

        eth0.Inject(ArpRequest(Vip, Eth0Mac)); // unicast to us (a refresh): answered
        Assert.Single(await WaitForSent(eth0, 1));
        eth0.Inject(ArpRequest(Vip, Intruder)); // unicast to someone else: not ours to answer
        eth0.Inject(ArpRequest(IPAddress.Parse("203.0.113.11"), MacAddress.Broadcast));
        eth0.Inject(ArpFrom(Client, ArpOperation.Reply, Vip));
        await Drained(eth0);
        Assert.Empty(eth0.Sent);

        _announcer.SetAnnouncements([]);
        Assert.Contains(_logger.Collector.GetSnapshot(), r => r.Id.Id == 4107 && r.Message == "Released 203.0.113.10: no longer answering for it");
        eth0.Inject(ArpRequest(Vip, MacAddress.Broadcast));
        await Drained(eth0);
        Assert.Empty(eth0.Sent);
        Assert.Empty(_announcer.Announced);
    }

    [Fact]
    public async Task An_interface_restriction_keeps_the_other_interfaces_silent()
    {
        var eth0 = _links.Arp("eth0");
        var eth1 = _links.Arp("eth1");
        await Announce(Vip, eth1, 2, "eth1");
        Assert.Empty(eth0.Sent);

        eth0.Inject(ArpRequest(Vip, MacAddress.Broadcast));
        eth1.Inject(ArpRequest(Vip, MacAddress.Broadcast));
        var reply = ParseArp(Assert.Single(await WaitForSent(eth1, 1)), out _);
        Assert.Equal(Eth1Mac, reply.SenderHardware);
        Assert.Empty(eth0.Sent);
    }

    [Fact]
    public async Task A_probe_answer_is_a_conflict_the_address_is_not_announced_until_the_other_host_goes_away()
    {
        var eth0 = _links.Arp("eth0");
        var detected = new System.Collections.Concurrent.ConcurrentQueue<AddressConflict>();
        _announcer.ConflictDetected += detected.Enqueue;
        _announcer.SetAnnouncements([new L2Announcement(Vip, ["eth0"])]);
        for (var round = 0; round < 3; round++)
        {
            Assert.True(ParseArp(Assert.Single(await WaitForSent(eth0, 1)), out _).IsProbe);
            Assert.Empty(_announcer.Conflicts);
            // The Linux answer to a probe: a reply from the holder, sender IP = the address.
            eth0.Inject(ArpFrom(Intruder, ArpOperation.Reply, Vip));
            await Drained(eth0);
            await AdvanceWhenArmed(TimeSpan.FromMilliseconds(200));
        }
        await MembershipTests.WaitUntil(() => !_announcer.Conflicts.IsEmpty);
        var conflict = Assert.Single(_announcer.Conflicts);
        Assert.Contains(_logger.Collector.GetSnapshot(), r => r.Id.Id == 4108 && r.Level == Microsoft.Extensions.Logging.LogLevel.Error);
        Assert.Equal((Vip, "eth0", Intruder), (conflict.Address, conflict.Interface, conflict.OtherHost));
        Assert.Equal(conflict, Assert.Single(detected));
        using (var gauge = new MetricCollector<int>(_meters.Meters.Single(), "bgplb_layer2_address_conflict"))
        {
            gauge.RecordObservableInstruments();
            Assert.Equal("203.0.113.10", gauge.LastMeasurement?.Tags["ip"]);
        }

        eth0.Inject(ArpRequest(Vip, MacAddress.Broadcast));
        await Drained(eth0);
        Assert.Empty(eth0.Sent); // neither gratuitous nor an answer
        Assert.Empty(_announcer.Announced);

        await AdvanceWhenArmed(TimeSpan.FromSeconds(5)); // probe again; nobody answers this time
        Assert.True(ParseArp(Assert.Single(await WaitForSent(eth0, 1)), out _).IsProbe);
        await AdvanceWhenArmed(TimeSpan.FromMilliseconds(200));
        Assert.Equal(2, (await WaitForSent(eth0, 2)).Length);
        Assert.Empty(_announcer.Conflicts);
        Assert.Equal([Vip], _announcer.Announced.ToArray());
        Assert.Single(detected);
    }

    [Fact]
    public async Task A_previous_owner_answering_one_probe_delays_the_takeover_by_one_probe_and_is_no_conflict()
    {
        var eth0 = _links.Arp("eth0");
        _announcer.SetAnnouncements([new L2Announcement(Vip, ["eth0"])]);
        await WaitForSent(eth0, 1);
        eth0.Inject(ArpFrom(Intruder, ArpOperation.Reply, Vip));
        await Drained(eth0);
        await AdvanceWhenArmed(TimeSpan.FromMilliseconds(200));
        Assert.True(ParseArp(Assert.Single(await WaitForSent(eth0, 1)), out _).IsProbe); // the second probe: nobody answers
        await AdvanceWhenArmed(TimeSpan.FromMilliseconds(200));
        Assert.Equal(2, (await WaitForSent(eth0, 2)).Length);
        Assert.Empty(_announcer.Conflicts);
        Assert.Equal([Vip], _announcer.Announced.ToArray());
    }

    [Fact]
    public async Task Ndp_probes_announces_with_override_and_answers_solicitations_with_solicited_advertisements()
    {
        var eth0 = _links.Ndp("eth0");
        _announcer.SetAnnouncements([new L2Announcement(Vip6, ["eth0"])]);
        var dad = ParseNdp(Assert.Single(await WaitForSent(eth0, 1)), out var dadHeader);
        Assert.True(dad.IsDuplicateAddressDetection);
        Assert.Equal(new MacAddress(0x3333_FF00_0010), dadHeader.Destination);
        Assert.Empty(eth0.Groups);

        await AdvanceWhenArmed(TimeSpan.FromMilliseconds(200));
        var unsolicited = ParseNdp(Assert.Single(await WaitForSent(eth0, 1)), out var header);
        Assert.Equal(new MacAddress(0x3333_0000_0001), header.Destination);
        Assert.Equal(L2Frames.UnsolicitedAdvertisement(Eth0Mac, IPBits.ToUInt128(Eth0LinkLocal), IPBits.ToUInt128(Vip6)), unsolicited);
        Assert.Equal([L2Frames.SolicitedNodeMulticast(IPBits.ToUInt128(Vip6))], eth0.Groups);

        eth0.Inject(Solicitation(Vip6, Client));
        var answer = ParseNdp(Assert.Single(await WaitForSent(eth0, 1)), out var answerHeader);
        Assert.Equal((Client, NdpAdvertisementBits.Solicited, ClientV6, IPBits.ToUInt128(Vip6), (MacAddress?)Eth0Mac),
            (answerHeader.Destination, answer.Flags, answer.Destination, answer.Source, answer.LinkLayerAddress));

        eth0.Inject(Solicitation(Vip6, null)); // MetalLB ignores solicitations without a source link-layer address
        eth0.Inject(Solicitation(IPAddress.Parse("2001:db8::11"), Client));
        await Drained(eth0);
        Assert.Empty(eth0.Sent);

        _announcer.SetAnnouncements([]);
        Assert.Empty(eth0.Groups);
    }

    [Fact]
    public async Task A_neighbor_advertisement_for_a_probed_ipv6_address_is_a_conflict()
    {
        var eth0 = _links.Ndp("eth0");
        _announcer.SetAnnouncements([new L2Announcement(Vip6, ["eth0"])]);
        var frame = new byte[L2Frames.MaxFrameLength];
        var length = L2Frames.WriteNdp(frame, new MacAddress(0x3333_0000_0001), Intruder,
            L2Frames.UnsolicitedAdvertisement(Intruder, IPBits.ToUInt128(IPAddress.Parse("fe80::bb")), IPBits.ToUInt128(Vip6)));
        for (var round = 0; round < 3; round++)
        {
            await WaitForSent(eth0, 1);
            eth0.Inject(frame[..length]);
            await Drained(eth0);
            await AdvanceWhenArmed(TimeSpan.FromMilliseconds(200));
        }
        await MembershipTests.WaitUntil(() => !_announcer.Conflicts.IsEmpty);
        Assert.Equal(Intruder, Assert.Single(_announcer.Conflicts).OtherHost);
        Assert.Empty(eth0.Sent);
    }

    [Fact]
    public async Task Stop_releases_everything_and_closes_the_sockets()
    {
        var eth0 = _links.Arp("eth0");
        await Announce(Vip, eth0, 2, "eth0");
        await _announcer.StopAsync(CancellationToken.None);
        Assert.Empty(_announcer.Announced);
        Assert.Contains(_logger.Collector.GetSnapshot(), r => r.Id.Id == 4107);
        Assert.All(_links.Channels.Values, c => Assert.True(c.Disposed));
    }
}
