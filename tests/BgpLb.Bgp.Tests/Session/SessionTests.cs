using System.Buffers;
using System.Net;
using BgpLb.Bgp.Fsm;
using BgpLb.Bgp.Wire;

namespace BgpLb.Bgp.Tests.Session;

public class SessionTests : SessionTestBase
{
    [Fact]
    public async Task Ebgp_four_octet_session_establishes_with_our_capabilities_and_sends_end_of_rib()
    {
        Manager.Apply([Intent(Peer(localAs: 4200000001))]);
        var peer = await Transport.NextConnectionAsync();

        var open = OpenCodec.Read((await peer.ReadAsync()).Body);
        Assert.Equal(BgpConstants.AsTrans, open.MyAs);
        Assert.Equal(4200000001u, open.Capabilities.FourOctetAs);
        Assert.Equal((ushort)90, open.HoldTime);
        Assert.Equal(IPAddress.Parse("198.18.0.1"), open.BgpIdAddress);
        Assert.Equal([AfiSafi.IPv4Unicast, AfiSafi.IPv6Unicast], open.Capabilities.Multiprotocol);
        Assert.True(open.Capabilities.RouteRefresh);
        Assert.True(open.Capabilities.EnhancedRouteRefresh);
        var gr = Assert.IsType<GracefulRestartCapability>(open.Capabilities.GracefulRestart);
        Assert.Equal((0, (ushort)120), (gr.Flags, gr.RestartTime));
        Assert.Empty(gr.Families);
        Assert.Null(open.Capabilities.HostName);
        Assert.Equal(BgpState.OpenSent, Status().State);

        await peer.SendOpenAsync(RouterAs, "198.18.0.2");
        Assert.Equal(BgpMessageType.Keepalive, (await peer.ReadAsync()).Type);
        Assert.Equal(BgpState.OpenConfirm, Status().State);
        await peer.SendKeepaliveAsync();

        var eor4 = Decode(await peer.ReadAsync());
        var eor6 = Decode(await peer.ReadAsync());
        Assert.Equal(AfiSafi.IPv4Unicast, eor4.EndOfRib);
        Assert.Equal(AfiSafi.IPv6Unicast, eor6.EndOfRib);
        var status = Status();
        Assert.Equal(BgpState.Established, status.State);
        Assert.Equal(RouterAs, status.RemoteAsn);
        Assert.Equal(TimeSpan.FromSeconds(90), status.NegotiatedHoldTime);
        Assert.Equal(TimeSpan.Zero, status.Uptime);
        Assert.Equal(IPAddress.Parse("198.18.0.2"), status.RemoteRouterId);
    }

    [Fact]
    public async Task Ibgp_two_octet_session_sends_local_pref_and_empty_as_path()
    {
        var attributes = new RouteAttributes(200, [64512u << 16 | 100], [new LargeCommunity(64512, 1, 2)]);
        var peer = await EstablishAsync(Peer(localAs: RouterAs), [R("203.0.113.10/32", attributes)], fourOctetAs: false);

        var update = Decode(await peer.ReadAsync(), isInternal: true);
        Assert.Equal([IPNetwork.Parse("203.0.113.10/32")], update.Nlri);
        Assert.Equal(200u, update.LocalPref);
        Assert.Equal(BgpOrigin.Igp, update.Origin);
        Assert.Empty(Assert.IsAssignableFrom<IReadOnlyList<AsPathSegment>>(update.AsPath));
        Assert.Equal(IPAddress.Parse("198.18.0.1"), update.NextHop);
        Assert.Equal([64512u << 16 | 100], update.Communities!);
        Assert.Equal([new LargeCommunity(64512, 1, 2)], update.LargeCommunities!);
        Assert.Equal(AfiSafi.IPv4Unicast, Decode(await peer.ReadAsync()).EndOfRib);
    }

    [Fact]
    public async Task Ebgp_routes_carry_our_as_and_no_local_pref()
    {
        var peer = await EstablishAsync(Peer(), [R("203.0.113.10/32", new RouteAttributes(200, [], []))]);

        var update = Decode(await peer.ReadAsync());
        Assert.Null(update.LocalPref);
        var segment = Assert.Single(update.AsPath!);
        Assert.Equal([LocalAs], segment.Asns);
    }

    [Fact]
    public async Task Open_with_wrong_peer_as_gets_bad_peer_as_notification_and_close()
    {
        Manager.Apply([Intent(Peer())]);
        var peer = await Transport.NextConnectionAsync();
        await peer.ReadAsync();
        await peer.SendOpenAsync(65000, "198.18.0.2");

        var rest = await peer.ReadUntilClosedAsync();
        AssertNotification(Assert.Single(rest), BgpErrorCode.Open, OpenSubcode.BadPeerAs);
        Assert.Contains("2/2", Status().LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_marker_gets_header_error()
    {
        Manager.Apply([Intent(Peer())]);
        var peer = await Transport.NextConnectionAsync();
        await peer.ReadAsync();
        await peer.SendAsync(w => w.Write(new byte[19]));

        AssertNotification(Assert.Single(await peer.ReadUntilClosedAsync()), BgpErrorCode.MessageHeader, MessageHeaderSubcode.ConnectionNotSynchronized);
    }

    [Fact]
    public async Task Hold_timer_expiry_sends_4_0_and_closes()
    {
        var peer = await EstablishAsync(Peer(hold: TimeSpan.FromSeconds(3)), []);
        Assert.True(IsEndOfRib(await peer.ReadAsync()));
        Assert.True(IsEndOfRib(await peer.ReadAsync()));

        Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(BgpMessageType.Keepalive, (await peer.ReadAsync()).Type);
        Time.Advance(TimeSpan.FromSeconds(2));

        var rest = await peer.ReadUntilClosedAsync();
        AssertNotification(rest[^1], BgpErrorCode.HoldTimerExpired, 0);
    }

    [Fact]
    public async Task Every_received_message_restarts_the_hold_timer()
    {
        var peer = await EstablishAsync(Peer(hold: TimeSpan.FromSeconds(3)), []);
        Assert.True(IsEndOfRib(await peer.ReadAsync()));
        Assert.True(IsEndOfRib(await peer.ReadAsync()));
        for (var i = 0; i < 4; i++)
        {
            Time.Advance(TimeSpan.FromSeconds(2));
            await peer.SendKeepaliveAsync();
            Assert.Equal(BgpMessageType.Keepalive, (await peer.ReadAsync()).Type);
        }
        await peer.SendKeepaliveAsync();
        await peer.AssertQuietAsync();
        Assert.Equal(BgpState.Established, Status().State);
    }

    [Fact]
    public async Task Keepalives_are_sent_every_third_of_the_hold_time()
    {
        var peer = await EstablishAsync(Peer(), []);
        Assert.True(IsEndOfRib(await peer.ReadAsync()));
        Assert.True(IsEndOfRib(await peer.ReadAsync()));

        Time.Advance(TimeSpan.FromSeconds(29));
        await peer.AssertQuietAsync();
        Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(BgpMessageType.Keepalive, (await peer.ReadAsync()).Type);
        await peer.SendKeepaliveAsync();
        Time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(BgpMessageType.Keepalive, (await peer.ReadAsync()).Type);
    }

    [Fact]
    public async Task Sending_an_update_postpones_the_next_keepalive()
    {
        var config = Peer();
        var peer = await EstablishAsync(config, []);
        Assert.True(IsEndOfRib(await peer.ReadAsync()));
        Assert.True(IsEndOfRib(await peer.ReadAsync()));

        Time.Advance(TimeSpan.FromSeconds(20));
        Manager.Apply([Intent(config, R("203.0.113.1/32"))]);
        Assert.Single(Decode(await peer.ReadAsync()).Nlri);
        Time.Advance(TimeSpan.FromSeconds(29));
        await peer.AssertQuietAsync();
        Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(BgpMessageType.Keepalive, (await peer.ReadAsync()).Type);
    }

    [Fact]
    public async Task Ebgp_two_octet_peer_gets_two_octet_as_path()
    {
        var peer = await EstablishAsync(Peer(), [R("203.0.113.1/32")], fourOctetAs: false);

        var update = UpdateDecoder.Decode((await peer.ReadAsync()).Body, new UpdateDecodeContext(FourOctetAs: false, IsInternal: false));
        Assert.Equal([LocalAs], Assert.Single(update.AsPath!).Asns);
        Assert.Equal(RouterAs, Status().RemoteAsn);
    }

    [Fact]
    public async Task Zero_hold_time_sends_no_keepalives_and_never_expires()
    {
        var peer = await EstablishAsync(Peer(hold: TimeSpan.Zero), []);
        Assert.True(IsEndOfRib(await peer.ReadAsync()));
        Assert.True(IsEndOfRib(await peer.ReadAsync()));

        Time.Advance(TimeSpan.FromHours(1));
        await peer.AssertQuietAsync();
        Assert.Equal(BgpState.Established, Status().State);
    }

    [Fact]
    public async Task OpenSent_uses_the_large_hold_time()
    {
        Manager.Apply([Intent(Peer(hold: TimeSpan.FromSeconds(3)))]);
        var peer = await Transport.NextConnectionAsync();
        await peer.ReadAsync();

        // That nothing expires earlier is BgpFsmTests' (OpenSent arms the 240 s hold timer): no barrier exists in OpenSent,
        // every message but OPEN or NOTIFICATION would end the session.
        Time.Advance(TimeSpan.FromSeconds(240));
        AssertNotification(Assert.Single(await peer.ReadUntilClosedAsync()), BgpErrorCode.HoldTimerExpired, 0);
    }

    [Fact]
    public async Task Update_in_OpenConfirm_gets_fsm_error_5_2()
    {
        Manager.Apply([Intent(Peer())]);
        var peer = await Transport.NextConnectionAsync();
        await peer.ReadAsync();
        await peer.SendOpenAsync(RouterAs, "198.18.0.2");
        await peer.ReadAsync(BgpMessageType.Keepalive);
        await peer.SendAsync(w => UpdateWriter.WriteEndOfRib(w, System.Net.Sockets.AddressFamily.InterNetwork));

        AssertNotification(Assert.Single(await peer.ReadUntilClosedAsync()), BgpErrorCode.FiniteStateMachine, FsmSubcode.UnexpectedMessageInOpenConfirm);
    }

    [Fact]
    public async Task Open_in_Established_gets_fsm_error_5_3()
    {
        var peer = await EstablishAsync(Peer(), []);
        await peer.SendOpenAsync(RouterAs, "198.18.0.2");

        var rest = await peer.ReadUntilClosedAsync();
        AssertNotification(rest[^1], BgpErrorCode.FiniteStateMachine, FsmSubcode.UnexpectedMessageInEstablished);
    }

    [Fact]
    public async Task Route_change_sends_only_the_difference_withdrawals_first()
    {
        var config = Peer();
        var peer = await EstablishAsync(config, [R("203.0.113.1/32"), R("203.0.113.2/32")]);
        var initial = Decode(await peer.ReadAsync());
        Assert.Equal(2, initial.Nlri.Count);
        Assert.True(IsEndOfRib(await peer.ReadAsync()));
        Assert.True(IsEndOfRib(await peer.ReadAsync()));

        Manager.Apply([Intent(config, R("203.0.113.1/32"), R("203.0.113.3/32"))]);

        var withdraw = Decode(await peer.ReadAsync());
        Assert.Equal([IPNetwork.Parse("203.0.113.2/32")], withdraw.Withdrawn);
        Assert.Empty(withdraw.Nlri);
        var announce = Decode(await peer.ReadAsync());
        Assert.Equal([IPNetwork.Parse("203.0.113.3/32")], announce.Nlri);
        await peer.AssertQuietAsync();
        var counters = Status().Counters;
        Assert.Equal(3, counters.PrefixesAnnounced);
        Assert.Equal(1, counters.PrefixesWithdrawn);
        Assert.Equal(2, Status().AdvertisedPrefixes);
    }

    [Fact]
    public async Task Routes_with_distinct_attributes_go_in_separate_updates_and_many_prefixes_share_one()
    {
        var a = new RouteAttributes(null, [1u], []);
        var routes = Enumerable.Range(0, 500).Select(i => R($"10.{i / 250}.{i % 250}.0/24", a)).Append(R("192.0.2.1/32")).ToArray();
        var peer = await EstablishAsync(Peer(), routes);

        var first = Decode(await peer.ReadAsync());
        var second = Decode(await peer.ReadAsync());
        var big = first.Nlri.Count > second.Nlri.Count ? first : second;
        var small = big == first ? second : first;
        Assert.Equal(500, big.Nlri.Count);
        Assert.Equal([1u], big.Communities!);
        Assert.Equal([IPNetwork.Parse("192.0.2.1/32")], small.Nlri);
    }

    [Fact]
    public async Task Churn_before_the_session_is_up_is_coalesced()
    {
        var config = Peer();
        Manager.Apply([Intent(config, R("203.0.113.1/32"))]);
        Manager.Apply([Intent(config, R("203.0.113.2/32"))]);
        Manager.Apply([Intent(config, R("203.0.113.2/32", new RouteAttributes(null, [7u], [])))]);
        var peer = await Transport.NextConnectionAsync();
        await peer.EstablishAsync(RouterAs);

        var update = Decode(await peer.ReadAsync());
        Assert.Empty(update.Withdrawn);
        Assert.Equal([IPNetwork.Parse("203.0.113.2/32")], update.Nlri);
        Assert.Equal([7u], update.Communities!);
        Assert.True(IsEndOfRib(await peer.ReadAsync()));
    }

    [Fact]
    public async Task Route_refresh_resends_everything_between_borr_and_eorr()
    {
        var peer = await EstablishAsync(Peer(), [R("203.0.113.1/32"), R("203.0.113.2/32")]);
        await peer.ReadAsync();
        await peer.ReadAsync();
        await peer.ReadAsync();

        await peer.SendAsync(w => RouteRefreshCodec.Write(w, new RouteRefreshMessage(AfiSafi.IPv4Unicast, RouteRefreshSubtype.Normal)));

        var borr = await peer.ReadAsync();
        Assert.Equal(BgpMessageType.RouteRefresh, borr.Type);
        Assert.Equal(RouteRefreshSubtype.BeginningOfRouteRefresh, RouteRefreshCodec.Read(borr.Body).Subtype);
        Assert.Equal(2, Decode(await peer.ReadAsync()).Nlri.Count);
        var eorr = await peer.ReadAsync();
        Assert.Equal(RouteRefreshSubtype.EndOfRouteRefresh, RouteRefreshCodec.Read(eorr.Body).Subtype);
    }

    [Fact]
    public async Task Malformed_attribute_is_treated_as_withdraw_and_the_session_stays()
    {
        var peer = await EstablishAsync(Peer(), []);
        // UPDATE with ORIGIN value 5 (RFC 7606 §7.1: treat-as-withdraw), AS_PATH [64512], NEXT_HOP, NLRI 192.0.2.0/24.
        var body = Convert.FromHexString("0000" + "0014" + "40010105" + "40020602010000FC00" + "400304C6120002" + "18C00002");
        await peer.SendAsync(w => w.Write(Message(BgpMessageType.Update, body)));
        await peer.SendKeepaliveAsync();

        Assert.True(IsEndOfRib(await peer.ReadAsync()));
        Assert.True(IsEndOfRib(await peer.ReadAsync()));
        await peer.AssertQuietAsync();
        var status = Status();
        Assert.Equal(BgpState.Established, status.State);
        Assert.Equal(1, status.Counters.AttributeErrors);
        Assert.Equal(1, status.Counters.UpdatesReceived);
    }

    [Fact]
    public async Task Session_level_update_error_sends_its_notification_and_reconnects_after_backoff()
    {
        var peer = await EstablishAsync(Peer(), []);
        await peer.SendAsync(w => w.Write(Message(BgpMessageType.Update, Convert.FromHexString("FFFF0000"))));

        var rest = await peer.ReadUntilClosedAsync();
        AssertNotification(rest[^1], BgpErrorCode.Update, UpdateSubcode.MalformedAttributeList);
        Assert.Equal(1, Transport.ConnectAttempts);
        await AdvanceUntilAsync(() => Transport.ConnectAttempts == 2);
        Assert.InRange(Time.GetUtcNow() - Start, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task Notification_from_peer_closes_and_is_recorded()
    {
        var peer = await EstablishAsync(Peer(), []);
        await peer.SendAsync(w => NotificationCodec.WriteShutdown(w, CeaseSubcode.AdministrativeShutdown, "maintenance"));

        var rest = await peer.ReadUntilClosedAsync();
        Assert.DoesNotContain(rest, m => m.Type == BgpMessageType.Notification);
        Assert.Contains("maintenance", Status().LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stop_sends_administrative_shutdown_with_communication()
    {
        var peer = await EstablishAsync(Peer(), []);

        await Manager.StopAsync(CancellationToken.None).WaitAsync(FakePeer.Timeout);

        var last = (await peer.ReadUntilClosedAsync())[^1];
        AssertNotification(last, BgpErrorCode.Cease, CeaseSubcode.AdministrativeShutdown);
        Assert.Equal("bgplb speaker shutting down", NotificationCodec.Read(last.Body).ShutdownCommunication);
    }

    [Fact]
    public async Task Unreachable_peer_is_retried_with_backoff_and_connects_when_it_comes_up()
    {
        Transport.Reachable = false;
        Manager.Apply([Intent(Peer())]);
        await WaitForAsync(() => Transport.ConnectAttempts == 1);
        Assert.Equal(BgpState.Active, Status().State);
        Assert.Contains("connect failed", Status().LastError, StringComparison.Ordinal);

        await AdvanceUntilAsync(() => Transport.ConnectAttempts == 2);
        Assert.True(Time.GetUtcNow() - Start < TimeSpan.FromSeconds(3), "the first retry follows the 1 s base delay (with jitter)");
        Transport.Reachable = true;
        await AdvanceUntilAsync(() => Transport.ConnectAttempts == 3);
        var peer = await Transport.NextConnectionAsync();
        await peer.EstablishAsync(RouterAs);
        await WaitForStateAsync(BgpState.Established);
    }

    [Fact]
    public async Task Session_reconnects_after_the_peer_closes()
    {
        var peer = await EstablishAsync(Peer(), [R("203.0.113.1/32")]);
        await WaitForStateAsync(BgpState.Established);
        peer.Close();
        await AdvanceUntilAsync(() => Transport.ConnectAttempts == 2);

        var again = await Transport.NextConnectionAsync();
        await again.EstablishAsync(RouterAs);
        Assert.Equal([IPNetwork.Parse("203.0.113.1/32")], Decode(await again.ReadAsync()).Nlri);
    }

    [Fact]
    public async Task Ipv6_session_announces_ipv6_routes_with_the_local_ipv6_next_hop()
    {
        Transport.LocalEndPoint = new IPEndPoint(IPAddress.Parse("2001:db8::1"), 40000);
        var config = Peer() with { Address = IPAddress.Parse("2001:db8::2"), RouterId = IPAddress.Parse("198.18.0.1") };
        var peer = await EstablishAsync(config, [R("2001:db8:100::1/128"), R("203.0.113.1/32")]);

        var update = Decode(await peer.ReadAsync());
        var reach = Assert.IsType<MpReachNlri>(update.MpReach);
        Assert.Equal(AfiSafi.IPv6Unicast, reach.Family);
        Assert.Equal(IPAddress.Parse("2001:db8::1"), reach.NextHop);
        Assert.Equal([IPNetwork.Parse("2001:db8:100::1/128")], reach.Nlri);
        // No IPv4 address on the interface of the local address: IPv4 routes cannot get a next hop and are not sent.
        Assert.True(IsEndOfRib(await peer.ReadAsync()));
        Assert.True(IsEndOfRib(await peer.ReadAsync()));
        await peer.AssertQuietAsync();
    }

    [Fact]
    public async Task DisableMP_offers_only_the_peer_family_and_hostname_adds_fqdn()
    {
        Manager.Apply([Intent(Peer() with { DisableMP = true, Hostname = "node-1" })]);
        var peer = await Transport.NextConnectionAsync();

        var open = OpenCodec.Read((await peer.ReadAsync()).Body);

        Assert.Equal([AfiSafi.IPv4Unicast], open.Capabilities.Multiprotocol);
        Assert.Equal("node-1", open.Capabilities.HostName);
    }

    [Fact]
    public async Task Peer_that_stops_reading_is_dropped_by_the_send_hold_timer()
    {
        var config = Peer();
        var peer = await EstablishAsync(config, []);
        Assert.True(IsEndOfRib(await peer.ReadAsync()));
        Assert.True(IsEndOfRib(await peer.ReadAsync()));
        peer.PauseReading();

        Manager.Apply([Intent(config, [.. Enumerable.Range(0, 30000).Select(i => R($"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}/32"))])]);
        // The session's flush now waits for the router; once that wait is armed (RFC 9687's minimum of 8 minutes), let it run out.
        var sendHoldTime = TimeSpan.FromMinutes(8);
        await Time.WaitUntilArmedAsync(sendHoldTime);
        Time.Advance(sendHoldTime);

        await WaitForAsync(() => Status().LastError == "send hold timer expired");
        peer.ResumeReading();
        await peer.ReadUntilClosedAsync();
        await AdvanceUntilAsync(() => Transport.ConnectAttempts == 2);
    }

    internal static byte[] Message(BgpMessageType type, byte[] body)
    {
        var message = new byte[19 + body.Length];
        BgpConstants.WriteHeader(message, message.Length, type);
        body.CopyTo(message, 19);
        return message;
    }

    internal static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + FakePeer.Timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail("condition not met in time");
            await Task.Delay(5);
        }
    }
}
