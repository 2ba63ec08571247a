using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using BgpLb.Bgp.Bfd;
using Microsoft.Extensions.Logging.Abstractions;

namespace BgpLb.Bgp.Tests.Bfd;

/// <summary>
/// Real UDP on loopback addresses that share one port, as real nodes share 3784. The port is never probed and released:
/// the fake router's socket binds port 0 first and holds it for the whole test, the endpoints then bind the same port on
/// their own addresses. Those addresses (127.0.11.0/24) are this class's alone, so no other socket can take the port on
/// them in between; the multi-hop listeners, unused here, bind port 0.
/// </summary>
public sealed class BfdEndpointTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private static readonly IPAddress A = IPAddress.Parse("127.0.11.1");
    private static readonly IPAddress B = IPAddress.Parse("127.0.11.2");
    private static readonly IPAddress Fake = IPAddress.Parse("127.0.11.3");
    // Fast packets, slow detection (255 x 20 ms): a loaded machine never times a session out by accident here.
    private static readonly BfdSessionOptions Quick = new() { DesiredMinTxInterval = 20_000, RequiredMinRxInterval = 20_000, DetectMultiplier = 255 };

    private readonly Socket _fake = FakeRouterSocket();
    private readonly List<IDisposable> _owned = [];

    private int Port => ((IPEndPoint)_fake.LocalEndPoint!).Port;

    public void Dispose()
    {
        foreach (var item in Enumerable.Reverse(_owned))
            item.Dispose();
        _fake.Dispose();
    }

    private static Socket FakeRouterSocket()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { Ttl = 255 };
        socket.Bind(new IPEndPoint(Fake, 0));
        return socket;
    }

    private (BfdEndpoint Endpoint, ChannelReader<BfdStateChange> Changes) Start(IPAddress bind)
    {
        var endpoint = new BfdEndpoint(new BfdEndpointOptions { BindAddress = bind, ListenPort = Port, RemotePort = Port, MultiHopListenPort = 0 }, NullLogger<BfdEndpoint>.Instance);
        _owned.Add(endpoint);
        var changes = Channel.CreateUnbounded<BfdStateChange>();
        endpoint.StateChanged += change => changes.Writer.TryWrite(change);
        return (endpoint, changes.Reader);
    }

    private static async Task<BfdStateChange> NextAsync(ChannelReader<BfdStateChange> changes) =>
        await changes.ReadAsync().AsTask().WaitAsync(Timeout);

    private static async Task UntilAsync(ChannelReader<BfdStateChange> changes, BfdState state)
    {
        while ((await NextAsync(changes)).NewState != state)
        {
        }
    }

    [Fact]
    public async Task Two_endpoints_come_up_and_a_removed_session_takes_the_other_side_down_at_once()
    {
        var (a, aChanges) = Start(A);
        var (b, bChanges) = Start(B);
        a.Set(new BfdPeer(B, A, Quick));
        b.Set(new BfdPeer(A, B, Quick));
        await UntilAsync(aChanges, BfdState.Up);
        await UntilAsync(bChanges, BfdState.Up);
        Assert.Equal(BfdState.Up, a.StateOf(B));

        // A profile change is renegotiated without a reset; then B removes its session and says AdminDown.
        a.Set(new BfdPeer(B, A, Quick with { DesiredMinTxInterval = 50_000 }));
        b.Remove(A);
        var down = await NextAsync(aChanges);
        Assert.Equal((BfdState.Up, BfdState.Down, BfdDiagnostic.NeighborSignaledSessionDown), (down.OldState, down.NewState, down.Diagnostic));
        Assert.Null(b.StateOf(A));
    }

    [Fact]
    public async Task Every_accepted_packet_is_reported_with_its_remote_and_arrival_time()
    {
        var (a, aChanges) = Start(A);
        var (b, _) = Start(B);
        var arrivals = Channel.CreateUnbounded<(IPAddress Remote, long Timestamp)>();
        a.ControlPacketReceived += (remote, timestamp) => arrivals.Writer.TryWrite((remote, timestamp));
        var before = Stopwatch.GetTimestamp();
        a.Set(new BfdPeer(B, A, Quick));
        b.Set(new BfdPeer(A, B, Quick));
        await UntilAsync(aChanges, BfdState.Up);

        var first = await arrivals.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
        var second = await arrivals.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
        Assert.Equal(B, first.Remote);
        Assert.InRange(first.Timestamp, before, second.Timestamp);
        Assert.InRange(second.Timestamp, first.Timestamp, Stopwatch.GetTimestamp());
    }

    [Fact]
    public async Task A_silent_remote_is_detected_down_and_packets_without_TTL_255_are_never_seen()
    {
        var (a, changes) = Start(A);
        var fake = _fake;
        using var farAway = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        farAway.Bind(new IPEndPoint(Fake, 0));
        farAway.Ttl = 64;
        a.Set(new BfdPeer(Fake, A, Quick));

        // A's first packet says Down and carries its discriminator.
        var buffer = new byte[64];
        var received = await fake.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(Timeout);
        Assert.True(BfdControlPacket.TryRead(buffer.AsSpan(0, received), out var first, out _));
        Assert.Equal(BfdState.Down, first.State);
        var theirs = first.MyDiscriminator;

        BfdControlPacket Packet(BfdState state, byte multiplier = 255) => new()
        {
            State = state,
            DetectMultiplier = multiplier,
            MyDiscriminator = 0xFA4E,
            YourDiscriminator = theirs,
            DesiredMinTxInterval = 20_000,
            RequiredMinRxInterval = 20_000,
        };
        byte[] Bytes(BfdControlPacket packet)
        {
            var bytes = new byte[BfdControlPacket.Length];
            packet.Write(bytes);
            return bytes;
        }
        var target = new IPEndPoint(A, Port);
        // With TTL 64 an Init would bring A straight Up; the kernel drops it, so the Down that follows makes it Init.
        await farAway.SendToAsync(Bytes(Packet(BfdState.Init)), target);
        await fake.SendToAsync(Bytes(Packet(BfdState.Down)), target);
        var init = await NextAsync(changes);
        Assert.Equal((BfdState.Down, BfdState.Init), (init.OldState, init.NewState));
        await fake.SendToAsync(Bytes(Packet(BfdState.Up)), target);
        Assert.Equal(BfdState.Up, (await NextAsync(changes)).NewState);

        // The last word asks for detection after 3 x 20 ms; then silence: A takes the session down on its own.
        await fake.SendToAsync(Bytes(Packet(BfdState.Up, multiplier: 3)), target);
        var down = await NextAsync(changes);
        Assert.Equal((BfdState.Up, BfdState.Down, BfdDiagnostic.ControlDetectionTimeExpired), (down.OldState, down.NewState, down.Diagnostic));
    }
}
