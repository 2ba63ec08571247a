using System.Diagnostics.Metrics;
using System.IO.Pipelines;
using System.Net;
using BgpLb.Bgp.Fsm;
using BgpLb.Bgp.Wire;

namespace BgpLb.Bgp.Tests.Session;

/// <summary>PeerManager.Update: route changes by prefix, sessions kept, restarted or removed by configuration.</summary>
public class PeerManagerUpdateTests : SessionTestBase
{
    private static IPNetwork N(string cidr) => IPNetwork.Parse(cidr);

    private static RouteChange Add(BgpPeerConfig peer, string cidr, RouteAttributes? attributes = null) =>
        new(peer.Key, N(cidr), attributes ?? RouteAttributes.Empty);

    private static RouteChange Withdraw(BgpPeerConfig peer, string cidr) => new(peer.Key, N(cidr), null);

    private static IPNetwork[] Sorted(IEnumerable<IPNetwork> prefixes) => [.. prefixes.OrderBy(p => p.ToString(), StringComparer.Ordinal)];

    private async Task<FakePeer> ConnectAndEstablishAsync(ushort hold = 90)
    {
        var peer = await Transport.NextConnectionAsync();
        await peer.EstablishAsync(RouterAs, hold: hold);
        return peer;
    }

    [Fact]
    public async Task A_new_peer_opens_with_its_routes_in_place_and_end_of_rib_after_them()
    {
        Manager.Update([Peer()], [Add(Peer(), "203.0.113.1/32"), Add(Peer(), "203.0.113.2/32"), Add(Peer(), "203.0.113.3/32")]);

        var peer = await ConnectAndEstablishAsync();

        var update = Assert.Single(await peer.ReadUntilEndOfRibAsync());
        Assert.Equal([N("203.0.113.1/32"), N("203.0.113.2/32"), N("203.0.113.3/32")], Sorted(update.Nlri));
        Assert.Empty(update.Withdrawn);
    }

    [Fact]
    public async Task Route_changes_apply_incrementally_and_reach_the_wire_as_one_batch()
    {
        var router = Peer();
        Manager.Update([router], [Add(router, "203.0.113.1/32"), Add(router, "203.0.113.2/32")]);
        var peer = await ConnectAndEstablishAsync();
        await peer.ReadUntilEndOfRibAsync();

        // One withdrawal, two announcements, and a route that is already there.
        Manager.Update(null, [Withdraw(router, "203.0.113.1/32"), Add(router, "203.0.113.3/32"), Add(router, "203.0.113.4/32"), Add(router, "203.0.113.2/32")]);

        var withdrawal = await peer.ReadUpdateAsync();
        Assert.Equal([N("203.0.113.1/32")], withdrawal.Withdrawn);
        Assert.Empty(withdrawal.Nlri);
        var announcement = await peer.ReadUpdateAsync();
        Assert.Equal([N("203.0.113.3/32"), N("203.0.113.4/32")], Sorted(announcement.Nlri));
        Assert.Empty(announcement.Withdrawn);

        // The next message answers the next change: nothing else (such as 203.0.113.2 again) was sent in between.
        Manager.Update(null, [Withdraw(router, "203.0.113.2/32")]);
        var next = await peer.ReadUpdateAsync();
        Assert.Equal([N("203.0.113.2/32")], next.Withdrawn);
        Assert.Empty(next.Nlri);
        Assert.Equal(2, Status().AdvertisedPrefixes);
    }

    [Fact]
    public async Task The_adj_rib_out_tells_when_each_prefix_was_sent_on_virtual_time()
    {
        var router = Peer();
        Manager.Update([router], [Add(router, "203.0.113.1/32")]);
        var peer = await ConnectAndEstablishAsync();
        await peer.ReadUntilEndOfRibAsync();
        var first = Time.GetUtcNow();

        Time.Advance(TimeSpan.FromSeconds(7));
        Manager.Update(null, [Add(router, "203.0.113.2/32")]);
        await peer.ReadUpdateAsync();

        Assert.Equal(
            new Dictionary<IPNetwork, DateTimeOffset> { [N("203.0.113.1/32")] = first, [N("203.0.113.2/32")] = first.AddSeconds(7) },
            Manager.AdvertisedPrefixes(router.Key));
    }

    [Fact]
    public async Task A_peer_whose_configuration_changes_restarts_with_the_routes_it_had()
    {
        var router = Peer();
        Manager.Update([router], [Add(router, "203.0.113.1/32"), Add(router, "203.0.113.2/32")]);
        var peer = await ConnectAndEstablishAsync();
        await peer.ReadUntilEndOfRibAsync();

        // New hold time; the caller sends only what changes about the routes, not the routes the peer already has.
        var changed = Peer(hold: TimeSpan.FromSeconds(30));
        Manager.Update([changed], [Withdraw(changed, "203.0.113.1/32"), Add(changed, "203.0.113.3/32")]);

        AssertNotification((await peer.ReadUntilClosedAsync())[^1], BgpErrorCode.Cease, CeaseSubcode.OtherConfigurationChange);
        var again = await Transport.NextConnectionAsync();
        Assert.Equal((ushort)30, (await again.EstablishAsync(RouterAs, hold: 30)).HoldTime);
        var update = Assert.Single(await again.ReadUntilEndOfRibAsync());
        Assert.Equal([N("203.0.113.2/32"), N("203.0.113.3/32")], Sorted(update.Nlri));
        Assert.Empty(update.Withdrawn);
    }

    [Fact]
    public async Task A_name_only_change_keeps_the_session_and_its_routes()
    {
        var router = Peer();
        Manager.Update([router], [Add(router, "203.0.113.1/32")]);
        var peer = await ConnectAndEstablishAsync();
        await peer.ReadUntilEndOfRibAsync();

        var renamed = router with { Name = "default/renamed" };
        Manager.Update([renamed], [Add(renamed, "203.0.113.2/32")]);

        // The same session carries on: the next UPDATE is the new route, not a new session's full table.
        Assert.Equal([N("203.0.113.2/32")], (await peer.ReadUpdateAsync()).Nlri);
        Assert.Equal("default/renamed", Status().Name);
        Assert.Equal(1, Transport.ConnectAttempts);
    }

    [Fact]
    public async Task Routes_for_a_peer_that_is_not_configured_are_ignored_and_not_kept()
    {
        var logs = new ListLoggerFactory();
        await using var manager = new PeerManager(new PeerManagerOptions(), Transport, Time, logs, new BgpMetrics(MeterFactory));
        var router = Peer();
        var stranger = Peer() with { Name = "default/stranger", Address = IPAddress.Parse("198.18.0.3") };

        manager.Update([router], [Add(router, "203.0.113.1/32"), Add(stranger, "203.0.113.2/32")]);

        Assert.Contains(logs.Entries, e => e.EventId == 1308 && e.Message.Contains("198.18.0.3", StringComparison.Ordinal));
        var peer = await ConnectAndEstablishAsync();
        Assert.Equal([N("203.0.113.1/32")], Assert.Single(await peer.ReadUntilEndOfRibAsync()).Nlri);

        // Configured later, the stranger starts with nothing: the changes were dropped, not parked.
        manager.Update([router, stranger], []);
        var second = await ConnectAndEstablishAsync();
        Assert.Empty(await second.ReadUntilEndOfRibAsync());
        Assert.Equal(2, manager.GetStatus().Count);
    }

    [Fact]
    public async Task Null_peers_keep_the_sessions_and_an_empty_list_removes_them()
    {
        var router = Peer();
        Manager.Update([router], []);
        var peer = await ConnectAndEstablishAsync();
        await peer.ReadUntilEndOfRibAsync();

        Manager.Update(null, [Add(router, "203.0.113.1/32")]);
        Assert.Equal([N("203.0.113.1/32")], (await peer.ReadUpdateAsync()).Nlri);

        Manager.Update([], []);
        AssertNotification((await peer.ReadUntilClosedAsync())[^1], BgpErrorCode.Cease, CeaseSubcode.PeerDeconfigured);
        Assert.Empty(Manager.GetStatus());
    }

    [Fact]
    public async Task Apply_stays_level_based_and_shares_the_adj_rib_out_with_update()
    {
        Manager.Apply([Intent(Peer(), R("203.0.113.1/32"), R("203.0.113.2/32"))]);
        var peer = await ConnectAndEstablishAsync();
        Assert.Equal([N("203.0.113.1/32"), N("203.0.113.2/32")], Sorted(Assert.Single(await peer.ReadUntilEndOfRibAsync()).Nlri));

        // The complete set: .1 goes, .3 comes, .2 stays without being sent again.
        Manager.Apply([Intent(Peer(), R("203.0.113.2/32"), R("203.0.113.3/32"))]);
        Assert.Equal([N("203.0.113.1/32")], (await peer.ReadUpdateAsync()).Withdrawn);
        Assert.Equal([N("203.0.113.3/32")], (await peer.ReadUpdateAsync()).Nlri);

        Manager.Update(null, [Withdraw(Peer(), "203.0.113.2/32")]);
        Assert.Equal([N("203.0.113.2/32")], (await peer.ReadUpdateAsync()).Withdrawn);
    }

    /// <summary>
    /// Regression: a collision's losing connection whose router KEEPALIVE was already queued when it was told to give way
    /// must not become Established: the connections of a peer share the Adj-RIB-Out, so two Established at once took
    /// each other's changes (seen in the lab: the loser took the route, the router closed it, and the survivor never sent
    /// it), and a closing loser used to reset the survivor's view of what it had advertised. The order is forced: the
    /// loser's speaker side waits on a flush (its peer stops reading) until the survivor has synced.
    /// </summary>
    [Fact]
    public async Task A_collision_loser_with_a_queued_keepalive_never_becomes_established_and_the_survivor_keeps_its_routes()
    {
        using var prefixReports = new InstrumentRecorder(MeterFactory, "metallb_bgp_pending_prefixes_total");
        var router = Peer();
        // Every flush of the outbound connection waits until its peer has read everything.
        Transport.ToPeerOptions = new PipeOptions(pauseWriterThreshold: 1, resumeWriterThreshold: 1);
        Manager.Update([router], [Add(router, "203.0.113.1/32"), Add(router, "203.0.113.2/32")]);
        var loser = await Transport.NextConnectionAsync();
        Transport.ToPeerOptions = PipeOptions.Default;
        await loser.ReadAsync(BgpMessageType.Open);

        // The router connects too (its BGP identifier is the higher one, so its connection wins the collision).
        var survivor = Transport.ConnectInbound(RouterAddress);
        await survivor.ReadAsync(BgpMessageType.Open);

        // The outbound connection gets the router's OPEN; its KEEPALIVE answer cannot be flushed while the router does not
        // read, so its loop waits there and the router's KEEPALIVE stays queued, unprocessed.
        await loser.PauseReadingAsync();
        await loser.SendOpenAsync(RouterAs, RouterAddress.ToString());
        await WaitForStateAsync(BgpState.OpenConfirm);
        await loser.SendKeepaliveAsync();

        // The router's OPEN on the inbound connection: the outbound one is told to give way; the inbound one syncs.
        await survivor.SendOpenAsync(RouterAs, RouterAddress.ToString());
        await survivor.ReadAsync(BgpMessageType.Keepalive);
        await survivor.SendKeepaliveAsync();
        Assert.Equal([N("203.0.113.1/32"), N("203.0.113.2/32")], Sorted(Assert.Single(await survivor.ReadUntilEndOfRibAsync()).Nlri));

        // Now the loser runs on: the queued KEEPALIVE finds it marked as the loser, so it closes without advertising.
        var reports = prefixReports.Count;
        loser.ResumeReading();
        var last = await loser.ReadUntilClosedAsync();
        AssertNotification(last[^1], BgpErrorCode.Cease, CeaseSubcode.ConnectionCollisionResolution);
        Assert.DoesNotContain(last, m => m.Type == BgpMessageType.Update);
        // Its close reports the prefixes once the closed connection is gone.
        await SessionTests.WaitForAsync(() => prefixReports.Count > reports);

        Manager.Update(null, [Withdraw(router, "203.0.113.1/32")]);

        var withdrawal = await survivor.ReadUpdateAsync();
        Assert.Equal([N("203.0.113.1/32")], withdrawal.Withdrawn);
        Assert.Empty(withdrawal.Nlri);
        Assert.Equal(BgpState.Established, Status().State);
    }

    /// <summary>
    /// Our outbound connection loses a collision by BGP identifier, in OpenConfirm or Established here. The router may already
    /// be Established on it (it has read our KEEPALIVE) and close the new connection, or still be in OpenConfirm and resolve
    /// by identifier as we do, closing the outbound one (BIRD and FRR do either, as the case may be). The outbound connection
    /// yields until the router has shown which: it never closes first, so the two ends cannot close one connection each and
    /// leave the peer without a session. The connection kept sends the routes and, when it is the one that was Established
    /// all along, only what changes later.
    /// </summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task A_collision_lost_by_identifier_ends_on_the_connection_the_router_keeps(bool outboundEstablished, bool routerKeepsWinner)
    {
        using var sessionUp = new InstrumentRecorder(MeterFactory, "metallb_bgp_session_up");
        var router = Peer();
        Manager.Update([router], [Add(router, "203.0.113.1/32")]);
        var outbound = await Transport.NextConnectionAsync();
        await outbound.ReadAsync(BgpMessageType.Open);
        var inbound = Transport.ConnectInbound(RouterAddress);
        await inbound.ReadAsync(BgpMessageType.Open);
        await outbound.SendOpenAsync(RouterAs, RouterAddress.ToString());
        await outbound.ReadAsync(BgpMessageType.Keepalive);
        if (outboundEstablished) await EstablishWithRoutesAsync(outbound);

        // The router's OPEN on its own connection, which wins by identifier (the router's is the higher).
        await inbound.SendOpenAsync(RouterAs, RouterAddress.ToString());
        await inbound.ReadAsync(BgpMessageType.Keepalive);

        // The router closes the connection it gives up; nothing of ours went out on it after its KEEPALIVE.
        var (kept, closed) = routerKeepsWinner ? (inbound, outbound) : (outbound, inbound);
        await closed.SendAsync(w => NotificationCodec.Write(w, BgpErrorCode.Cease, CeaseSubcode.ConnectionCollisionResolution, []));
        closed.Close();
        Assert.DoesNotContain(await closed.ReadUntilClosedAsync(), m => m.Type == BgpMessageType.Notification);

        if (routerKeepsWinner || !outboundEstablished) await EstablishWithRoutesAsync(kept);
        Manager.Update(null, [Add(router, "203.0.113.2/32")]);
        Assert.Equal([N("203.0.113.2/32")], (await kept.ReadUpdateAsync()).Nlri);
        Assert.Equal(BgpState.Established, Status().State);
        Assert.Equal(1, sessionUp.Last);
        // The outbound connection Established and kept: the peer was up all along.
        if (outboundEstablished && !routerKeepsWinner) Assert.Equal(1, sessionUp.Count);

        static async Task EstablishWithRoutesAsync(FakePeer connection)
        {
            await connection.SendKeepaliveAsync();
            Assert.Equal([N("203.0.113.1/32")], Assert.Single(await connection.ReadUntilEndOfRibAsync()).Nlri);
        }
    }

    /// <summary>
    /// Both connections become Established, one after the other. The outbound one, which lost by identifier, is told to close
    /// when the winner takes over while its loop waits in a flush, and it handles a ROUTE-REFRESH before it acts on that (as
    /// it would any message it reads in that pass on a loaded machine). Only the winner may take changes from the shared Adj-RIB-Out: otherwise the loser sends a
    /// change on the connection it is closing and the winner never sends it. Nor may the loser's close take the peer's
    /// session_up gauge down under the winner.
    /// </summary>
    [Fact]
    public async Task A_collision_loser_takes_no_route_change_from_the_winner_and_leaves_the_peer_up()
    {
        using var sessionUp = new InstrumentRecorder(MeterFactory, "metallb_bgp_session_up");
        var router = Peer();
        // Every flush of either connection waits until the router has read everything, so a router that stops reading holds
        // the loop there. The router dials before the outbound connection is Established (afterwards it would be refused).
        Transport.ToPeerOptions = new PipeOptions(pauseWriterThreshold: 1, resumeWriterThreshold: 1);
        Manager.Update([router], [Add(router, "203.0.113.1/32")]);
        var outbound = await Transport.NextConnectionAsync();
        await outbound.ReadAsync(BgpMessageType.Open);
        var inbound = Transport.ConnectInbound(RouterAddress);
        Transport.ToPeerOptions = PipeOptions.Default;
        await inbound.ReadAsync(BgpMessageType.Open);
        await outbound.SendOpenAsync(RouterAs, RouterAddress.ToString());
        await outbound.ReadAsync(BgpMessageType.Keepalive);
        await outbound.SendKeepaliveAsync();
        Assert.Equal([N("203.0.113.1/32")], Assert.Single(await outbound.ReadUntilEndOfRibAsync()).Nlri);
        await WaitForStateAsync(BgpState.Established);

        // The outbound connection's loop waits in the flush of 203.0.113.2.
        await outbound.PauseReadingAsync();
        Manager.Update(null, [Add(router, "203.0.113.2/32")]);
        await SessionTests.WaitForAsync(() => Status().AdvertisedPrefixes == 2);

        // The router's connection wins by BGP identifier and becomes Established: everything is sent on it.
        await inbound.SendOpenAsync(RouterAs, RouterAddress.ToString());
        await inbound.ReadAsync(BgpMessageType.Keepalive);
        await inbound.SendKeepaliveAsync();
        Assert.Equal([N("203.0.113.1/32"), N("203.0.113.2/32")], Sorted(Assert.Single(await inbound.ReadUntilEndOfRibAsync()).Nlri));

        // The winner takes the next change and waits in its flush; the change after it stays pending.
        await inbound.PauseReadingAsync();
        Manager.Update(null, [Add(router, "203.0.113.3/32")]);
        await SessionTests.WaitForAsync(() => Status().AdvertisedPrefixes == 3);
        Manager.Update(null, [Add(router, "203.0.113.4/32")]);

        // The loser reads a ROUTE-REFRESH in the pass before it acts on the order to close, answers it from what was sent, and closes.
        await outbound.SendAsync(w => RouteRefreshCodec.Write(w, new RouteRefreshMessage(AfiSafi.IPv4Unicast, RouteRefreshSubtype.Normal)));
        outbound.ResumeReading();
        var last = await outbound.ReadUntilClosedAsync();
        AssertNotification(last[^1], BgpErrorCode.Cease, CeaseSubcode.ConnectionCollisionResolution);
        Assert.DoesNotContain(last, m => m.Type == BgpMessageType.Update && Decode(m).Nlri.Contains(N("203.0.113.4/32")));

        inbound.ResumeReading();
        Assert.Equal([N("203.0.113.3/32")], (await inbound.ReadUpdateAsync()).Nlri);
        Assert.Equal([N("203.0.113.4/32")], (await inbound.ReadUpdateAsync()).Nlri);
        Assert.Equal(BgpState.Established, Status().State);
        Assert.Equal(1, sessionUp.Last);
    }

    /// <summary>Records one instrument's measurements of this test's peer manager only (parallel test classes share the meter names).</summary>
    private sealed class InstrumentRecorder : IDisposable
    {
        private readonly MeterListener _listener = new();
        private int _count;
        private long _last;

        public InstrumentRecorder(IMeterFactory scope, string name)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Scope == scope && instrument.Name == name) listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Record(value));
            _listener.SetMeasurementEventCallback<int>((_, value, _, _) => Record(value));
            _listener.Start();
        }

        public int Count => Volatile.Read(ref _count);

        /// <summary>The last value recorded.</summary>
        public long Last => Interlocked.Read(ref _last);

        private void Record(long value)
        {
            Interlocked.Exchange(ref _last, value);
            Interlocked.Increment(ref _count);
        }

        public void Dispose() => _listener.Dispose();
    }
}
