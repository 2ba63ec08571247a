using BgpLb.Bgp.Fsm;
using BgpLb.Bgp.Wire;

namespace BgpLb.Bgp.Tests.Session;

/// <summary>RFC 4724 as the restarting speaker: the capability we send, and a process stop that keeps the routes at the peer.</summary>
public class GracefulRestartTests : SessionTestBase
{
    private static BgpPeerConfig GrPeer() => Peer() with { GracefulRestart = true };

    [Theory]
    // Helper only: no flags, 120 s (0x078), no family.
    [InlineData(false, false, "0078")]
    // Restart State (0x8 in the top 4 bits) with 120 s; IPv4 and IPv6 unicast, each with Forwarding State (0x80).
    [InlineData(true, false, "8078 0001 01 80 0002 01 80")]
    // Only the peer's family is offered without MP, so only it is listed.
    [InlineData(true, true, "8078 0001 01 80")]
    public async Task First_open_carries_the_capability_bytes_of_rfc4724(bool gracefulRestart, bool disableMp, string expected)
    {
        Manager.Apply([Intent(Peer() with { GracefulRestart = gracefulRestart, DisableMP = disableMp })]);
        var peer = await Transport.NextConnectionAsync();

        var open = await peer.ReadAsync(BgpMessageType.Open);

        Assert.Equal(expected.Replace(" ", "", StringComparison.Ordinal), Convert.ToHexString(CapabilityValue(open.Body, CapabilityCode.GracefulRestart)));
    }

    [Fact]
    public async Task Restart_state_is_set_until_the_first_established_session_and_never_after()
    {
        Manager.Apply([Intent(GrPeer())]);
        // A connection that fails before Established leaves us a restarting speaker: the next OPEN still says so.
        var failed = await Transport.NextConnectionAsync();
        Assert.Equal(GracefulRestartCapability.RestartStateFlag, Gr(await failed.ReadAsync(BgpMessageType.Open)).Flags);
        failed.Close();
        await AdvanceUntilAsync(() => Transport.ConnectAttempts == 2);

        var first = await Transport.NextConnectionAsync();
        var firstOpen = await first.EstablishAsync(RouterAs, gracefulRestart: true);
        Assert.Equal(GracefulRestartCapability.RestartStateFlag, firstOpen.Capabilities.GracefulRestart!.Flags);
        await first.ReadUntilEndOfRibAsync();
        await WaitForStateAsync(BgpState.Established);

        // The peer drops the session: the reconnect is a later session of the same process.
        first.Close();
        await AdvanceUntilAsync(() => Transport.ConnectAttempts == 3);
        var second = await Transport.NextConnectionAsync();
        var secondGr = (await second.EstablishAsync(RouterAs, gracefulRestart: true)).Capabilities.GracefulRestart!;
        Assert.Equal((0, (ushort)120), (secondGr.Flags, secondGr.RestartTime));
        Assert.All(secondGr.Families, f => Assert.Equal(GracefulRestartCapability.ForwardingStatePreserved, f.Flags));
        Assert.Equal([AfiSafi.IPv4Unicast, AfiSafi.IPv6Unicast], secondGr.Families.Select(f => f.Family));
        await second.ReadUntilEndOfRibAsync();

        // A configuration change replaces the peer's session object; the process, and so its memory of the peer, stays.
        Manager.Apply([Intent(GrPeer() with { HoldTime = TimeSpan.FromSeconds(30) })]);
        AssertNotification((await second.ReadUntilClosedAsync())[^1], BgpErrorCode.Cease, CeaseSubcode.OtherConfigurationChange);
        var third = await Transport.NextConnectionAsync();
        Assert.Equal(0, Gr(await third.ReadAsync(BgpMessageType.Open)).Flags);
    }

    [Fact]
    public async Task Stop_closes_without_notification_when_graceful_restart_was_negotiated()
    {
        var logs = new ListLoggerFactory();
        await using var manager = new PeerManager(new PeerManagerOptions(), Transport, Time, logs, new BgpMetrics(MeterFactory));
        manager.Apply([Intent(GrPeer(), R("203.0.113.10/32"))]);
        var peer = await Transport.NextConnectionAsync();
        await peer.EstablishAsync(RouterAs, gracefulRestart: true);
        Assert.Single(await peer.ReadUntilEndOfRibAsync());

        await manager.StopAsync(CancellationToken.None).WaitAsync(FakePeer.Timeout);

        Assert.DoesNotContain(await peer.ReadUntilClosedAsync(), m => m.Type is BgpMessageType.Notification or BgpMessageType.Update);
        var line = Assert.Single(logs.Entries, e => e.EventId == 1216);
        Assert.Equal("Peer 198.18.0.2:179 closed without NOTIFICATION for graceful restart: the router keeps our routes as stale for up to 120 s", line.Message);
    }

    [Theory]
    [InlineData(true, false)]  // configured, but the peer sent no graceful restart capability
    [InlineData(false, true)]  // the peer is capable, but graceful restart is not configured
    public async Task Stop_sends_administrative_shutdown_unless_both_sides_have_graceful_restart(bool configured, bool peerCapable)
    {
        Manager.Apply([Intent(Peer() with { GracefulRestart = configured })]);
        var peer = await Transport.NextConnectionAsync();
        await peer.EstablishAsync(RouterAs, gracefulRestart: peerCapable);
        await peer.ReadUntilEndOfRibAsync();

        await Manager.StopAsync(CancellationToken.None).WaitAsync(FakePeer.Timeout);

        AssertNotification((await peer.ReadUntilClosedAsync())[^1], BgpErrorCode.Cease, CeaseSubcode.AdministrativeShutdown);
    }

    [Fact]
    public async Task Stop_before_established_sends_a_cease_even_with_graceful_restart()
    {
        Manager.Apply([Intent(GrPeer())]);
        var peer = await Transport.NextConnectionAsync();
        await peer.ReadAsync(BgpMessageType.Open);
        await peer.SendOpenAsync(RouterAs, "198.18.0.2", gracefulRestart: true);
        await peer.ReadAsync(BgpMessageType.Keepalive);
        await WaitForStateAsync(BgpState.OpenConfirm);

        await Manager.StopAsync(CancellationToken.None).WaitAsync(FakePeer.Timeout);

        AssertNotification((await peer.ReadUntilClosedAsync())[^1], BgpErrorCode.Cease, CeaseSubcode.AdministrativeShutdown);
    }

    [Fact]
    public async Task Removing_a_graceful_restart_peer_is_a_real_withdrawal()
    {
        var peer = await EstablishAsync(GrPeer(), []);
        await peer.ReadUntilEndOfRibAsync();

        Manager.Apply([]);

        AssertNotification((await peer.ReadUntilClosedAsync())[^1], BgpErrorCode.Cease, CeaseSubcode.PeerDeconfigured);
    }

    private static GracefulRestartCapability Gr(Received open) =>
        OpenCodec.Read(open.Body).Capabilities.GracefulRestart ?? throw new Xunit.Sdk.XunitException("no graceful restart capability");

    /// <summary>The raw value of capability <paramref name="code"/> in an OPEN body with one (non-extended) Capabilities parameter.</summary>
    private static byte[] CapabilityValue(byte[] openBody, byte code)
    {
        Assert.Equal(2, openBody[10]);
        var caps = openBody.AsSpan(12, openBody[11]);
        while (!caps.IsEmpty)
        {
            if (caps[0] == code) return caps.Slice(2, caps[1]).ToArray();
            caps = caps[(2 + caps[1])..];
        }
        throw new Xunit.Sdk.XunitException($"no capability {code}");
    }
}
