using System.Collections.Immutable;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using BgpLb.L2.Announcing;
using BgpLb.Logging;
using Microsoft.Extensions.Logging;

namespace BgpLb.L2.Membership;

public sealed record MembershipOptions
{
    public required string NodeName { get; init; }
    /// <summary>UDP port every speaker listens on and sends to (--memberlist-port).</summary>
    public int Port { get; init; } = 7946;
    /// <summary>Bind address; null binds every address (dual-stack when IPv6 is available).</summary>
    public IPAddress? BindAddress { get; init; }
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromMilliseconds(200);
    /// <summary>A peer without a heartbeat for this long is dead (failover starts then).</summary>
    public TimeSpan SuspicionTimeout { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>The shared keys every datagram is signed and checked with; null runs unauthenticated (--memberlist-insecure).</summary>
    public required MembershipKeys? Keys { get; init; }
    /// <summary>At most one log line per rejection reason in this interval (a remote party decides how many arrive).</summary>
    public TimeSpan RejectionLogInterval { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// Which speakers are alive: every speaker sends a heartbeat datagram to every peer each interval; a peer is dead after
/// the suspicion timeout without one and alive again at the next; a stopping speaker sends a leave. A datagram counts
/// only when it carries a valid HMAC of a shared key, comes from the InternalIP of the node it names, and is newer
/// (incarnation, sequence) than the last one accepted from that node; every other datagram is dropped, counted in
/// <c>bgplb_memberlist_rejected_total{reason}</c> and logged at most once per reason per interval.
/// <see cref="Changes"/> signals every change of <see cref="Alive"/>.
/// </summary>
/// <remarks>Threads: the heartbeat timer (running only while there are peers), the receive loop and <see cref="SetPeers"/> share the table under <see cref="_gate"/>.</remarks>
public sealed class SpeakerMembership : IAsyncDisposable
{
    private readonly MembershipOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly MembershipTable _table;
    private readonly Lock _gate = new();
    private readonly long _origin;
    private readonly byte[] _selfName;
    private readonly ulong _incarnation;
    private readonly Channel<bool> _changes = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly CancellationTokenSource _stopping = new();
    private readonly Counter<long> _rejected;
    private readonly LogRateLimiter[] _rejectionLog;
    private Dictionary<string, PeerAddress> _peers = new(StringComparer.Ordinal);
    private Socket? _socket;
    private Task _receiving = Task.CompletedTask;
    private ITimer? _heartbeat; // runs while there are peers: alone, a speaker has nothing to send and nothing to expire
    private uint _sequence;

    public SpeakerMembership(MembershipOptions options, TimeProvider time, IMeterFactory meterFactory, ILogger<SpeakerMembership> logger)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _rejected = meterFactory.Create(L2Metrics.MeterName).CreateCounter<long>("bgplb_memberlist_rejected_total", "{datagram}",
            "Liveness datagrams dropped: malformed, unauthenticated, unknown node, wrong source address or replayed (label reason)");
        _options = options;
        _time = time;
        _rejectionLog = [.. Enum.GetValues<MembershipRejection>().Select(_ => new LogRateLimiter(time, options.RejectionLogInterval))];
        _logger = logger;
        _table = new MembershipTable(options.NodeName, options.SuspicionTimeout);
        _origin = time.GetTimestamp();
        _selfName = Encoding.UTF8.GetBytes(options.NodeName);
        _incarnation = (ulong)time.GetUtcNow().ToUnixTimeMilliseconds();
    }

    /// <summary>The live speakers, this node included.</summary>
    public ImmutableSortedSet<string> Alive
    {
        get
        {
            lock (_gate)
                return _table.Alive;
        }
    }

    /// <summary>Receives an item after each change of <see cref="Alive"/> (coalesced: at most one pending).</summary>
    public ChannelReader<bool> Changes => _changes.Reader;

    /// <summary>The UDP port actually bound (useful when <see cref="MembershipOptions.Port"/> is 0).</summary>
    public int LocalPort => (_socket?.LocalEndPoint as IPEndPoint)?.Port ?? 0;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _socket = Bind();
        L2Log.MembershipStarted(_logger, LocalPort, _options.NodeName, _incarnation);
        if (_options.Keys is null)
            L2Log.Insecure(_logger, LocalPort);
        _receiving = ReceiveLoopAsync(_stopping.Token);
        UpdateHeartbeat();
        return Task.CompletedTask;
    }

    /// <summary>The other speakers and where to reach them (Node InternalIPs); self is ignored.</summary>
    public void SetPeers(IReadOnlyDictionary<string, IPAddress> peers)
    {
        var dualMode = _socket?.AddressFamily == AddressFamily.InterNetworkV6;
        var addresses = peers
            .Where(p => p.Key != _options.NodeName)
            .ToDictionary(p => p.Key, p => new PeerAddress(
                new IPEndPoint(dualMode ? p.Value.MapToIPv6() : p.Value, _options.Port).Serialize(),
                Encoding.UTF8.GetBytes(p.Key), p.Value.IsIPv4MappedToIPv6 ? p.Value.MapToIPv4() : p.Value), StringComparer.Ordinal);
        lock (_gate)
        {
            _peers = addresses;
            if (_table.SetPeers(addresses.Keys, Now()))
                _changes.Writer.TryWrite(true);
        }
        UpdateHeartbeat();
    }

    /// <summary>Starts the heartbeat (one at once, then every interval) when the first peer appears, stops it after the last.</summary>
    private void UpdateHeartbeat()
    {
        lock (_gate)
        {
            if (_socket is null || _stopping.IsCancellationRequested || (_peers.Count > 0) == (_heartbeat is not null))
                return;
            if (_heartbeat is not null)
            {
                _heartbeat.Dispose();
                _heartbeat = null;
                return;
            }
            _heartbeat = _time.CreateTimer(_ => Heartbeat(), null, _options.HeartbeatInterval, _options.HeartbeatInterval);
        }
        Heartbeat();
    }

    /// <summary>Sends a leave to every peer and stops.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_socket is null || _stopping.IsCancellationRequested)
            return;
        SendToAll(MembershipMessageType.Leave);
        await _stopping.CancelAsync().ConfigureAwait(false);
        ITimer? heartbeat;
        lock (_gate)
        {
            heartbeat = _heartbeat;
            _heartbeat = null;
        }
        if (heartbeat is not null)
            await heartbeat.DisposeAsync().ConfigureAwait(false); // waits for a heartbeat in flight: the socket is still open
        await _receiving.WaitAsync(cancellationToken).ConfigureAwait(false);
        _socket.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private Socket Bind()
    {
        if (_options.BindAddress is null && Socket.OSSupportsIPv6)
        {
            var dual = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp) { DualMode = true };
            try
            {
                dual.Bind(new IPEndPoint(IPAddress.IPv6Any, _options.Port));
                return dual;
            }
            catch (SocketException)
            {
                dual.Dispose(); // IPv6 disabled on this host: fall back to IPv4 only
            }
        }
        var address = _options.BindAddress ?? IPAddress.Any;
        var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(address, _options.Port));
        return socket;
    }

    private TimeSpan Now() => _time.GetElapsedTime(_origin);

    private void Heartbeat()
    {
        if (_stopping.IsCancellationRequested)
            return;
        SendToAll(MembershipMessageType.Heartbeat);
        lock (_gate)
        {
            foreach (var node in _table.Expire(Now()))
            {
                L2Log.MemberDead(_logger, node, _options.SuspicionTimeout);
                _changes.Writer.TryWrite(true);
            }
        }
    }

    private void SendToAll(MembershipMessageType type)
    {
        Span<byte> datagram = stackalloc byte[MembershipMessage.MaxLength];
        var length = new MembershipMessage(type, _incarnation, Interlocked.Increment(ref _sequence), _selfName).Write(datagram, _options.Keys);
        foreach (var (name, peer) in Volatile.Read(ref _peers))
        {
            try
            {
                _socket!.SendTo(datagram[..length], SocketFlags.None, peer.Address);
            }
            catch (SocketException e)
            {
                L2Log.HeartbeatFailed(_logger, name, e.Message); // unreachable peer: it is simply not heard from
            }
        }
    }

    private async Task ReceiveLoopAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[MembershipMessage.MaxLength + 1];
        var any = new IPEndPoint(_socket!.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!cancellationToken.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _socket!.ReceiveFromAsync(buffer, SocketFlags.None, any, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                continue; // ICMP port unreachable from a peer that is down is reported on the next receive
            }
            var source = ((IPEndPoint)received.RemoteEndPoint).Address;
            Handle(buffer.AsSpan(0, received.ReceivedBytes), source.IsIPv4MappedToIPv6 ? source.MapToIPv4() : source);
        }
    }

    private void Handle(ReadOnlySpan<byte> datagram, IPAddress source)
    {
        if (!MembershipMessage.TryRead(datagram, _options.Keys, out var message, out var rejection))
        {
            Reject(source, rejection, _options.Keys is null ? "not a plain datagram of this protocol" : "no valid HMAC of a configured key");
            return;
        }
        lock (_gate)
        {
            string? node = null;
            PeerAddress? peer = null;
            foreach (var (name, candidate) in _peers)
            {
                if (message.NodeName.SequenceEqual(candidate.NameUtf8))
                {
                    (node, peer) = (name, candidate);
                    break;
                }
            }
            if (node is null)
            {
                Reject(source, MembershipRejection.UnknownNode, "names no speaker's Node");
                return;
            }
            if (!peer!.InternalAddress.Equals(source))
            {
                Reject(source, MembershipRejection.WrongSource, $"claims to be {node}, whose InternalIP is {peer.InternalAddress}");
                return;
            }
            if (!_table.TryAdvance(node, message.Incarnation, message.Sequence))
            {
                Reject(source, MembershipRejection.Replayed, $"{node} incarnation {message.Incarnation} sequence {message.Sequence} is not newer than the last one accepted");
                return;
            }
            if (message.Type == MembershipMessageType.Heartbeat)
            {
                if (_table.Heard(node, message.Incarnation, Now()))
                {
                    L2Log.MemberAlive(_logger, node, message.Incarnation);
                    _changes.Writer.TryWrite(true);
                }
            }
            else if (_table.Left(node, message.Incarnation))
            {
                L2Log.MemberLeft(_logger, node);
                _changes.Writer.TryWrite(true);
            }
        }
    }

    /// <summary>Counts every rejection; logs the first of each reason and then at most one per interval, with the count in between.</summary>
    private void Reject(IPAddress source, MembershipRejection reason, string detail)
    {
        if (_rejected.Enabled)
            _rejected.Add(1, new KeyValuePair<string, object?>("reason", reason.ToString()));
        if (_rejectionLog[(int)reason].TryAcquire(out var suppressed))
            L2Log.DatagramRejected(_logger, source, reason, detail, suppressed);
    }

    /// <param name="InternalAddress">The node's InternalIP, the only source its datagrams are accepted from.</param>
    private sealed record PeerAddress(SocketAddress Address, byte[] NameUtf8, IPAddress InternalAddress);
}
