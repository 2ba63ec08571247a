using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace BgpLb.Bgp.Bfd;

/// <summary>One single-hop BFD session (RFC 5881) to configure.</summary>
public sealed record BfdPeer(IPAddress Remote, IPAddress Local, BfdSessionOptions Options);

/// <summary>A session changed state; <see cref="Diagnostic"/> says why (ours for a local decision, e.g. detection time expired).</summary>
public sealed record BfdStateChange(IPAddress Remote, BfdState OldState, BfdState NewState, BfdDiagnostic Diagnostic);

public sealed record BfdEndpointOptions
{
    public const int SingleHopPort = 3784;

    /// <summary>Where the receive sockets listen (both families when Any); tests bind loopback addresses.</summary>
    public IPAddress BindAddress { get; init; } = IPAddress.Any;
    public int ListenPort { get; init; } = SingleHopPort;
    /// <summary>Where packets go: the RFC's port unless a test runs two endpoints on one host.</summary>
    public int RemotePort { get; init; } = SingleHopPort;
}

/// <summary>
/// The single-hop BFD sessions of this process (RFC 5881): UDP sockets and one dedicated thread that sends, receives
/// and times out, so that neither the thread pool nor a busy reconcile loop can delay a packet or a detection.
/// Transmit with TTL / hop limit 255 from a source port in 49152–65535; receive only packets that arrive with 255
/// (RFC 5881 §5: they crossed no router). Sessions are found by Your Discriminator, or by source
/// address while the remote does not know ours yet. <see cref="StateChanged"/> is raised on the BFD thread and must not
/// block. Multi-hop (RFC 5883) is not here yet.
/// </summary>
public sealed partial class BfdEndpoint : IDisposable
{
    private const int SourcePortLow = 49152;

    private readonly BfdEndpointOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly List<Socket> _receivers = [];
    private readonly Socket _wake;
    private readonly Thread _thread;
    private readonly Dictionary<PacketSource, Entry> _byRemote = [];
    private readonly Dictionary<uint, Entry> _byDiscriminator = [];
    private readonly Random _random = new();
    private readonly List<Socket> _readable = [];
    private volatile bool _stopping;

    public BfdEndpoint(BfdEndpointOptions options, ILogger<BfdEndpoint> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = logger;
        try
        {
            if (options.BindAddress.Equals(IPAddress.Any))
            {
                _receivers.Add(Listen(new IPEndPoint(IPAddress.Any, options.ListenPort)));
                if (Socket.OSSupportsIPv6)
                    _receivers.Add(Listen(new IPEndPoint(IPAddress.IPv6Any, options.ListenPort)));
            }
            else
            {
                _receivers.Add(Listen(new IPEndPoint(options.BindAddress, options.ListenPort)));
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

    /// <summary>The current state of the session with <paramref name="remote"/>, or null when there is none.</summary>
    public BfdState? StateOf(IPAddress remote)
    {
        lock (_gate)
            return _byRemote.TryGetValue(PacketSource.Of(remote), out var entry) ? entry.Session.State : null;
    }

    /// <summary>Adds a session, or gives an existing one new options (renegotiated with a Poll Sequence, no reset).</summary>
    public void Set(BfdPeer peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        lock (_gate)
        {
            if (_byRemote.TryGetValue(PacketSource.Of(peer.Remote), out var existing))
            {
                if (existing.Peer.Local.Equals(peer.Local))
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
            var entry = new Entry(peer, new BfdSession(discriminator, peer.Options), Sender(peer),
                new IPEndPoint(peer.Remote, _options.RemotePort).Serialize());
            _byRemote[entry.Source] = entry;
            _byDiscriminator[discriminator] = entry;
            BfdLog.SessionAdded(_logger, peer.Remote, peer.Local, discriminator);
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
            if (peer.Local.AddressFamily == AddressFamily.InterNetworkV6)
                socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.HopLimit, 255);
            else
                socket.Ttl = 255;
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
        }
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
            if (ttl != 255)
            {
                BfdLog.WrongTtl(_logger, source, ttl);
                continue;
            }
            Received(buffer.AsSpan(0, length), source);
        }
    }

    private void Received(ReadOnlySpan<byte> datagram, PacketSource from)
    {
        if (!BfdControlPacket.TryRead(datagram, out var packet, out var reason))
        {
            BfdLog.Discarded(_logger, from, reason);
            return;
        }
        var now = Stopwatch.GetTimestamp();
        lock (_gate)
        {
            var entry = packet.YourDiscriminator != 0 ? _byDiscriminator.GetValueOrDefault(packet.YourDiscriminator)
                : _byRemote.GetValueOrDefault(from);
            if (entry is null || entry.Source != from)
            {
                BfdLog.NoSession(_logger, from, packet.YourDiscriminator);
                return;
            }
            entry.Pending |= entry.Session.Receive(packet);
            if (entry.Session.State != BfdState.AdminDown && entry.Session.DetectionTime > 0)
                entry.DetectionDeadline = now + Ticks(TimeSpan.FromMicroseconds(entry.Session.DetectionTime));
            Apply(entry, now);
        }
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
            var change = new BfdStateChange(entry.Peer.Remote, entry.ReportedState, entry.Session.State, entry.Session.LocalDiagnostic);
            entry.ReportedState = entry.Session.State;
            BfdLog.StateChanged(_logger, change.Remote, change.OldState, change.NewState, change.Diagnostic);
            StateChanged?.Invoke(change);
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
    }
}
