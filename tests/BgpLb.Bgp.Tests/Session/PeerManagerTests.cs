using System.Diagnostics.Metrics;
using System.Net;
using BgpLb.Bgp.Fsm;
using BgpLb.Bgp.Wire;

namespace BgpLb.Bgp.Tests.Session;

public class PeerManagerTests : SessionTestBase
{
    [Fact]
    public async Task Removed_peer_gets_peer_deconfigured_cease()
    {
        var peer = await EstablishAsync(Peer(), []);

        Manager.Apply([]);

        AssertNotification((await peer.ReadUntilClosedAsync())[^1], BgpErrorCode.Cease, CeaseSubcode.PeerDeconfigured);
        Assert.Empty(Manager.GetStatus());
    }

    [Fact]
    public async Task Changed_peer_gets_other_configuration_change_and_reconnects_with_the_new_config()
    {
        var peer = await EstablishAsync(Peer(), []);

        Manager.Apply([Intent(Peer(hold: TimeSpan.FromSeconds(30)))]);

        AssertNotification((await peer.ReadUntilClosedAsync())[^1], BgpErrorCode.Cease, CeaseSubcode.OtherConfigurationChange);
        var again = await Transport.NextConnectionAsync();
        Assert.Equal((ushort)30, OpenCodec.Read((await again.ReadAsync()).Body).HoldTime);
    }

    [Fact]
    public async Task Name_only_change_keeps_the_session()
    {
        var peer = await EstablishAsync(Peer(), []);
        await peer.ReadAsync();
        await peer.ReadAsync();

        Manager.Apply([Intent(Peer() with { Name = "default/renamed" })]);

        await peer.AssertQuietAsync();
        Assert.Equal("default/renamed", Status().Name);
        Assert.Equal(1, Transport.ConnectAttempts);
    }

    [Fact]
    public async Task Inbound_connection_from_a_configured_peer_establishes()
    {
        Transport.Reachable = false;
        Manager.Apply([Intent(Peer(), R("203.0.113.5/32"))]);
        await WaitForAsync(() => Transport.ConnectAttempts == 1);

        var peer = Transport.ConnectInbound(RouterAddress);
        await peer.EstablishAsync(RouterAs);

        Assert.Equal([IPNetwork.Parse("203.0.113.5/32")], Decode(await peer.ReadAsync()).Nlri);
        Assert.Equal(BgpState.Established, Status().State);
    }

    [Fact]
    public async Task Inbound_connection_from_an_unknown_address_is_closed()
    {
        Manager.Apply([Intent(Peer())]);
        var stranger = Transport.ConnectInbound(IPAddress.Parse("198.18.9.9"));

        Assert.Empty(await stranger.ReadUntilClosedAsync());
    }

    [Fact]
    public async Task Inbound_connection_while_established_is_rejected_with_collision_cease()
    {
        await EstablishAsync(Peer(), []);
        await WaitForStateAsync(BgpState.Established);

        var second = Transport.ConnectInbound(RouterAddress);

        AssertNotification(Assert.Single(await second.ReadUntilClosedAsync()), BgpErrorCode.Cease, CeaseSubcode.ConnectionCollisionResolution);
        Assert.Equal(BgpState.Established, Status().State);
    }

    [Theory]
    [InlineData("198.18.0.2", true)]   // remote id higher: the connection the remote initiated (our inbound) survives
    [InlineData("10.0.0.1", false)]    // our id higher: our outbound connection survives
    public async Task Collision_keeps_the_connection_initiated_by_the_higher_identifier(string remoteId, bool inboundSurvives)
    {
        Manager.Apply([Intent(Peer())]);
        var outbound = await Transport.NextConnectionAsync();
        await outbound.ReadAsync();
        await outbound.SendOpenAsync(RouterAs, remoteId);
        await outbound.ReadAsync(BgpMessageType.Keepalive);

        var inbound = Transport.ConnectInbound(RouterAddress);
        await inbound.ReadAsync(BgpMessageType.Open);
        await inbound.SendOpenAsync(RouterAs, remoteId);

        // The router resolves it the same way and confirms the winner with its KEEPALIVE. A new connection that loses closes
        // at once; the first one, when it loses, closes when the winner becomes Established.
        var (loser, winner) = inboundSurvives ? (outbound, inbound) : (inbound, outbound);
        if (inboundSurvives) await winner.ReadAsync(BgpMessageType.Keepalive);
        await winner.SendKeepaliveAsync();
        Assert.True(IsEndOfRib(await winner.ReadAsync()));
        AssertNotification((await loser.ReadUntilClosedAsync())[^1], BgpErrorCode.Cease, CeaseSubcode.ConnectionCollisionResolution);
        await WaitForStateAsync(BgpState.Established);
    }

    /// <summary>
    /// A collision with a connection that is Established here but has not been heard on since: the peer may still be in
    /// OpenConfirm on it and resolve by BGP identifier (BIRD does), so the identifier decides here too; once the peer has
    /// spoken on it, the Established connection wins (RFC 4271 §6.8). Found in the lab: BIRD and we closed one each.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_collision_with_a_just_established_connection_follows_the_identifier_until_the_peer_spoke_on_it(bool heard)
    {
        const string higherRemoteId = "198.18.0.2";  // the router's connection (our inbound) wins by identifier
        Manager.Apply([Intent(Peer())]);
        var outbound = await Transport.NextConnectionAsync();
        await outbound.ReadAsync(BgpMessageType.Open);
        var inbound = Transport.ConnectInbound(RouterAddress);
        await inbound.ReadAsync(BgpMessageType.Open);

        await outbound.SendOpenAsync(RouterAs, higherRemoteId);
        await outbound.ReadAsync(BgpMessageType.Keepalive);
        await outbound.SendKeepaliveAsync();
        Assert.True(IsEndOfRib(await outbound.ReadAsync()));
        if (heard)
            await outbound.SendKeepaliveAsync();
        await WaitForStateAsync(BgpState.Established);

        await inbound.SendOpenAsync(RouterAs, higherRemoteId);
        var (loser, winner) = heard ? (inbound, outbound) : (outbound, inbound);
        if (!heard)
        {
            await winner.ReadAsync(BgpMessageType.Keepalive);
            await winner.SendKeepaliveAsync();
            Assert.True(IsEndOfRib(await winner.ReadAsync()));
        }
        AssertNotification((await loser.ReadUntilClosedAsync())[^1], BgpErrorCode.Cease, CeaseSubcode.ConnectionCollisionResolution);
        await winner.SendKeepaliveAsync();
        await WaitForStateAsync(BgpState.Established);
    }

    [Fact]
    public async Task Metrics_use_metallb_names_and_peer_label()
    {
        var measurements = new List<(string Name, long Value, string? Peer)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            // This test's meters only: other test classes running in parallel publish the same instruments.
            if (instrument.Meter.Scope == MeterFactory) l.EnableMeasurementEvents(instrument);
        };
        void Record(Instrument i, long v, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string? peerTag = null;
            foreach (var t in tags) if (t.Key == "peer") peerTag = (string?)t.Value;
            lock (measurements) measurements.Add((i.Name, v, peerTag));
        }
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        listener.Start();

        var peer = await EstablishAsync(Peer(), [R("203.0.113.1/32")]);
        await peer.ReadAsync();
        await peer.ReadAsync();

        (string, long, string?)[] snapshot;
        lock (measurements) snapshot = [.. measurements];
        Assert.Contains(("metallb_bgp_session_up", 1L, "198.18.0.2:179"), snapshot);
        Assert.Contains(("metallb_bgp_opens_sent", 1L, "198.18.0.2:179"), snapshot);
        Assert.Contains(("metallb_bgp_opens_received", 1L, "198.18.0.2:179"), snapshot);
        Assert.Contains(("metallb_bgp_keepalives_received", 1L, "198.18.0.2:179"), snapshot);
        Assert.Contains(snapshot, m => m.Item1 == "metallb_bgp_updates_total" && m.Item3 == "198.18.0.2:179");
        Assert.Contains(("metallb_bgp_announced_prefixes_total", 1L, "198.18.0.2:179"), snapshot);
    }

    [Fact]
    public async Task Apply_after_stop_throws()
    {
        await Manager.StopAsync(CancellationToken.None);
        Assert.Throws<ObjectDisposedException>(() => Manager.Apply([]));
    }

    private static Task WaitForAsync(Func<bool> condition) => SessionTests.WaitForAsync(condition);
}
