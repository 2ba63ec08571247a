using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Threading.Channels;
using BgpLb.Bgp;
using BgpLb.Bgp.Transport;
using BgpLb.Bgp.Wire;

// Shared by BgpLb.Bgp.Tests and BgpLb.Speaker.Tests (linked into both): an in-memory transport whose far ends are fake
// routers speaking through the product's codec.
namespace BgpLb.Testing.Bgp;

/// <summary>In-memory transport: every connect or inbound connection is a pipe pair whose far end is a <see cref="FakePeer"/>.</summary>
internal sealed class TestTransport : IBgpTransportFactory
{
    public static readonly IPEndPoint Local = new(IPAddress.Parse("198.18.0.1"), 40000);
    private readonly Channel<FakePeer> _connected = Channel.CreateUnbounded<FakePeer>();
    private readonly Channel<BgpConnection> _inbound = Channel.CreateUnbounded<BgpConnection>();

    /// <summary>Local endpoint of outbound connections.</summary>
    public IPEndPoint LocalEndPoint { get; set; } = Local;

    /// <summary>Options of the pipe from the speaker to the fake peer of the next connections (a small pause threshold makes the speaker's flushes wait for the peer).</summary>
    public PipeOptions ToPeerOptions { get; set; } = PipeOptions.Default;

    /// <summary>When false, connects fail (the peer is "down").</summary>
    public bool Reachable { get; set; } = true;
    public int ConnectAttempts;

    public ValueTask<BgpConnection> ConnectAsync(BgpPeerConfig peer, CancellationToken ct)
    {
        Interlocked.Increment(ref ConnectAttempts);
        if (!Reachable) throw new IOException("connection refused");
        var (local, remote) = Pair(LocalEndPoint, new IPEndPoint(peer.Address, peer.Port), ToPeerOptions);
        _connected.Writer.TryWrite(remote);
        return ValueTask.FromResult(local);
    }

    public IBgpListener Listen(IPEndPoint endPoint) => new Listener(endPoint, _inbound);

    /// <summary>The fake peer at the other end of the next outbound connection.</summary>
    public async Task<FakePeer> NextConnectionAsync() => await _connected.Reader.ReadAsync().AsTask().WaitAsync(FakePeer.Timeout);

    /// <summary>Simulates the peer at <paramref name="from"/> connecting to our listener.</summary>
    public FakePeer ConnectInbound(IPAddress from)
    {
        var (local, remote) = Pair(new IPEndPoint(Local.Address, 179), new IPEndPoint(from, 50000), ToPeerOptions);
        _inbound.Writer.TryWrite(local);
        return remote;
    }

    private static (BgpConnection Local, FakePeer Remote) Pair(IPEndPoint local, IPEndPoint remote, PipeOptions toPeerOptions)
    {
        var toPeer = new Pipe(toPeerOptions);
        var toUs = new Pipe();
        var connection = new BgpConnection(new DuplexPipe(toUs.Reader, toPeer.Writer), local, remote);
        return (connection, new FakePeer(toPeer.Reader, toUs.Writer));
    }

    private sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;

    private sealed class Listener(IPEndPoint endPoint, Channel<BgpConnection> inbound) : IBgpListener
    {
        public IPEndPoint LocalEndPoint => endPoint;
        public Dictionary<IPAddress, string?> Passwords { get; } = [];
        public ValueTask<BgpConnection> AcceptAsync(CancellationToken ct) => inbound.Reader.ReadAsync(ct);
        public void SetPeerPassword(IPAddress peer, string? password) => Passwords[peer] = password;
        public ValueTask DisposeAsync() => default;
    }
}

/// <summary>A message read by the fake peer: type and body bytes.</summary>
internal sealed record Received(BgpMessageType Type, byte[] Body)
{
    public override string ToString() => $"{Type} {Convert.ToHexString(Body)}";
}

/// <summary>The router side of an in-memory connection, speaking through the product's codec.</summary>
internal sealed class FakePeer
{
    private readonly PipeWriter output;
    private readonly PipeReader _input;
    private readonly Channel<Received> _messages = Channel.CreateUnbounded<Received>();

    public FakePeer(PipeReader input, PipeWriter output)
    {
        this.output = output;
        _input = input;
        _ = PumpAsync(input);
    }

    private volatile TaskCompletionSource _reading = CompletedGate();
    private volatile TaskCompletionSource _parked = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static TaskCompletionSource CompletedGate()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.SetResult();
        return gate;
    }

    /// <summary>Stops reading from the socket (after the read in progress), so the speaker's writes back up.</summary>
    public void PauseReading()
    {
        _reading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _input.CancelPendingRead();
    }

    /// <summary>Like <see cref="PauseReading"/>, and returns once the reader has stopped: nothing the speaker writes from now on is consumed.</summary>
    public async Task PauseReadingAsync()
    {
        _parked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        PauseReading();
        await _parked.Task.WaitAsync(Timeout);
    }

    public void ResumeReading() => _reading.TrySetResult();

    private async Task PumpAsync(PipeReader input)
    {
        try
        {
            while (true)
            {
                var gate = _reading;
                if (!gate.Task.IsCompleted)
                    _parked.TrySetResult();
                await gate.Task;
                var result = await input.ReadAsync();
                var buffer = result.Buffer;
                try
                {
                    while (BgpFraming.TryReadMessage(ref buffer, BgpConstants.ExtendedMaxMessageLength, out var type, out var body))
                        _messages.Writer.TryWrite(new Received(type, body.ToArray()));
                    if (result.IsCompleted) break;
                }
                finally
                {
                    input.AdvanceTo(buffer.Start, buffer.End);
                }
            }
        }
        catch (Exception ex)
        {
            _messages.Writer.TryComplete(ex);
            return;
        }
        _messages.Writer.TryComplete();
    }

    /// <summary>How long any read waits before the test fails; generous, so that a loaded machine only makes a failure slower.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public async Task SendAsync(Action<IBufferWriter<byte>> write) => await StartSending(write).AsTask().WaitAsync(Timeout);

    /// <summary>Writes and flushes without waiting: the speaker sees everything at once; the flush completes once it has read most of it.</summary>
    public ValueTask<FlushResult> StartSending(Action<IBufferWriter<byte>> write)
    {
        write(output);
        return output.FlushAsync();
    }

    /// <param name="gracefulRestart">Advertise a helper-only graceful restart capability (restart time 120 s, no family), as a router in helper mode does.</param>
    public Task SendOpenAsync(uint asn, string id, ushort hold = 90, bool fourOctetAs = true, bool ipv6 = true, bool gracefulRestart = false) =>
        SendAsync(w => OpenCodec.Write(w, new OpenMessage(4, OpenCodec.MyAsField(asn), hold, BgpIdentifier.FromAddress(IPAddress.Parse(id)),
            new BgpCapabilities
            {
                Multiprotocol = ipv6 ? [AfiSafi.IPv4Unicast, AfiSafi.IPv6Unicast] : [AfiSafi.IPv4Unicast],
                FourOctetAs = fourOctetAs ? asn : null,
                RouteRefresh = true,
                EnhancedRouteRefresh = true,
                GracefulRestart = gracefulRestart ? new GracefulRestartCapability(0, 120, []) : null,
            })));

    public Task SendKeepaliveAsync() => SendAsync(KeepaliveCodec.Write);

    /// <summary>Reads the next message, failing the test if none arrives within <see cref="Timeout"/>.</summary>
    public async Task<Received> ReadAsync()
    {
        var received = await TryReadAsync(Timeout);
        return received ?? throw new Xunit.Sdk.XunitException("connection closed while a message was expected");
    }

    /// <summary>Reads the next message; null when the connection was closed.</summary>
    public async Task<Received?> TryReadAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            if (await _messages.Reader.WaitToReadAsync(cts.Token) && _messages.Reader.TryRead(out var m)) return m;
            return null;
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("no message from the speaker in time");
        }
    }

    /// <summary>Reads until a message of <paramref name="type"/> arrives (skipping others, e.g. keepalives).</summary>
    public async Task<Received> ReadAsync(BgpMessageType type)
    {
        while (true)
        {
            var m = await ReadAsync();
            if (m.Type == type) return m;
        }
    }

    /// <summary>Asserts that the connection is closed after any remaining messages, returning those.</summary>
    public async Task<List<Received>> ReadUntilClosedAsync()
    {
        var all = new List<Received>();
        while (await TryReadAsync(Timeout) is { } m) all.Add(m);
        return all;
    }

    /// <summary>
    /// Asserts that the speaker sent nothing since the last read, without waiting in real time: two ROUTE-REFRESH requests
    /// for <paramref name="family"/> are barriers. The session's loop handles the input it read and then its pending signals
    /// (timer firings, route changes) in one pass and flushes the output of that pass, so anything due before the first
    /// request was written precedes the answer to the second one. Needs an Established session with enhanced route refresh (as
    /// <see cref="EstablishAsync"/> negotiates); the refresh answers themselves (BoRR, UPDATEs of the family, EoRR) are skipped.
    /// </summary>
    public async Task AssertQuietAsync(AfiSafi? family = null)
    {
        var refresh = new RouteRefreshMessage(family ?? AfiSafi.IPv6Unicast, RouteRefreshSubtype.Normal);
        for (var barrier = 0; barrier < 2; barrier++)
        {
            // The second request is written only after the first was answered, so the two are never handled in one pass.
            await SendAsync(w => RouteRefreshCodec.Write(w, refresh));
            var first = await ReadAsync();
            if (first.Type != BgpMessageType.RouteRefresh || RouteRefreshCodec.Read(first.Body).Subtype != RouteRefreshSubtype.BeginningOfRouteRefresh)
                throw new Xunit.Sdk.XunitException($"the speaker sent {first} where it should have been quiet");
            while (await ReadAsync() is var m && !(m.Type == BgpMessageType.RouteRefresh && RouteRefreshCodec.Read(m.Body).Subtype == RouteRefreshSubtype.EndOfRouteRefresh))
            {
                if (m.Type != BgpMessageType.Update)
                    throw new Xunit.Sdk.XunitException($"the speaker sent {m} while answering a route refresh");
            }
        }
    }

    /// <summary>Completes the OPEN / KEEPALIVE exchange after the speaker's OPEN; returns the speaker's OPEN.</summary>
    public async Task<OpenMessage> EstablishAsync(uint asn, string id = "198.18.0.2", ushort hold = 90, bool fourOctetAs = true, bool gracefulRestart = false)
    {
        var open = await ReadAsync();
        Assert.Equal(BgpMessageType.Open, open.Type);
        await SendOpenAsync(asn, id, hold, fourOctetAs, gracefulRestart: gracefulRestart);
        Assert.Equal(BgpMessageType.Keepalive, (await ReadAsync()).Type);
        await SendKeepaliveAsync();
        return OpenCodec.Read(open.Body);
    }

    public void Close() => output.Complete();

    /// <summary>Reads the next UPDATE (skipping KEEPALIVEs) and decodes it as an eBGP session with 4-octet AS numbers does.</summary>
    public async Task<UpdateMessage> ReadUpdateAsync()
    {
        var message = await ReadAsync(BgpMessageType.Update);
        return UpdateDecoder.Decode(message.Body, new UpdateDecodeContext(true, false));
    }

    /// <summary>
    /// Reads UPDATEs until <paramref name="families"/> End-of-RIB markers arrived (one per negotiated family; <see cref="EstablishAsync"/>
    /// negotiates IPv4 and IPv6) and returns the other UPDATEs, in order.
    /// </summary>
    public async Task<List<UpdateMessage>> ReadUntilEndOfRibAsync(int families = 2)
    {
        var updates = new List<UpdateMessage>();
        while (families > 0)
        {
            var update = await ReadUpdateAsync();
            if (update.EndOfRib is null)
                updates.Add(update);
            else
                families--;
        }
        return updates;
    }
}
