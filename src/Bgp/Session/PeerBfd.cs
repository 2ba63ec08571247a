using System.Net;
using BgpLb.Bgp.Bfd;
using Microsoft.Extensions.Logging;

namespace BgpLb.Bgp.Session;

/// <summary>
/// BGP as a BFD client (RFC 5882). A peer with a BFD profile gets its BFD session when a connection with it opens (the
/// local address is known then) and keeps it while the peer is configured, across BGP resets. When
/// BFD goes from Up to Down the peer's BGP sessions close at once with Cease/BFD Down (RFC 9384) and reconnect by the
/// normal path; a remote that takes BFD administratively down (AdminDown) does not touch BGP (RFC 5882 §3.2). The
/// <see cref="BfdEndpoint"/> (sockets and thread) exists only once some peer uses BFD.
/// Lock order: PeerSession → this → BfdEndpoint; nothing here calls a PeerSession while holding <c>_lock</c>, and the
/// endpoint raises its events outside its own lock.
/// </summary>
internal sealed class PeerBfd : IDisposable
{
    private readonly Lock _lock = new();
    private readonly BfdEndpointOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly Dictionary<PeerSession, BfdPeer> _tracked = [];
    private BfdEndpoint? _endpoint;
    private bool _disposed;

    public PeerBfd(BfdEndpointOptions options, ILoggerFactory loggerFactory)
    {
        _options = options;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<PeerBfd>();
    }

    /// <summary>
    /// <paramref name="peer"/> has a connection from <paramref name="local"/> (again, or a new profile): starts or
    /// updates its BFD session, or ends it when the peer no longer has a profile.
    /// </summary>
    public void Track(PeerSession peer, IPAddress local)
    {
        var config = peer.Config;
        if (config.Bfd is not { } options)
        {
            Untrack(peer);
            return;
        }
        var wanted = new BfdPeer(config.Address, local, options) { MultiHop = config.EbgpMultiHop };
        lock (_lock)
        {
            if (_disposed || (_tracked.TryGetValue(peer, out var current) && current == wanted))
                return;
            if (Endpoint(peer) is not { } endpoint)
                return;
            try
            {
                endpoint.Set(wanted);
            }
            catch (System.Net.Sockets.SocketException ex)
            {
                // Retried at the peer's next connection; BGP itself goes on.
                SessionLog.BfdUnavailable(_logger, peer.Label, ex.Message);
                return;
            }
            _tracked[peer] = wanted;
        }
    }

    /// <summary>The peer is gone or has no profile: its BFD session ends (AdminDown) unless another peer at that address uses it.</summary>
    public void Untrack(PeerSession peer)
    {
        lock (_lock)
        {
            if (_tracked.TryGetValue(peer, out var current))
                UntrackUnsynchronized(peer, current);
        }
    }

    public BfdState? StateOf(PeerSession peer)
    {
        lock (_lock)
            return _tracked.TryGetValue(peer, out var bfd) ? _endpoint!.StateOf(bfd.Remote) : null;
    }

    public IReadOnlyList<BfdSessionStatus> Sessions()
    {
        lock (_lock)
            return _endpoint?.Sessions() ?? [];
    }

    public void Dispose()
    {
        BfdEndpoint? endpoint;
        lock (_lock)
        {
            _disposed = true;
            endpoint = _endpoint;
            _endpoint = null;
            _tracked.Clear();
        }
        endpoint?.Dispose(); // AdminDown to every remote: a stop is not a failure (RFC 5882 §3.2)
    }

    private void UntrackUnsynchronized(PeerSession peer, BfdPeer current)
    {
        _tracked.Remove(peer);
        var sharing = _tracked.Values.FirstOrDefault(b => b.Remote.Equals(current.Remote));
        if (sharing is null)
            _endpoint!.Remove(current.Remote);
        else
            _endpoint!.Set(sharing);
    }

    private BfdEndpoint? Endpoint(PeerSession peer)
    {
        if (_endpoint is not null)
            return _endpoint;
        try
        {
            _endpoint = new BfdEndpoint(_options, _loggerFactory.CreateLogger<BfdEndpoint>());
        }
        catch (System.Net.Sockets.SocketException ex)
        {
            // Retried at the peer's next connection; until then the peer runs on its hold timer alone, and says so.
            SessionLog.BfdUnavailable(_logger, peer.Label, ex.Message);
            return null;
        }
        _endpoint.StateChanged += OnStateChanged;
        return _endpoint;
    }

    /// <summary>On the BFD thread: must not block, so it only asks the affected sessions to stop.</summary>
    private void OnStateChanged(BfdStateChange change)
    {
        if (change.OldState != BfdState.Up || change.NewState != BfdState.Down || change.RemoteState == BfdState.AdminDown)
            return;
        List<PeerSession> peers;
        lock (_lock)
            peers = [.. _tracked.Where(t => t.Value.Remote.Equals(change.Remote)).Select(t => t.Key)];
        foreach (var peer in peers)
            peer.BfdDown(change.Diagnostic);
    }
}
