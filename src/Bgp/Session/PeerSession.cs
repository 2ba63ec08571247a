using BgpLb.Bgp.Bfd;
using BgpLb.Bgp.Fsm;
using BgpLb.Bgp.Rib;
using BgpLb.Bgp.Transport;
using BgpLb.Bgp.Wire;
using BgpLb.Logging;
using System.Net;
using Microsoft.Extensions.Logging;

namespace BgpLb.Bgp.Session;

/// <summary>
/// One configured neighbour: its Adj-RIB-Out, its counters, the active connect loop (with the reconnect backoff) and the live
/// connections (at most one outbound and one inbound during a collision, RFC 4271 §6.8).
/// Lock order: PeerManager._lock → PeerSession._lock → AdjRibOut._lock. Nothing awaits while holding <c>_lock</c>.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The token sources have no timers; Abort may run after the loop ends, so they are never disposed.")]
internal sealed class PeerSession
{
    private const int MaxConnections = 2;

    private readonly Lock _lock = new();
    private BgpSession? _established;
    private readonly List<BgpSession> _sessions = [];
    private readonly IBgpTransportFactory _transport;
    private readonly ILogger _logger;
    private readonly PeerBfd _bfd;
    private readonly CancellationTokenSource _lifetime = new();
    private readonly CancellationTokenSource _abort = new();
    private NotificationMessage? _stopCause;
    private BgpState _dialState = BgpState.Idle;
    private string? _lastError;
    private Task _run = Task.CompletedTask;
    private TaskCompletionSource _sessionsIdle = NewIdleSignal(completed: true);

    /// <param name="rib">The peer's Adj-RIB-Out, carried over from the session this one replaces (desired routes survive restarts).</param>
    public PeerSession(BgpPeerConfig config, AdjRibOut rib, RestartState restart, PeerManagerOptions options, IBgpTransportFactory transport,
        TimeProvider time, ILogger logger, BgpMetrics metrics, PeerBfd bfd)
    {
        _bfd = bfd;
        Config = config;
        Rib = rib;
        Restart = restart;
        Options = options;
        _transport = transport;
        Time = time;
        _logger = logger;
        Metrics = metrics;
        Label = $"{config.Address}:{config.Port}";
        AttributeErrorLog = new LogRateLimiter(time);
        NotificationLog = new LogRateLimiter(time);
    }

    /// <summary>Replaced (<see cref="Reconfigured"/>) only when nothing but the name or the BFD profile changed.</summary>
    public BgpPeerConfig Config { get; private set; }
    public PeerManagerOptions Options { get; }
    public TimeProvider Time { get; }
    public BgpMetrics Metrics { get; }
    /// <summary>The MetalLB metric label "ip:port".</summary>
    public string Label { get; }
    public AdjRibOut Rib { get; }
    public RestartState Restart { get; }
    public SessionCounters Counters { get; } = new();
    /// <summary>The peer's malformed attributes and NOTIFICATIONs are logged through these: a router can send them at will.</summary>
    public LogRateLimiter AttributeErrorLog { get; }
    public LogRateLimiter NotificationLog { get; }

    /// <summary>Starts the connect loop once <paramref name="predecessor"/> (the session this one replaces) has closed.</summary>
    public void Start(Task predecessor) => _run = RunAsync(predecessor);

    /// <summary>
    /// Sends <paramref name="cause"/> (a Cease) on every connection, stops connecting and completes when all are closed.
    /// With <paramref name="gracefulRestart"/> (the process stops) a session that negotiated graceful restart closes without it.
    /// </summary>
    public Task StopAsync(NotificationMessage cause, bool gracefulRestart = false)
    {
        List<BgpSession> sessions;
        lock (_lock)
        {
            _stopCause ??= cause;
            sessions = [.. _sessions];
        }
        _lifetime.Cancel();
        foreach (var session in sessions) session.RequestStop(cause, manual: true, gracefulRestart: gracefulRestart);
        return _run;
    }

    /// <summary>Closes connections without waiting for NOTIFICATIONs to drain (used when a stop exceeds its deadline).</summary>
    public void Abort()
    {
        _lifetime.Cancel();
        _abort.Cancel();
    }

    public void SetRoutes(IReadOnlyCollection<Route> routes)
    {
        if (Rib.SetDesired(routes)) RoutesChanged();
    }

    public void ChangeRoutes(IEnumerable<(IPNetwork Prefix, RouteAttributes? Attributes)> changes)
    {
        if (Rib.Set(changes)) RoutesChanged();
    }

    private void RoutesChanged()
    {
        lock (_lock)
        {
            foreach (var session in _sessions)
                if (session.State == BgpState.Established) session.RoutesChanged();
        }
        ReportPrefixes();
    }

    /// <summary>An inbound connection from this peer's address.</summary>
    public void AcceptInbound(BgpConnection connection)
    {
        byte rejection;
        lock (_lock)
        {
            if (_stopCause is not null) rejection = CeaseSubcode.PeerDeconfigured;
            else if (_established is not null) rejection = CeaseSubcode.ConnectionCollisionResolution;
            else if (_sessions.Count >= MaxConnections) rejection = CeaseSubcode.ConnectionRejected;
            else
            {
                Add(connection, outbound: false);
                return;
            }
        }
        var reason = NotificationNames.Subcode((byte)BgpErrorCode.Cease, rejection);
        SessionLog.RejectedInbound(_logger, Label, connection.RemoteEndPoint, reason);
        _ = RejectAsync(connection, rejection);
    }

    private static async Task RejectAsync(BgpConnection connection, byte ceaseSubcode)
    {
        try
        {
            NotificationCodec.Write(connection.Output, BgpErrorCode.Cease, ceaseSubcode, []);
            await connection.Output.FlushAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or System.Net.Sockets.SocketException)
        {
            // Closing anyway.
        }
        finally
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <returns>The started session, or null when it could not be created (the connection is then closed).</returns>
    private BgpSession? Add(BgpConnection connection, bool outbound)
    {
        BgpSession session;
        try
        {
            session = new BgpSession(this, connection, outbound, _logger);
        }
        catch (InvalidOperationException ex)
        {
            // No usable BGP identifier (no RouterId and no IPv4 address anywhere).
            SessionLog.SessionFailed(_logger, Label, ex);
            RecordError(ex.Message);
            _ = connection.DisposeAsync().AsTask();
            return null;
        }
        _sessions.Add(session);
        if (_sessions.Count == 1) _sessionsIdle = NewIdleSignal(completed: false);
        // BFD starts with the connection, before OPEN: after a restart the router's session from the previous process
        // then hears our Down (and goes down) before the new BGP session is Established, instead of resetting it.
        _bfd.Track(this, connection.LocalEndPoint.Address);
        session.Start(_abort.Token);
        return session;
    }

    private async Task RunAsync(Task predecessor)
    {
        await predecessor.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var backoff = ReconnectBackoff.Create(Time, Config.ConnectRetryTime, (attempt, delay) => SessionLog.Backoff(_logger, Label, attempt, delay));
        try
        {
            while (!_lifetime.IsCancellationRequested)
            {
                var outcome = await backoff.ExecuteAsync(static (self, ct) => self.AttemptAsync(ct), this, _lifetime.Token).ConfigureAwait(false);
                if (outcome == AttemptOutcome.Stopped) break;
                // An Established session ended: the backoff starts over, after one base delay of idle hold.
                await Task.Delay(ReconnectBackoff.BaseDelay, Time, _lifetime.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_lifetime.IsCancellationRequested)
        {
        }
        finally
        {
            SetDialState(BgpState.Idle);
        }
        Task idle;
        lock (_lock) idle = _sessionsIdle.Task;
        await idle.ConfigureAwait(false);
        // The peer is gone from this manager: its gauges must not keep showing prefixes.
        Metrics.Prefixes(Label, 0, 0);
    }

    private async ValueTask<AttemptOutcome> AttemptAsync(CancellationToken ct)
    {
        BgpSession? existing;
        lock (_lock) existing = _sessions.Count > 0 ? _sessions[0] : null;
        if (existing is not null) return await existing.Completion.ConfigureAwait(false);

        SetDialState(BgpState.Connect);
        BgpConnection connection;
        try
        {
            using var timeout = new CancellationTokenSource(Config.ConnectRetryTime, Time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token);
            connection = await _transport.ConnectAsync(Config, linked.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested && ex is not OutOfMemoryException)
        {
            SetDialState(BgpState.Active);
            var error = ex is OperationCanceledException ? "connect timed out" : ex.Message;
            SessionLog.ConnectFailed(_logger, Label, error);
            RecordError($"connect failed: {error}");
            return AttemptOutcome.Failed;
        }

        BgpSession? session;
        lock (_lock)
        {
            if (_stopCause is not null)
            {
                _ = connection.DisposeAsync().AsTask();
                return AttemptOutcome.Stopped;
            }
            session = Add(connection, outbound: true);
        }
        SetDialState(BgpState.Idle);
        return session is null ? AttemptOutcome.Failed : await session.Completion.ConfigureAwait(false);
    }

    private void SetDialState(BgpState state)
    {
        lock (_lock) _dialState = state;
    }

    /// <summary>
    /// Called by a session's loop when it has accepted an OPEN. Returns true when that connection must be closed now because
    /// of a collision (RFC 4271 §6.8). When the other connection loses instead, it yields (<see cref="BgpSession.Yielding"/>).
    /// </summary>
    public bool OnOpenReceived(BgpSession session, uint remoteId)
    {
        lock (_lock)
        {
            session.OpenReceived = true;
            var other = _sessions.Find(s => s != session && s.OpenReceived && s.State != BgpState.Idle);
            if (other is null) return false;
            // RFC 4271 §6.8: an Established connection wins. One the peer has not been heard on since may still be in
            // OpenConfirm at the peer, which then resolves by BGP identifier (BIRD and FRR do): so do we.
            if (other == _established && other.HeardSinceEstablished) return true;
            // The connection initiated by the speaker with the higher BGP identifier survives.
            if (session.Outbound != session.LocalBgpId > remoteId) return true;
            // The other connection loses by identifier, but the peer may already be Established on it (it has read our
            // KEEPALIVE) and then closes this one instead (BIRD and FRR do). So the other one is not closed yet: it gives way
            // when this one becomes Established (TryEstablish), and stays when this one closes first. Both ends keep the same.
            other.Yielding = true;
            var remote = BgpIdentifier.ToAddress(remoteId);
            SessionLog.CollisionYielding(_logger, Label, remote, session.Side, other.Side);
            return false;
        }
    }

    /// <summary>
    /// Called by a session's loop on the KEEPALIVE that would make it Established. At most one connection of a peer is
    /// Established at a time, since they share the Adj-RIB-Out: a collision winner takes over from the connection that
    /// yields to it, which is told to close. False when this connection must close instead.
    /// </summary>
    public bool TryEstablish(BgpSession session)
    {
        lock (_lock)
        {
            if (_established is { } current && current != session && (session.Yielding || !current.Yielding)) return false;
            if (!session.Yielding)
            {
                foreach (var other in _sessions)
                    if (other != session && other.Yielding) other.RequestCollisionDump();
            }
            _established = session;
            return true;
        }
    }

    /// <summary>
    /// The Adj-RIB-Out is shared by the peer's connections: only the Established one (<see cref="TryEstablish"/>) resets and
    /// takes it, atomically with that check, so that a connection that loses a collision while it syncs cannot take the
    /// changes the winner must send. Null (nothing to send) for any other connection.
    /// </summary>
    public RibChanges? TakeChanges(BgpSession session, bool reset, bool ipv4, bool ipv6, DateTimeOffset sentAt)
    {
        lock (_lock)
        {
            if (_established != session) return null;
            if (reset) Rib.ResetAdvertised();
            return Rib.TakeChanges(ipv4, ipv6, sentAt);
        }
    }

    public void OnStateChanged(BgpSession session, BgpState oldState, BgpState newState)
    {
        bool up;
        lock (_lock)
        {
            if (newState != BgpState.Established && _established == session) _established = null;
            up = _established is not null;
            // A collision winner that closes before it was ever Established (the peer kept the other connection): the
            // connection that yielded to it stays, with the Adj-RIB-Out it never stopped sending.
            if (newState == BgpState.Idle && oldState != BgpState.Established)
            {
                foreach (var other in _sessions)
                {
                    if (other == session || !other.Yielding) continue;
                    other.Yielding = false;
                    SessionLog.CollisionWinnerGone(_logger, Label, other.Side);
                }
            }
        }
        // The peer is up while one connection is its Established one: a collision loser that was Established a moment
        // and closes does not take the gauge down under the winner.
        if (newState == BgpState.Established || oldState == BgpState.Established)
        {
            Metrics.SessionUp(Label, up);
        }
    }

    /// <summary>The configuration changed in place (name or BFD profile): BFD follows at once when a connection is open.</summary>
    public void Reconfigured(BgpPeerConfig config)
    {
        Config = config;
        lock (_lock)
        {
            if (_sessions.Count > 0) _bfd.Track(this, _sessions[^1].LocalEndPoint.Address);
            else if (config.Bfd is null) _bfd.Untrack(this);
        }
    }

    /// <summary>BFD saw the path to this peer fail: every connection closes now with Cease/BFD Down and the peer reconnects.</summary>
    public void BfdDown(BfdDiagnostic diagnostic)
    {
        List<BgpSession> sessions;
        lock (_lock) sessions = [.. _sessions];
        var reason = $"BFD session down ({diagnostic})";
        SessionLog.BfdDown(_logger, Label, diagnostic);
        var cease = new NotificationMessage(BgpErrorCode.Cease, CeaseSubcode.BfdDown, ReadOnlyMemory<byte>.Empty);
        foreach (var session in sessions) session.RequestStop(cease, manual: false, reason);
    }

    public void OnClosed(BgpSession session)
    {
        lock (_lock)
        {
            _sessions.Remove(session);
            if (_sessions.Count == 0) _sessionsIdle.TrySetResult();
        }
        session.Dispose();
        // No Adj-RIB-Out reset here: every session resets it when it becomes Established. Resetting on close would wipe
        // what the surviving connection of a collision has already advertised (its later withdrawals would be lost).
        ReportPrefixes();
    }

    public void RecordError(string error)
    {
        lock (_lock) _lastError = error;
    }

    public void ReportPrefixes()
    {
        bool established;
        lock (_lock) established = _sessions.Any(s => s.State == BgpState.Established);
        // While no session is up nothing is advertised and every desired prefix waits.
        Metrics.Prefixes(Label, established ? Rib.AdvertisedCount : 0, established ? Rib.PendingCount : Rib.DesiredCount);
    }

    public PeerStatus Status()
    {
        lock (_lock)
        {
            var session = _sessions.Count == 0 ? null : _sessions.MaxBy(s => s.State);
            var negotiated = session?.Negotiated;
            var state = session?.State ?? _dialState;
            return new PeerStatus(
                Config.Key, Config.Name, state,
                state == BgpState.Established && session!.EstablishedAt is { } at ? Time.GetUtcNow() - at : null,
                negotiated is null ? null : TimeSpan.FromSeconds(negotiated.HoldTime),
                negotiated?.PeerAs,
                negotiated is null ? null : BgpIdentifier.ToAddress(negotiated.PeerBgpId),
                session?.LocalEndPoint.Address,
                state == BgpState.Established ? Rib.AdvertisedCount : 0,
                Counters.Snapshot(),
                _lastError,
                _bfd.StateOf(this));
        }
    }

    private static TaskCompletionSource NewIdleSignal(bool completed)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (completed) tcs.SetResult();
        return tcs;
    }
}
