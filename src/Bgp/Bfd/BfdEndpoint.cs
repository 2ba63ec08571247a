using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using BgpLb.Logging;
using Microsoft.Extensions.Logging;

namespace BgpLb.Bgp.Bfd;

/// <summary>One BFD session to configure: single-hop (RFC 5881) or, with <see cref="MultiHop"/>, multi-hop (RFC 5883).</summary>
public sealed record BfdPeer(IPAddress Remote, IPAddress Local, BfdSessionOptions Options)
{
    public bool MultiHop { get; init; }
}

/// <summary>
/// A session changed state; <see cref="Diagnostic"/> says why (ours for a local decision, e.g. detection time expired)
/// and <see cref="RemoteState"/> is what the remote system said last (AdminDown: it took the session down on purpose).
/// </summary>
public sealed record BfdStateChange(IPAddress Remote, BfdState OldState, BfdState NewState, BfdDiagnostic Diagnostic, BfdState RemoteState);

/// <summary>One session as status and metrics show it; the counters run since the session was configured.</summary>
public sealed record BfdSessionStatus(
    IPAddress Remote, IPAddress Local, bool MultiHop, BfdState State, BfdState RemoteState, BfdDiagnostic Diagnostic,
    TimeSpan TransmitInterval, TimeSpan DetectionTime, long ControlPacketsIn, long ControlPacketsOut, long UpEvents, long DownEvents);

public sealed record BfdEndpointOptions
{
    public const int SingleHopPort = 3784;
    public const int MultiHopPort = 4784;

    /// <summary>Where the receive sockets listen (both families when Any); tests bind loopback addresses.</summary>
    public IPAddress BindAddress { get; init; } = IPAddress.Any;
    public int ListenPort { get; init; } = SingleHopPort;
    /// <summary>Where packets go: the RFC's port unless a test runs two endpoints on one host.</summary>
    public int RemotePort { get; init; } = SingleHopPort;
    public int MultiHopListenPort { get; init; } = MultiHopPort;
    public int MultiHopRemotePort { get; init; } = MultiHopPort;
}

/// <summary>
/// The BFD sessions of this process: UDP sockets and one dedicated thread that sends, receives and times out, so that
/// neither the thread pool nor a busy reconcile loop can delay a packet or a detection. Transmit with TTL / hop limit
/// 255 from a source port in 49152–65535. Single-hop sessions (RFC 5881, port 3784) take only packets that arrive with
/// 255 (they crossed no router); multi-hop sessions (RFC 5883, port 4784) take packets that arrive with at least their
/// <see cref="BfdSessionOptions.MinimumTtl"/>. Sessions are found by Your Discriminator, or by source address while the
/// remote does not know ours yet. <see cref="StateChanged"/> is raised on the BFD thread, outside any lock, and must not block.
/// </summary>
public sealed partial class BfdEndpoint : IDisposable
{
    private const int SourcePortLow = 49152;

    private readonly BfdEndpointOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly List<Socket> _receivers = [];
    private readonly HashSet<Socket> _multiHopReceivers = [];
    private readonly List<BfdStateChange> _changes = [];
    private readonly Socket _wake;
    private readonly Thread _thread;
    private readonly Dictionary<PacketSource, Entry> _byRemote = [];
    private readonly Dictionary<uint, Entry> _byDiscriminator = [];
    private readonly Random _random = new();
    // Anyone can send us BFD packets: the lines about packets we drop are rate-limited.
    private readonly LogRateLimiter _discardedLog = new(TimeProvider.System);
    private readonly LogRateLimiter _noSessionLog = new(TimeProvider.System);
    private readonly LogRateLimiter _wrongTtlLog = new(TimeProvider.System);
    private readonly List<Socket> _readable = [];
    private volatile bool _stopping;

    public BfdEndpoint(BfdEndpointOptions options, ILogger<BfdEndpoint> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = logger;
        try
        {
            IPAddress[] bind = !options.BindAddress.Equals(IPAddress.Any) ? [options.BindAddress]
                : Socket.OSSupportsIPv6 ? [IPAddress.Any, IPAddress.IPv6Any] : [IPAddress.Any];
            foreach (var address in bind)
            {
                _receivers.Add(Listen(new IPEndPoint(address, options.ListenPort)));
                var multiHop = Listen(new IPEndPoint(address, options.MultiHopListenPort));
                _receivers.Add(multiHop);
                _multiHopReceivers.Add(multiHop);
            }
            _wake = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            _wake.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _wake.Blocking = false;
        }
        catch
        {
            foreach (var socket in _receivers)
                socket.Dispose();
            throw;
        }
        _thread = new Thread(Run) { IsBackground = true, Name = "bgplb-bfd", Priority = ThreadPriority.AboveNormal };
        _thread.Start();
    }

    /// <summary>Raised on the BFD thread for every state change; must not block.</summary>
    public event Action<BfdStateChange>? StateChanged;

    /// <summary>
    /// Raised on the BFD thread for every control packet a session accepts, with the session's remote and the
    /// <see cref="Stopwatch"/> timestamp taken on that thread when the packet was read; must not block. For measuring
    /// the remote's transmit timing (the lab's BFD probe).
    /// </summary>
    public event Action<IPAddress, long>? ControlPacketReceived;

    /// <summary>The current state of the session with <paramref name="remote"/>, or null when there is none.</summary>
    public BfdState? StateOf(IPAddress remote)
    {
        lock (_gate)
            return _byRemote.TryGetValue(PacketSource.Of(remote), out var entry) ? entry.Session.State : null;
    }

    /// <summary>Every session with its state and counters.</summary>
    public IReadOnlyList<BfdSessionStatus> Sessions()
    {
        lock (_gate)
        {
            return [.. _byRemote.Values.Select(e => new BfdSessionStatus(
                e.Peer.Remote, e.Peer.Local, e.Peer.MultiHop, e.Session.State, e.Session.RemoteState, e.Session.LocalDiagnostic,
                TimeSpan.FromMicroseconds(e.Session.TransmitInterval), TimeSpan.FromMicroseconds(e.Session.DetectionTime),
                e.ControlIn, e.ControlOut, e.UpEvents, e.DownEvents))];
        }
    }

    /// <summary>Adds a session, or gives an existing one new options (renegotiated with a Poll Sequence, no reset).</summary>
    public void Set(BfdPeer peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        lock (_gate)
        {
            if (_byRemote.TryGetValue(PacketSource.Of(peer.Remote), out var existing))
            {
                if (existing.Peer.Local.Equals(peer.Local) && existing.Peer.MultiHop == peer.MultiHop)
                {
                    existing.Peer = peer;
                    existing.Pending |= existing.Session.Reconfigure(peer.Options);
                    Wake();
                    return;
                }
                RemoveUnsynchronized(existing);
            }
            uint discriminator;
            do
                discriminator = (uint)_random.NextInt64(1, uint.MaxValue);
            while (_byDiscriminator.ContainsKey(discriminator));
            var port = peer.MultiHop ? _options.MultiHopRemotePort : _options.RemotePort;
            var entry = new Entry(peer, new BfdSession(discriminator, peer.Options), Sender(peer), new IPEndPoint(peer.Remote, port).Serialize());
            _byRemote[entry.Source] = entry;
            _byDiscriminator[discriminator] = entry;
            BfdLog.SessionAdded(_logger, peer.MultiHop ? "multi-hop" : "single-hop", peer.Remote, peer.Local, discriminator);
        }
        Wake();
    }

    /// <summary>Ends the session with <paramref name="remote"/>: it says AdminDown once, then goes silent.</summary>
    public void Remove(IPAddress remote)
    {
        lock (_gate)
        {
            if (_byRemote.TryGetValue(PacketSource.Of(remote), out var entry))
                RemoveUnsynchronized(entry);
        }
    }

    private void RemoveUnsynchronized(Entry entry)
    {
        entry.Session.SetAdminDown(true);
        Send(entry, entry.Session.NextPacket);
        _byRemote.Remove(entry.Source);
        _byDiscriminator.Remove(entry.Session.LocalDiscriminator);
        entry.Socket.Dispose();
        BfdLog.SessionRemoved(_logger, entry.Peer.Remote);
    }

    public void Dispose()
    {
        if (_stopping)
            return;
        _stopping = true;
        Wake();
        _thread.Join();
        lock (_gate)
        {
            foreach (var entry in _byRemote.Values.ToList())
                RemoveUnsynchronized(entry);
        }
        foreach (var socket in _receivers)
            socket.Dispose();
        _wake.Dispose();
    }

    private static Socket Listen(IPEndPoint endpoint)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (endpoint.AddressFamily == AddressFamily.InterNetworkV6)
                socket.DualMode = false;
            DatagramReceiver.EnableTtl(socket);
            socket.Bind(endpoint);
            socket.Blocking = false;
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A socket for one session's packets: from its local address and a source port in 49152–65535, TTL 255.</summary>
    private Socket Sender(BfdPeer peer)
    {
        var socket = new Socket(peer.Local.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.Ttl = 255; // IP_TTL, or IPV6_UNICAST_HOPS on an IPv6 socket
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    socket.Bind(new IPEndPoint(peer.Local, _random.Next(SourcePortLow, 65536)));
                    break;
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse && attempt < 64)
                {
                }
            }
            socket.Blocking = false;
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private void Wake()
    {
        try
        {
            _wake.SendTo([0], _wake.LocalEndPoint!);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void Run()
    {
        var buffer = new byte[512];
        while (!_stopping)
        {
            var wait = RunTimers();
            RaiseChanges();
            _readable.Clear();
            _readable.AddRange(_receivers);
            _readable.Add(_wake);
            try
            {
                Socket.Select(_readable, null, null, wait);
            }
            catch (SocketException)
            {
                continue;
            }
            foreach (var socket in _readable)
                Drain(socket, buffer);
            RaiseChanges();
        }
    }

    /// <summary>Raises the state changes collected under the lock, in order, now that it is released.</summary>
    private void RaiseChanges()
    {
        if (_changes.Count == 0)
            return;
        foreach (var change in _changes)
            StateChanged?.Invoke(change);
        _changes.Clear();
    }

    /// <summary>Sends what is due and times out what has been silent too long; returns the microseconds until the next deadline.</summary>
    private int RunTimers()
    {
        var now = Stopwatch.GetTimestamp();
        var next = now + Stopwatch.Frequency; // look again after a second at the latest
        lock (_gate)
        {
            foreach (var entry in _byRemote.Values)
            {
                if (entry.DetectionDeadline <= now)
                {
                    entry.DetectionDeadline = long.MaxValue;
                    entry.Pending |= entry.Session.DetectionTimeExpired();
                }
                Apply(entry, now);
                var periodic = entry.Session.TransmitsPeriodically && entry.Session.State != BfdState.AdminDown;
                if (periodic && entry.NextTransmit <= now)
                    Transmit(entry, now);
                next = Math.Min(next, Math.Min(entry.DetectionDeadline, periodic ? entry.NextTransmit : long.MaxValue));
            }
        }
        var micros = (next - Stopwatch.GetTimestamp()) * 1_000_000 / Stopwatch.Frequency;
        return (int)Math.Clamp(micros, 0, 1_000_000);
    }

    private void Drain(Socket socket, byte[] buffer)
    {
        if (socket == _wake)
        {
            while (_wake.Available > 0)
                _wake.Receive(buffer);
            return;
        }
        while (true)
        {
            int length;
            PacketSource? from;
            int ttl;
            try
            {
                length = DatagramReceiver.Receive(socket, buffer, out from, out ttl);
            }
            catch (SocketException)
            {
                continue; // e.g. ICMP port unreachable from a peer without BFD
            }
            if (length < 0)
                return;
            if (from is not { } source)
                continue;
            var multiHop = _multiHopReceivers.Contains(socket);
            if (!multiHop && ttl != 255)
            {
                if (_wrongTtlLog.TryAcquire(out var suppressed)) BfdLog.WrongTtl(_logger, source, ttl, 255, suppressed);
                continue;
            }
            Received(buffer.AsSpan(0, length), source, multiHop, ttl);
        }
    }

    private void Received(ReadOnlySpan<byte> datagram, PacketSource from, bool multiHop, int ttl)
    {
        if (!BfdControlPacket.TryRead(datagram, out var packet, out var reason))
        {
            if (_discardedLog.TryAcquire(out var suppressed)) BfdLog.Discarded(_logger, from, reason, suppressed);
            return;
        }
        var now = Stopwatch.GetTimestamp();
        IPAddress? accepted;
        lock (_gate)
        {
            var entry = packet.YourDiscriminator != 0 ? _byDiscriminator.GetValueOrDefault(packet.YourDiscriminator)
                : _byRemote.GetValueOrDefault(from);
            if (entry is null || entry.Source != from || entry.Peer.MultiHop != multiHop)
            {
                if (_noSessionLog.TryAcquire(out var suppressed)) BfdLog.NoSession(_logger, from, packet.YourDiscriminator, suppressed);
                return;
            }
            if (multiHop && ttl < entry.Peer.Options.MinimumTtl)
            {
                if (entry.TtlWarned)
                {
                    if (_wrongTtlLog.TryAcquire(out var suppressed)) BfdLog.WrongTtl(_logger, from, ttl, entry.Peer.Options.MinimumTtl, suppressed);
                }
                else
                {
                    entry.TtlWarned = true;
                    BfdLog.TtlBelowMinimum(_logger, from, ttl, entry.Peer.Options.MinimumTtl);
                }
                return;
            }
            entry.ControlIn++;
            entry.Pending |= entry.Session.Receive(packet);
            if (entry.Session.State != BfdState.AdminDown && entry.Session.DetectionTime > 0)
                entry.DetectionDeadline = now + Ticks(TimeSpan.FromMicroseconds(entry.Session.DetectionTime));
            Apply(entry, now);
            accepted = entry.Peer.Remote;
        }
        ControlPacketReceived?.Invoke(accepted, now);
    }

    /// <summary>Carries out what the session asked for: answers, immediate packets, rescheduling, state change events.</summary>
    private void Apply(Entry entry, long now)
    {
        var effects = entry.Pending;
        entry.Pending = BfdEffects.None;
        if (effects.HasFlag(BfdEffects.SendFinal))
            Send(entry, entry.Session.FinalPacket);
        if (effects.HasFlag(BfdEffects.SendNow) && entry.Session.TransmitsPeriodically)
        {
            Transmit(entry, now);
        }
        else if (effects.HasFlag(BfdEffects.TimersChanged))
        {
            entry.NextTransmit = Math.Min(entry.NextTransmit, now + Ticks(TimeSpan.FromMicroseconds(entry.Session.TransmitInterval)));
        }
        if (effects.HasFlag(BfdEffects.StateChanged))
        {
            var change = new BfdStateChange(entry.Peer.Remote, entry.ReportedState, entry.Session.State, entry.Session.LocalDiagnostic, entry.Session.RemoteState);
            entry.ReportedState = entry.Session.State;
            if (change.NewState == BfdState.Up)
                entry.UpEvents++;
            else if (change.OldState == BfdState.Up)
                entry.DownEvents++;
            BfdLog.StateChanged(_logger, change.Remote, change.OldState, change.NewState, change.Diagnostic);
            _changes.Add(change);
        }
    }

    /// <summary>Sends the next periodic packet and schedules the one after, jittered (RFC 5880 §6.8.7).</summary>
    private void Transmit(Entry entry, long now)
    {
        Send(entry, entry.Session.NextPacket);
        entry.NextTransmit = now + Ticks(BfdSession.Jittered(entry.Session.TransmitInterval, entry.Session.Options.DetectMultiplier, _random.NextDouble()));
    }

    private void Send(Entry entry, in BfdControlPacket packet)
    {
        Span<byte> bytes = stackalloc byte[BfdControlPacket.Length];
        packet.Write(bytes);
        try
        {
            entry.Socket.SendTo(bytes, SocketFlags.None, entry.Destination);
            entry.ControlOut++;
        }
        catch (SocketException e)
        {
            BfdLog.SendFailed(_logger, entry.Peer.Remote, e.SocketErrorCode);
        }
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    private sealed class Entry(BfdPeer peer, BfdSession session, Socket socket, SocketAddress destination)
    {
        public BfdPeer Peer { get; set; } = peer;
        public BfdSession Session { get; } = session;
        public Socket Socket { get; } = socket;
        public PacketSource Source { get; } = PacketSource.Of(peer.Remote);
        /// <summary>Serialized once: sending allocates nothing.</summary>
        public SocketAddress Destination { get; } = destination;
        public BfdState ReportedState { get; set; } = session.State;
        public BfdEffects Pending { get; set; }
        public long NextTransmit { get; set; }
        public long DetectionDeadline { get; set; } = long.MaxValue;
        public long ControlIn { get; set; }
        public long ControlOut { get; set; }
        public long UpEvents { get; set; }
        public long DownEvents { get; set; }
        public bool TtlWarned { get; set; }
    }
}
