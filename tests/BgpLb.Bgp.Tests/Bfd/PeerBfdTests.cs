using System.Net;
using System.Net.Sockets;
using BgpLb.Bgp.Bfd;
using BgpLb.Bgp.Fsm;
using BgpLb.Bgp.Tests.Session;
using BgpLb.Bgp.Wire;

namespace BgpLb.Bgp.Tests.Bfd;

/// <summary>
/// BGP as a BFD client: the in-memory BGP transport, with real BFD over UDP on loopback where the test plays the
/// router's BFD with a socket (127.0.0.2) and the speaker's endpoint listens on 127.0.0.1.
/// </summary>
public sealed class PeerBfdTests : SessionTestBase, IDisposable
{
    private static readonly IPAddress Local = IPAddress.Parse("127.0.0.1");
    private static readonly IPAddress Remote = IPAddress.Parse("127.0.0.2");
    private static readonly BfdSessionOptions Profile = new() { DesiredMinTxInterval = 20_000, RequiredMinRxInterval = 20_000, DetectMultiplier = 3 };

    private readonly Socket _router = RouterSocket();
    private readonly Socket _multiHopRouter = RouterSocket();
    private readonly int _singleHopPort;
    private readonly int _multiHopPort;

    public PeerBfdTests()
    {
        Transport.LocalEndPoint = new IPEndPoint(Local, 40000);
        _singleHopPort = ((IPEndPoint)_router.LocalEndPoint!).Port;
        _multiHopPort = ((IPEndPoint)_multiHopRouter.LocalEndPoint!).Port;
    }

    private static Socket RouterSocket()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { Ttl = 255 };
        socket.Bind(new IPEndPoint(Remote, 0));
        return socket;
    }

    // Both sides use one port number, as real nodes share 3784: the speaker listens on Local, the router socket sits on Remote.
    internal override PeerManagerOptions ManagerOptions => new()
    {
        Bfd = new BfdEndpointOptions
        {
            BindAddress = Local, ListenPort = _singleHopPort, RemotePort = _singleHopPort,
            MultiHopListenPort = _multiHopPort, MultiHopRemotePort = _multiHopPort,
        },
    };

    void IDisposable.Dispose()
    {
        _router.Dispose();
        _multiHopRouter.Dispose();
        Dispose();
    }

    private static BgpPeerConfig BfdPeer(BfdSessionOptions? profile = null) => Peer() with { Address = Remote, Bfd = profile ?? Profile };

    [Fact]
    public async Task Bfd_down_closes_the_bgp_session_with_cease_bfd_down_and_the_peer_reconnects()
    {
        var peer = await EstablishAsync(BfdPeer(), [R("203.0.113.10/32")]);
        var speaker = await UpAsync();
        Assert.Equal(BfdState.Up, Status().Bfd);
        // The fake router has our KEEPALIVE once EstablishAsync returns; our side may still be reading the router's.
        await WaitForStateAsync(BgpState.Established);

        // The router's BFD detected a failure: it says Down.
        await SendAsync(speaker, BfdState.Down);
        var notification = await peer.ReadAsync(BgpMessageType.Notification);
        AssertNotification(notification, BgpErrorCode.Cease, CeaseSubcode.BfdDown);
        Assert.Equal("NOTIFICATION sent 6/10 BfdDown", Status().LastError);

        // The peer is not stopped: the normal connect path brings BGP back. Time stops at the connect itself: the test's
        // receipt of the connection comes later, and time advanced meanwhile would expire the new connection's hold timer.
        await AdvanceUntilAsync(() => Transport.ConnectAttempts == 2);
        var next = await Transport.NextConnectionAsync();
        await next.EstablishAsync(RouterAs);
        await WaitForStateAsync(BgpState.Established);
    }

    [Fact]
    public async Task A_silent_router_is_detected_and_the_bgp_session_closes_without_waiting_for_the_hold_timer()
    {
        var peer = await EstablishAsync(BfdPeer(), [R("203.0.113.10/32")]);
        await UpAsync(quickDetection: true);
        // The router falls silent; BGP's hold timer (90 s of virtual time) never runs out here, BFD's detection does.
        AssertNotification(await peer.ReadAsync(BgpMessageType.Notification), BgpErrorCode.Cease, CeaseSubcode.BfdDown);
    }

    [Fact]
    public async Task A_router_that_takes_bfd_administratively_down_leaves_bgp_alone()
    {
        var peer = await EstablishAsync(BfdPeer(), [R("203.0.113.10/32")]);
        var speaker = await UpAsync();
        await SkipInitialUpdatesAsync(peer);

        await SendAsync(speaker, BfdState.AdminDown);
        await UntilAsync(() => Status().Bfd == BfdState.Down);
        // Still the same BGP session: a route added now reaches the router on it, and nothing came before that UPDATE.
        Manager.Apply([Intent(BfdPeer(), R("203.0.113.10/32"), R("203.0.113.11/32"))]);
        var update = Decode(await peer.ReadAsync());
        Assert.Equal([IPNetwork.Parse("203.0.113.11/32")], update.Nlri);
        Assert.Equal(BgpState.Established, Status().State);
    }

    [Fact]
    public async Task A_profile_change_renegotiates_bfd_without_a_bgp_reset_and_removing_the_profile_ends_bfd()
    {
        var peer = await EstablishAsync(BfdPeer(), [R("203.0.113.10/32")]);
        var speaker = await UpAsync();
        await SkipInitialUpdatesAsync(peer);

        Manager.Apply([Intent(BfdPeer(Profile with { DesiredMinTxInterval = 50_000 }), R("203.0.113.10/32"))]);
        // The new interval arrives in a Poll (RFC 5880 §6.8.3) from the same session, still Up.
        var poll = await ReceiveAsync(p => p.Poll && p.DesiredMinTxInterval == 50_000);
        Assert.Equal((speaker, BfdState.Up), (poll.MyDiscriminator, poll.State));

        Manager.Apply([Intent(Peer() with { Address = Remote }, R("203.0.113.10/32"))]);
        var last = await ReceiveAsync(p => p.State == BfdState.AdminDown);
        Assert.Equal(BfdDiagnostic.AdministrativelyDown, last.Diagnostic);
        Assert.Null(Status().Bfd);
        // No BGP reset for either change: the next route goes out on the first connection.
        Manager.Apply([Intent(Peer() with { Address = Remote }, R("203.0.113.10/32"), R("203.0.113.12/32"))]);
        Assert.Equal([IPNetwork.Parse("203.0.113.12/32")], Decode(await peer.ReadAsync()).Nlri);
    }

    [Fact]
    public async Task A_profile_given_to_an_established_peer_starts_bfd_at_once_without_a_bgp_reset()
    {
        var plain = Peer() with { Address = Remote };
        var peer = await EstablishAsync(plain, [R("203.0.113.10/32")]);
        await SkipInitialUpdatesAsync(peer);
        Assert.Null(Status().Bfd);

        Manager.Apply([Intent(BfdPeer(), R("203.0.113.10/32"))]);
        await UpAsync();
        await UntilAsync(() => Status().Bfd == BfdState.Up);
        Manager.Apply([Intent(BfdPeer(), R("203.0.113.10/32"), R("203.0.113.13/32"))]);
        Assert.Equal([IPNetwork.Parse("203.0.113.13/32")], Decode(await peer.ReadAsync()).Nlri);
    }

    [Fact]
    public async Task An_ebgp_multihop_peer_gets_a_multihop_session_that_takes_packets_at_or_above_its_minimum_ttl()
    {
        var router = _multiHopRouter;
        await EstablishAsync(BfdPeer(Profile with { MinimumTtl = 200 }) with { EbgpMultiHop = true }, [R("203.0.113.10/32")]);
        var first = await ReceiveAsync(router, _ => true);
        var target = new IPEndPoint(Local, _multiHopPort);

        // TTL 199 is below the profile's minimum: the Init is dropped; at 200 it brings the session Up.
        router.Ttl = 199;
        await router.SendToAsync(Bytes(Packet(BfdState.Init, first.MyDiscriminator)), target);
        router.Ttl = 200;
        await router.SendToAsync(Bytes(Packet(BfdState.Down, first.MyDiscriminator)), target);
        var init = await ReceiveAsync(router, p => p.State != BfdState.Down);
        Assert.Equal(BfdState.Init, init.State);
        await router.SendToAsync(Bytes(Packet(BfdState.Up, first.MyDiscriminator)), target);
        await UntilAsync(() => Status().Bfd == BfdState.Up);
    }

    /// <summary>Plays the router's side of the three-way handshake; returns the speaker's discriminator.</summary>
    private async Task<uint> UpAsync(bool quickDetection = false)
    {
        var first = await ReceiveAsync(_ => true);
        await _router.SendToAsync(Bytes(Packet(BfdState.Init, first.MyDiscriminator, quickDetection)), new IPEndPoint(Local, _singleHopPort));
        await ReceiveAsync(p => p.State == BfdState.Up);
        return first.MyDiscriminator;
    }

    /// <summary>Reads the initial routes and the End-of-RIB of both families.</summary>
    private static async Task SkipInitialUpdatesAsync(FakePeer peer)
    {
        for (var endOfRibs = 0; endOfRibs < 2;)
        {
            if (IsEndOfRib(await peer.ReadAsync())) endOfRibs++;
        }
    }

    private Task<int> SendAsync(uint speaker, BfdState state) =>
        _router.SendToAsync(Bytes(Packet(state, speaker)), new IPEndPoint(Local, _singleHopPort));

    /// <summary>
    /// The router's packet. Unless <paramref name="quickDetection"/> (the speaker then declares it dead 60 ms after its
    /// last packet), it announces 255 x 1 s, so that a session the test leaves alone stays Up on a loaded machine.
    /// </summary>
    private static BfdControlPacket Packet(BfdState state, uint speaker, bool quickDetection = false) => new()
    {
        State = state,
        Diagnostic = state == BfdState.AdminDown ? BfdDiagnostic.AdministrativelyDown : BfdDiagnostic.None,
        DetectMultiplier = quickDetection ? (byte)3 : (byte)255,
        MyDiscriminator = 0xB6D,
        YourDiscriminator = speaker,
        DesiredMinTxInterval = quickDetection ? 20_000u : 1_000_000u,
        RequiredMinRxInterval = 20_000,
    };

    private static byte[] Bytes(BfdControlPacket packet)
    {
        var bytes = new byte[BfdControlPacket.Length];
        packet.Write(bytes);
        return bytes;
    }

    private Task<BfdControlPacket> ReceiveAsync(Func<BfdControlPacket, bool> match) => ReceiveAsync(_router, match);

    private static async Task<BfdControlPacket> ReceiveAsync(Socket socket, Func<BfdControlPacket, bool> match)
    {
        var buffer = new byte[64];
        using var timeout = new CancellationTokenSource(FakePeer.Timeout);
        while (true)
        {
            var length = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, timeout.Token);
            if (BfdControlPacket.TryRead(buffer.AsSpan(0, length), out var packet, out _) && match(packet))
                return packet;
        }
    }

    private static async Task UntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + FakePeer.Timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail("condition not met in time");
            await Task.Delay(5);
        }
    }
}
