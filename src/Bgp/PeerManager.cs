using System.Net;
using BgpLb.Bgp.Rib;
using BgpLb.Bgp.Session;
using BgpLb.Bgp.Transport;
using BgpLb.Bgp.Wire;
using BgpLb.Logging;
using Microsoft.Extensions.Logging;

namespace BgpLb.Bgp;

/// <summary>
/// Converges BGP sessions to the desired peers and routes (level-based: every <see cref="Apply"/> carries the complete set).
/// Thread safety: all public members may be called concurrently. Lock order: <c>_lock</c> → PeerSession → AdjRibOut.
/// </summary>
public sealed class PeerManager : IAsyncDisposable
{
    private static readonly TimeSpan DisposeTimeout = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private readonly Dictionary<PeerKey, PeerSession> _peers = [];
    private readonly List<Task> _retiring = [];
    private readonly RestartState _restart = new();
    private readonly PeerManagerOptions _options;
    private readonly IBgpTransportFactory _transport;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly BgpMetrics _metrics;
    private readonly PeerBfd _bfd;
    private readonly CancellationTokenSource _acceptCancel = new();
    private readonly LogRateLimiter _unknownPeerLog;
    private IBgpListener? _listener;
    private Task _acceptLoop = Task.CompletedTask;
    private bool _stopped;
    private int _disposed;

    public PeerManager(PeerManagerOptions options, IBgpTransportFactory transport, TimeProvider time, ILoggerFactory loggerFactory, BgpMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ArgumentNullException.ThrowIfNull(metrics);
        _options = options;
        _transport = transport;
        _time = time;
        _unknownPeerLog = new LogRateLimiter(time);
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<PeerManager>();
        _metrics = metrics;
        _bfd = new PeerBfd(options.Bfd, loggerFactory);
        metrics.ObserveBfd(_bfd.Sessions);
    }

    /// <summary>The bound passive endpoint once started, or null when not listening.</summary>
    public IPEndPoint? ListenEndPoint => _listener?.LocalEndPoint;

    /// <summary>Starts the passive listener when <see cref="PeerManagerOptions.ListenEndPoint"/> is set.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_options.ListenEndPoint is not { } endPoint) return Task.CompletedTask;
        var listener = _transport.Listen(endPoint);
        lock (_lock)
        {
            if (_stopped)
            {
                _ = listener.DisposeAsync().AsTask();
                throw new InvalidOperationException("The peer manager was stopped.");
            }
            _listener = listener;
            foreach (var peer in _peers.Values)
                if (peer.Config.Password is not null) SetListenerPassword(peer.Config.Address, peer.Config.Password);
        }
        PeerManagerLog.Listening(_logger, listener.LocalEndPoint);
        _acceptLoop = AcceptLoopAsync(listener, _acceptCancel.Token);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Level-based: converges to <paramref name="peers"/>, each with its complete route set (see <see cref="Update"/>).
    /// </summary>
    public void Apply(IReadOnlyList<PeerIntent> peers)
    {
        ArgumentNullException.ThrowIfNull(peers);
        lock (_lock)
        {
            var started = ConvergeUnsynchronized(peers.Select(p => p.Config));
            foreach (var intent in peers)
                if (_peers.TryGetValue(intent.Config.Key, out var peer) && peer.Config == intent.Config) peer.SetRoutes(intent.Routes);
            StartUnsynchronized(started);
        }
    }

    /// <summary>
    /// Incremental: converges the sessions to <paramref name="peers"/> when given (null leaves them as they are), then
    /// applies <paramref name="routes"/> to the peers' desired route sets; only the differences reach the wire, and a peer
    /// starts only once its routes are in place. New peers start; removed peers get Cease/Peer De-configured; peers whose
    /// configuration changed (other than the name) get Cease/Other Configuration Change and restart with the routes they
    /// had. Changes for a peer that is not configured are ignored.
    /// </summary>
    public void Update(IReadOnlyList<BgpPeerConfig>? peers, IReadOnlyList<RouteChange> routes)
    {
        ArgumentNullException.ThrowIfNull(routes);
        lock (_lock)
        {
            var started = peers is null ? [] : ConvergeUnsynchronized(peers);
            if (routes.Count > 0)
            {
                foreach (var group in routes.GroupBy(r => r.Peer).Select(g => (g.Key, Changes: g, Count: g.Count())))
                {
                    if (_peers.TryGetValue(group.Key, out var peer))
                        peer.ChangeRoutes(group.Changes.Select(r => (r.Prefix, r.Attributes)));
                    else
                        PeerManagerLog.RoutesForUnknownPeer(_logger, group.Key, group.Count);
                }
            }
            StartUnsynchronized(started);
        }
    }

    /// <returns>The sessions created (not started yet: their routes go in first), each with the task of the session it replaces.</returns>
    private List<(PeerSession Peer, Task Predecessor)> ConvergeUnsynchronized(IEnumerable<BgpPeerConfig> peers)
    {
        ObjectDisposedException.ThrowIf(_stopped, this);
        var started = new List<(PeerSession, Task)>();
        var seen = new HashSet<PeerKey>();
        foreach (var config in peers)
        {
            if (!seen.Add(config.Key))
            {
                PeerManagerLog.DuplicatePeer(_logger, config.Key);
                continue;
            }
            if (_peers.TryGetValue(config.Key, out var existing))
            {
                if (existing.Config == config)
                    continue;
                if (existing.Config with { Name = config.Name, Bfd = config.Bfd } == config)
                {
                    existing.Reconfigured(config);
                    continue;
                }
                PeerManagerLog.PeerChanged(_logger, config.Key, config.Name);
                var stopped = Retire(existing, Cease(CeaseSubcode.OtherConfigurationChange));
                if (existing.Config.Password != config.Password) SetListenerPassword(config.Address, config.Password);
                var replacement = NewPeer(config, existing.Rib);
                _peers[config.Key] = replacement;
                started.Add((replacement, stopped));
            }
            else
            {
                PeerManagerLog.PeerAdded(_logger, config.Key, config.Name);
                if (config.Password is not null) SetListenerPassword(config.Address, config.Password);
                var peer = NewPeer(config, new AdjRibOut());
                _peers[config.Key] = peer;
                started.Add((peer, Task.CompletedTask));
            }
        }
        foreach (var (key, peer) in _peers.Where(p => !seen.Contains(p.Key)).ToList())
        {
            PeerManagerLog.PeerRemoved(_logger, key, peer.Config.Name);
            Retire(peer, Cease(CeaseSubcode.PeerDeconfigured));
            if (peer.Config.Password is not null) SetListenerPassword(peer.Config.Address, null);
            _peers.Remove(key);
        }
        return started;
    }

    private static void StartUnsynchronized(List<(PeerSession Peer, Task Predecessor)> started)
    {
        foreach (var (peer, predecessor) in started)
            peer.Start(predecessor);
    }

    /// <summary>
    /// Sends Cease/Administrative Shutdown with the shutdown communication to every peer and closes all sessions; a session
    /// that negotiated graceful restart (<see cref="BgpPeerConfig.GracefulRestart"/> and the peer's capability) is closed
    /// without NOTIFICATION instead, so the peer keeps our routes until we are back (RFC 4724).
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        List<PeerSession> peers;
        List<Task> stopping;
        IBgpListener? listener;
        lock (_lock)
        {
            _stopped = true;
            peers = [.. _peers.Values];
            _peers.Clear();
            listener = _listener;
            _listener = null;
            var shutdown = ShutdownCease(_options.ShutdownCommunication);
            stopping = [.. _retiring, .. peers.Select(p => p.StopAsync(shutdown, gracefulRestart: true))];
        }
        await _acceptCancel.CancelAsync().ConfigureAwait(false);
        if (listener is not null) await listener.DisposeAsync().ConfigureAwait(false);
        await _acceptLoop.ConfigureAwait(false);
        try
        {
            await Task.WhenAll(stopping).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            PeerManagerLog.StopAborted(_logger);
            foreach (var peer in peers) peer.Abort();
            await Task.WhenAll(stopping).ConfigureAwait(false);
        }
        _bfd.Dispose();
    }

    public IReadOnlyList<PeerStatus> GetStatus()
    {
        lock (_lock) return [.. _peers.Values.Select(p => p.Status())];
    }

    /// <summary>
    /// The prefixes in the Adj-RIB-Out of <paramref name="peer"/>: sent to it, each with when it was last sent with its current
    /// attributes (on this session); empty for a peer that is not configured.
    /// </summary>
    public IReadOnlyDictionary<IPNetwork, DateTimeOffset> AdvertisedPrefixes(PeerKey peer)
    {
        PeerSession? session;
        lock (_lock) _peers.TryGetValue(peer, out session);
        return session?.Rib.AdvertisedPrefixes() ?? new Dictionary<IPNetwork, DateTimeOffset>();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        using var timeout = new CancellationTokenSource(DisposeTimeout, _time);
        await StopAsync(timeout.Token).ConfigureAwait(false);
    }

    private PeerSession NewPeer(BgpPeerConfig config, AdjRibOut rib) =>
        new(config, rib, _restart, _options, _transport, _time, _loggerFactory.CreateLogger<PeerSession>(), _metrics, _bfd);

    private Task Retire(PeerSession peer, NotificationMessage cause)
    {
        var stopped = peer.StopAsync(cause);
        _bfd.Untrack(peer);
        _retiring.RemoveAll(t => t.IsCompleted);
        _retiring.Add(stopped);
        return stopped;
    }

    private void SetListenerPassword(IPAddress address, string? password)
    {
        try
        {
            _listener?.SetPeerPassword(address, password);
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or PlatformNotSupportedException)
        {
            PeerManagerLog.ListenerFailed(_logger, _listener!.LocalEndPoint, ex);
        }
    }

    private async Task AcceptLoopAsync(IBgpListener listener, CancellationToken ct)
    {
        await Task.Yield();
        while (!ct.IsCancellationRequested)
        {
            BgpConnection connection;
            try
            {
                connection = await listener.AcceptAsync(ct).ConfigureAwait(false);
            }
            catch (Exception) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException)
            {
                PeerManagerLog.ListenerFailed(_logger, listener.LocalEndPoint, ex);
                continue;
            }
            Dispatch(connection);
        }
    }

    private void Dispatch(BgpConnection connection)
    {
        lock (_lock)
        {
            foreach (var peer in _peers.Values)
            {
                var config = peer.Config;
                if (config.Address.Equals(connection.RemoteEndPoint.Address)
                    && (config.SourceAddress is null || config.SourceAddress.Equals(connection.LocalEndPoint.Address)))
                {
                    peer.AcceptInbound(connection);
                    return;
                }
            }
        }
        if (_unknownPeerLog.TryAcquire(out var suppressed)) PeerManagerLog.UnknownPeer(_logger, connection.RemoteEndPoint, connection.LocalEndPoint, suppressed);
        _ = connection.DisposeAsync().AsTask();
    }

    private static NotificationMessage Cease(byte subcode) => new(BgpErrorCode.Cease, subcode, ReadOnlyMemory<byte>.Empty);

    private static NotificationMessage ShutdownCease(string communication)
    {
        var text = Utf8Text.TruncateToBytes(communication, NotificationCodec.MaxShutdownCommunicationLength);
        var data = new byte[text.Length == 0 ? 0 : text.Length + 1];
        if (text.Length > 0)
        {
            data[0] = (byte)text.Length;
            text.CopyTo(data, 1);
        }
        return new NotificationMessage(BgpErrorCode.Cease, CeaseSubcode.AdministrativeShutdown, data);
    }
}
