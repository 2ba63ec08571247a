using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using BgpLb.Bgp.Fsm;
using BgpLb.Bgp.Rib;
using BgpLb.Bgp.Transport;
using BgpLb.Bgp.Wire;
using Microsoft.Extensions.Logging;

namespace BgpLb.Bgp.Session;

/// <summary>
/// One TCP connection to a peer with its own RFC 4271 FSM (collisions are resolved between two of these by <see cref="PeerSession"/>).
/// A single read loop (<see cref="RunAsync"/>) owns all state and is the only writer to the connection.
/// Fields other threads touch: <c>_signals</c> (Interlocked; timers, route changes, stop and collision requests set a bit and
/// cancel the pending read), <c>_stopCause</c>, <c>_stopRequested</c> and <c>_stopForRestart</c> (written before the stop bit
/// is set), and the status properties
/// <see cref="State"/>, <see cref="Negotiated"/>, <see cref="EstablishedAt"/> (single reference/volatile writes by the loop).
/// </summary>
internal sealed class BgpSession : IDisposable
{
    private const int HoldSignal = 1;
    private const int KeepaliveSignal = 2;
    private const int RoutesSignal = 4;
    private const int StopSignal = 8;
    private const int CollisionSignal = 16;
    private static readonly TimeSpan CloseFlushTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan MinSendHoldTime = TimeSpan.FromMinutes(8);
    /// <summary>Received bytes handled before the loop looks at its signals (as much as the receive pipe holds).</summary>
    internal const int MaxBytesPerRead = SocketBgpTransportFactory.ReceiveBufferBytes;

    private readonly PeerSession _peer;
    private readonly BgpConnection _connection;
    private readonly PipeWriter _output;
    private readonly ILogger _logger;
    private readonly SessionTimer _hold;
    private readonly SessionTimer _keepalive;
    private readonly LocalOpenPolicy _policy;
    private readonly Dictionary<(AddressFamily, RouteAttributes), EncodedPathAttributes> _encoded = [];
    private readonly string _label;

    private int _signals;
    private NotificationMessage? _stopCause;
    private string _stopReason = "stopped";
    private bool _stopRequested;
    private bool _stopForRestart;
    private volatile BgpState _state;
    private volatile NegotiatedSession? _negotiated;
    private DateTimeOffset? _establishedAt;
    private SessionTimers _timers;
    private TimeSpan _keepaliveInterval;
    private NextHops _nextHops;
    private int _maxLength = BgpConstants.MaxMessageLength;
    private bool _closing;
    private bool _endOfRibSent;
    private bool _unflushed;

    public BgpSession(PeerSession peer, BgpConnection connection, bool outbound, ILogger logger)
    {
        _peer = peer;
        _connection = connection;
        _output = connection.Output;
        _logger = logger;
        Outbound = outbound;
        _label = peer.Label;
        var config = peer.Config;
        _hold = new SessionTimer(peer.Time, () => Signal(HoldSignal));
        _keepalive = new SessionTimer(peer.Time, () => Signal(KeepaliveSignal));
        _state = outbound ? BgpState.Connect : BgpState.Active;
        _timers = new SessionTimers(config.ConnectRetryTime, config.HoldTime, config.KeepaliveTime ?? config.HoldTime / 3);
        LocalBgpId = BgpIdentifier.FromAddress(LocalAddresses.RouterId(config.RouterId, connection.LocalEndPoint.Address));
        AfiSafi[] families = config.DisableMP
            ? [config.Address.AddressFamily == AddressFamily.InterNetwork ? AfiSafi.IPv4Unicast : AfiSafi.IPv6Unicast]
            : [AfiSafi.IPv4Unicast, AfiSafi.IPv6Unicast];
        _policy = new LocalOpenPolicy
        {
            LocalAs = config.LocalAsn,
            PeerAs = config.PeerAsn,
            DynamicAsn = config.DynamicAsn,
            BgpId = LocalBgpId,
            HoldTime = (ushort)config.HoldTime.TotalSeconds,
            Families = families,
            HostName = config.Hostname,
            GracefulRestart = LocalGracefulRestart(config, peer, families),
        };
    }

    /// <summary>
    /// RFC 4724 §3. Without <see cref="BgpPeerConfig.GracefulRestart"/>: helper only (no Restart State, no family). With it:
    /// forwarding state preserved for every family we offer (the routes live in the node's kernel and survive a restart of
    /// this process), and Restart State until this process has had a session with the peer.
    /// </summary>
    private static GracefulRestartCapability LocalGracefulRestart(BgpPeerConfig config, PeerSession peer, IReadOnlyList<AfiSafi> families)
    {
        var restartTime = (ushort)peer.Options.GracefulRestartTime.TotalSeconds;
        if (!config.GracefulRestart) return new GracefulRestartCapability(0, restartTime, []);
        var flags = peer.Restart.IsRestarting(config.Key) ? GracefulRestartCapability.RestartStateFlag : (byte)0;
        return new GracefulRestartCapability(flags, restartTime,
            [.. families.Select(f => new GracefulRestartFamily(f, GracefulRestartCapability.ForwardingStatePreserved))]);
    }

    public bool Outbound { get; }
    public string Side => Outbound ? "outbound" : "inbound";
    public uint LocalBgpId { get; }
    public BgpState State => _state;
    public NegotiatedSession? Negotiated => _negotiated;
    public DateTimeOffset? EstablishedAt => _establishedAt;
    public IPEndPoint LocalEndPoint => _connection.LocalEndPoint;
    public IPEndPoint RemoteEndPoint => _connection.RemoteEndPoint;
    /// <summary>Set by <see cref="PeerSession"/> under its lock once this connection has received a valid OPEN.</summary>
    public bool OpenReceived { get; set; }

    /// <summary>
    /// Set by <see cref="PeerSession"/> under its lock while this connection has lost a collision by BGP identifier: it may
    /// still become (or stay) Established and send, until the winner becomes Established (then this one closes) or closes.
    /// </summary>
    public bool Yielding { get; set; }

    private volatile bool _heardSinceEstablished;

    /// <summary>
    /// Whether a message arrived after this connection became Established: before that the peer may still be in OpenConfirm
    /// on it (our KEEPALIVE not yet read) and resolve a collision by BGP identifier.
    /// </summary>
    public bool HeardSinceEstablished => _heardSinceEstablished;
    public Task<AttemptOutcome> Completion { get; private set; } = Task.FromResult(AttemptOutcome.Failed);

    public void Start(CancellationToken abort) => Completion = RunAsync(abort);


    /// <summary>
    /// Asks the loop to send Cease with <paramref name="cause"/> and close: ManualStop ends the peer; AutomaticStop (not
    /// <paramref name="manual"/>, for <paramref name="reason"/>) closes this connection and the peer reconnects.
    /// With <paramref name="gracefulRestart"/> an Established session that negotiated graceful restart closes without the
    /// NOTIFICATION (RFC 4724 §4: the peer then keeps our routes as stale until we are back or the restart time passes).
    /// </summary>
    public void RequestStop(NotificationMessage cause, bool manual, string reason = "stopped", bool gracefulRestart = false)
    {
        _stopCause = cause;
        _stopReason = reason;
        Volatile.Write(ref _stopRequested, manual);
        Volatile.Write(ref _stopForRestart, gracefulRestart);
        Signal(StopSignal);
    }

    public void RequestCollisionDump() => Signal(CollisionSignal);

    public void RoutesChanged() => Signal(RoutesSignal);

    private void Signal(int signal)
    {
        Interlocked.Or(ref _signals, signal);
        try
        {
            _connection.Input.CancelPendingRead();
        }
        catch (InvalidOperationException)
        {
            // The reader was completed: the loop is gone and the signal is moot.
        }
    }

    private async Task<AttemptOutcome> RunAsync(CancellationToken abort)
    {
        await Task.Yield();
        var input = _connection.Input;
        var stopped = false;
        try
        {
            Fire(Outbound ? BgpEvent.TcpCRAcked : BgpEvent.TcpConnectionConfirmed, null, Outbound ? "connected" : "accepted");
            await FlushAsync(abort).ConfigureAwait(false);
            while (!_closing)
            {
                var result = await input.ReadAsync(abort).ConfigureAwait(false);
                var buffer = result.Buffer;
                var more = false;
                try
                {
                    more = ReadMessages(ref buffer);
                    if (result.IsCompleted && !more && !_closing) Fire(BgpEvent.TcpConnectionFails, null, "connection closed by peer");
                }
                finally
                {
                    // With messages left, nothing counts as examined, so the next read returns them at once.
                    input.AdvanceTo(buffer.Start, more ? buffer.Start : buffer.End);
                }
                stopped |= ProcessSignals();
                await FlushAsync(abort).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            stopped = true;
            SetState(BgpState.Idle, "aborted");
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            _peer.RecordError($"connection error: {ex.Message}");
            _closing = true;
            SetState(BgpState.Idle, $"connection error: {ex.Message}");
        }
        catch (Exception ex)
        {
            // A bug must not kill the peer's connect loop: log it, close this connection and let the backoff retry.
            SessionLog.SessionFailed(_logger, _label, ex);
            _peer.RecordError($"internal error: {ex.Message}");
            _closing = true;
            SetState(BgpState.Idle, "internal error");
        }
        finally
        {
            _hold.Stop();
            _keepalive.Stop();
            await CloseAsync().ConfigureAwait(false);
            _peer.OnClosed(this);
        }
        return stopped ? AttemptOutcome.Stopped : _establishedAt is null ? AttemptOutcome.Failed : AttemptOutcome.WasEstablished;
    }

    private async Task CloseAsync()
    {
        try
        {
            if (_unflushed)
            {
                using var timeout = new CancellationTokenSource(CloseFlushTimeout, _peer.Time);
                await _output.FlushAsync(timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or InvalidOperationException)
        {
            // The NOTIFICATION could not be delivered; the connection is closed regardless.
        }
        await _connection.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Flushes queued messages. A flush that cannot complete because the peer stops reading is bounded by the RFC 9687 send
    /// hold timer (the receive hold timer cannot fire while the loop waits here); on expiry the connection is dropped.
    /// </summary>
    private async ValueTask FlushAsync(CancellationToken abort)
    {
        if (!_unflushed) return;
        _unflushed = false;
        var flush = _output.FlushAsync(abort);
        FlushResult result;
        if (flush.IsCompletedSuccessfully)
        {
            result = flush.Result;
        }
        else
        {
            try
            {
                result = await flush.AsTask().WaitAsync(SendHoldTime, _peer.Time, abort).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                SessionLog.SendHoldTimerExpired(_logger, _label, SendHoldTime);
                _peer.RecordError("send hold timer expired");
                _closing = true;
                SetState(BgpState.Idle, "send hold timer expired");
                return;
            }
        }
        if (result.IsCompleted && !_closing) Fire(BgpEvent.TcpConnectionFails, null, "connection closed by peer");
    }

    /// <summary>RFC 9687: at least 8 minutes, and at least twice the hold time.</summary>
    private TimeSpan SendHoldTime
    {
        get
        {
            var twiceHold = 2 * _timers.HoldTime;
            return twiceHold > MinSendHoldTime ? twiceHold : MinSendHoldTime;
        }
    }

    /// <summary>
    /// Handles the whole messages in <paramref name="buffer"/>, or the first <see cref="MaxBytesPerRead"/> of them, so that
    /// however much a peer sends (a full table), the timers and signals get their turn in between: our KEEPALIVEs go out
    /// while the stream lasts.
    /// </summary>
    /// <returns>Whether it stopped with bytes left that may hold whole messages.</returns>
    private bool ReadMessages(ref ReadOnlySequence<byte> buffer)
    {
        var start = buffer.Length;
        try
        {
            while (!_closing && BgpFraming.TryReadMessage(ref buffer, _maxLength, out var type, out var body))
            {
                if (_logger.IsEnabled(LogLevel.Trace)) SessionLog.MessageReceived(_logger, _label, type, body.Length + BgpConstants.HeaderLength);
                _peer.Counters.MessageReceived();
                HandleMessage(type, body);
                if (start - buffer.Length >= MaxBytesPerRead) return !_closing && !buffer.IsEmpty;
            }
        }
        catch (BgpNotificationException ex)
        {
            var evt = ex.Code switch
            {
                BgpErrorCode.MessageHeader => BgpEvent.BGPHeaderErr,
                BgpErrorCode.Open => BgpEvent.BGPOpenMsgErr,
                _ => BgpEvent.UpdateMsgErr,
            };
            Fire(evt, ex.ToNotification(), $"{(byte)ex.Code}/{ex.Subcode} {NotificationNames.Subcode((byte)ex.Code, ex.Subcode)}");
        }
        return false;
    }

    private void HandleMessage(BgpMessageType type, in ReadOnlySequence<byte> body)
    {
        if (!_heardSinceEstablished && _state == BgpState.Established) _heardSinceEstablished = true;
        switch (type)
        {
            case BgpMessageType.Open:
                _peer.Metrics.OpenReceived(_label);
                if (_state == BgpState.OpenSent) HandleOpen(OpenCodec.Read(body));
                else Fire(BgpEvent.BGPOpen, null, "unexpected OPEN");
                break;
            case BgpMessageType.Keepalive:
                _peer.Metrics.KeepaliveReceived(_label);
                if (_state == BgpState.OpenConfirm && !_peer.TryEstablish(this)) DumpForCollision();
                else Fire(BgpEvent.KeepAliveMsg, null, "KEEPALIVE received");
                break;
            case BgpMessageType.Update:
                _peer.Metrics.UpdateReceived(_label);
                _peer.Counters.UpdateReceived();
                if (Fire(BgpEvent.UpdateMsg, null, "unexpected UPDATE").Has(FsmActions.ProcessUpdate)) HandleUpdate(body);
                break;
            case BgpMessageType.Notification:
                _peer.Metrics.OtherReceived(_label);
                HandleNotification(NotificationCodec.Read(body));
                break;
            case BgpMessageType.RouteRefresh:
                _peer.Metrics.OtherReceived(_label);
                if (Fire(BgpEvent.RouteRefreshMsg, null, "unexpected ROUTE-REFRESH").Has(FsmActions.ProcessRouteRefresh))
                    HandleRouteRefresh(RouteRefreshCodec.Read(body));
                break;
        }
    }

    private void HandleOpen(OpenMessage open)
    {
        var negotiated = OpenNegotiation.Negotiate(open, _policy);
        _negotiated = negotiated;
        _maxLength = negotiated.MaxMessageLength;
        var hold = TimeSpan.FromSeconds(negotiated.HoldTime);
        var keepalive = TimeSpan.FromSeconds(negotiated.KeepaliveTime);
        _keepaliveInterval = _peer.Config.KeepaliveTime is { } configured && configured < keepalive && configured > TimeSpan.Zero ? configured : keepalive;
        _timers = _timers with { HoldTime = hold, Keepalive = _keepaliveInterval };
        var remoteId = BgpIdentifier.ToAddress(negotiated.PeerBgpId);
        SessionLog.Negotiated(_logger, _label, negotiated.PeerAs, remoteId, negotiated.HoldTime, negotiated.Families, LocalEndPoint);
        if (_peer.OnOpenReceived(this, negotiated.PeerBgpId)) DumpForCollision();
        else Fire(BgpEvent.BGPOpen, null, "OPEN received");
    }

    private void DumpForCollision()
    {
        var remoteId = BgpIdentifier.ToAddress(_negotiated?.PeerBgpId ?? 0);
        SessionLog.Collision(_logger, _label, remoteId, Side);
        Fire(BgpEvent.OpenCollisionDump, null, "connection collision");
    }

    private void HandleUpdate(in ReadOnlySequence<byte> body)
    {
        // Received routes are only validated and counted, never kept (there is no Adj-RIB-In): this speaker does not use
        // them, so a full table costs the time to parse it and no memory.
        var update = UpdateDecoder.Decode(body, _negotiated!.DecodeContext with { DiscardPrefixes = true });
        foreach (var error in update.Errors)
        {
            _peer.Counters.AttributeError();
            if (_peer.AttributeErrorLog.TryAcquire(out var suppressed)) SessionLog.AttributeError(_logger, _label, error.Type, error.Action, error.Reason, suppressed);
        }
    }

    private void HandleNotification(NotificationMessage notification)
    {
        var code = (byte)notification.Code;
        var text = notification.ShutdownCommunication ?? "";
        if (_peer.NotificationLog.TryAcquire(out var suppressed))
            SessionLog.NotificationReceived(_logger, _label, code, notification.Subcode, NotificationNames.Code(code),
                NotificationNames.Subcode(code, notification.Subcode), text, suppressed);
        var reason = $"NOTIFICATION received {code}/{notification.Subcode} {NotificationNames.Subcode(code, notification.Subcode)} {text}".TrimEnd();
        _peer.RecordError(reason);
        var versionError = notification.Code == BgpErrorCode.Open && notification.Subcode == OpenSubcode.UnsupportedVersion;
        Fire(versionError ? BgpEvent.NotifMsgVerErr : BgpEvent.NotifMsg, null, reason);
    }

    private void HandleRouteRefresh(RouteRefreshMessage request)
    {
        // RFC 7313 §4: BoRR/EoRR from the peer and unknown subtypes ask nothing of us.
        if (request.Subtype != RouteRefreshSubtype.Normal || !_negotiated!.Families.Contains(request.Family)) return;
        var family = request.Family.Afi == Afi.IPv4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
        SyncRoutes();
        var groups = _peer.Rib.Advertised(family);
        var count = groups.Sum(g => g.Prefixes.Count);
        SessionLog.RouteRefresh(_logger, _label, request.Family, request.Subtype, count);
        var enhanced = _negotiated.EnhancedRouteRefresh;
        if (enhanced) WriteRouteRefresh(new RouteRefreshMessage(request.Family, RouteRefreshSubtype.BeginningOfRouteRefresh));
        var (updates, announced) = WriteAnnouncements(groups);
        _peer.Counters.UpdatesSent(updates, announced, 0);
        _peer.Metrics.UpdatesSent(_label, updates);
        if (enhanced) WriteRouteRefresh(new RouteRefreshMessage(request.Family, RouteRefreshSubtype.EndOfRouteRefresh));
    }

    /// <returns>True when a stop request was processed.</returns>
    private bool ProcessSignals()
    {
        var signals = Interlocked.Exchange(ref _signals, 0);
        var stopped = false;
        if ((signals & StopSignal) != 0 && !_closing)
        {
            // Only a manual stop ends the peer; after an automatic one (e.g. BFD Down) it reconnects.
            stopped = Volatile.Read(ref _stopRequested);
            var keepRoutes = Volatile.Read(ref _stopForRestart) && _state == BgpState.Established
                && _peer.Config.GracefulRestart && _negotiated!.PeerGracefulRestart is not null;
            if (keepRoutes) SessionLog.ClosingForRestart(_logger, _label, _policy.GracefulRestart!.RestartTime);
            Fire(stopped ? BgpEvent.ManualStop : BgpEvent.AutomaticStop, keepRoutes ? null : _stopCause,
                keepRoutes ? "stopped for graceful restart" : stopped ? "stopped" : _stopReason);
        }
        // The connection this one yielded to is Established and has taken over the Adj-RIB-Out.
        if ((signals & CollisionSignal) != 0 && !_closing) DumpForCollision();
        if ((signals & HoldSignal) != 0 && !_closing && _hold.IsDue()) Fire(BgpEvent.HoldTimerExpires, null, "hold timer expired");
        if ((signals & KeepaliveSignal) != 0 && !_closing && _keepalive.IsDue()) Fire(BgpEvent.KeepaliveTimerExpires, null, "keepalive timer");
        // A collision loser syncs nothing once the winner took over: PeerSession.TakeChanges gives the Adj-RIB-Out to the
        // peer's Established connection only.
        if ((signals & RoutesSignal) != 0 && !_closing && _state == BgpState.Established) SyncRoutes();
        return stopped;
    }

    private Transition Fire(BgpEvent evt, NotificationMessage? cause, string reason)
    {
        var t = BgpFsm.Next(_state, evt, _timers);
        if (t.Has(FsmActions.SendNotification)) WriteNotification(new NotificationMessage((BgpErrorCode)t.ErrorCode, t.ErrorSubcode, default));
        if (t.Has(FsmActions.SendCauseNotification) && cause is not null) WriteNotification(cause);
        if (t.Has(FsmActions.SendOpen)) WriteOpen();
        if (t.Has(FsmActions.SendKeepalive)) WriteKeepalive();
        if (t.Has(FsmActions.StopHoldTimer)) _hold.Stop();
        if (t.Has(FsmActions.StopKeepaliveTimer)) _keepalive.Stop();
        if (t.Has(FsmActions.StartHoldTimer)) _hold.Start(t.HoldTimer);
        if (t.Has(FsmActions.StartKeepaliveTimer)) _keepalive.Start(_keepaliveInterval);
        if (t.Has(FsmActions.DropConnection)) _closing = true;
        SetState(t.State, reason);
        if (t.Has(FsmActions.SessionEstablished)) OnEstablished();
        return t;
    }

    private void SetState(BgpState state, string reason)
    {
        var old = _state;
        if (old == state) return;
        _state = state;
        SessionLog.StateChanged(_logger, _label, old, state, reason);
        _peer.OnStateChanged(this, old, state);
    }

    private void OnEstablished()
    {
        _establishedAt = _peer.Time.GetUtcNow();
        _peer.Restart.Established(_peer.Config.Key);
        _nextHops = LocalAddresses.Resolve(LocalEndPoint.Address);
        SyncRoutes(reset: true);
    }

    /// <summary>Sends the pending Adj-RIB-Out differences (withdrawals first), then End-of-RIB after the first sync.</summary>
    /// <param name="reset">On becoming Established: everything desired is sent again.</param>
    private void SyncRoutes(bool reset = false)
    {
        var negotiated = _negotiated!;
        var ipv4 = negotiated.Families.Contains(AfiSafi.IPv4Unicast) && HasNextHop(_nextHops.IPv4, "IPv4");
        var ipv6 = negotiated.Families.Contains(AfiSafi.IPv6Unicast) && HasNextHop(_nextHops.IPv6, "IPv6");
        // Null: the winner of a collision took over from this connection meanwhile and this one is about to close.
        if (_peer.TakeChanges(this, reset, ipv4, ipv6, _peer.Time.GetUtcNow()) is not { } changes) return;
        var updates = 0;
        if (!changes.IsEmpty)
        {
            updates += WriteWithdrawals(changes.Withdrawn.FindAll(p => p.BaseAddress.AddressFamily == AddressFamily.InterNetwork), AddressFamily.InterNetwork);
            updates += WriteWithdrawals(changes.Withdrawn.FindAll(p => p.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6), AddressFamily.InterNetworkV6);
            var (announcementUpdates, announced) = WriteAnnouncements(changes.Announced);
            updates += announcementUpdates;
            _peer.Counters.UpdatesSent(updates, announced, changes.Withdrawn.Count);
            _peer.Metrics.UpdatesSent(_label, updates);
            SessionLog.Synced(_logger, _label, changes.Withdrawn.Count, announced, updates);
        }
        if (!_endOfRibSent)
        {
            _endOfRibSent = true;
            foreach (var family in negotiated.Families)
            {
                UpdateWriter.WriteEndOfRib(_output, family.Afi == Afi.IPv4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6);
                _unflushed = true;
                _peer.Counters.UpdatesSent(1, 0, 0);
                _peer.Metrics.UpdatesSent(_label, 1);
            }
        }
        _peer.ReportPrefixes();
    }

    private bool HasNextHop(IPAddress? nextHop, string family)
    {
        if (nextHop is not null) return true;
        SessionLog.NoNextHop(_logger, _label, family, LocalEndPoint.Address);
        return false;
    }

    private int WriteWithdrawals(List<IPNetwork> prefixes, AddressFamily family)
    {
        var updates = 0;
        var rest = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(prefixes);
        while (!rest.IsEmpty)
        {
            rest = rest[UpdateWriter.WriteWithdrawals(_output, family, rest, _maxLength)..];
            updates++;
        }
        UpdatesWritten(updates);
        return updates;
    }

    private (int Updates, int Prefixes) WriteAnnouncements(List<RouteGroup> groups)
    {
        int updates = 0, prefixes = 0;
        foreach (var group in groups)
        {
            var attributes = Encoded(group.Family, group.Attributes);
            var rest = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(group.Prefixes);
            prefixes += rest.Length;
            while (!rest.IsEmpty)
            {
                rest = rest[UpdateWriter.WriteAnnouncements(_output, attributes, rest, _maxLength)..];
                updates++;
            }
        }
        UpdatesWritten(updates);
        return (updates, prefixes);
    }

    /// <summary>RFC 4271 §8.2.2: sending an UPDATE restarts the KeepaliveTimer (when it runs at all).</summary>
    private void UpdatesWritten(int updates)
    {
        if (updates == 0) return;
        _unflushed = true;
        if (_keepalive.Running) _keepalive.Start(_keepaliveInterval);
    }

    /// <summary>The pre-encoded attribute block for one attribute set, cached for the life of the session.</summary>
    private EncodedPathAttributes Encoded(AddressFamily family, RouteAttributes attributes)
    {
        if (_encoded.TryGetValue((family, attributes), out var encoded)) return encoded;
        var negotiated = _negotiated!;
        var v4 = family == AddressFamily.InterNetwork;
        encoded = EncodedPathAttributes.Create(new PathAttributeSet
        {
            AsPath = negotiated.IsInternal ? [] : [_peer.Config.LocalAsn],
            NextHop = v4 ? _nextHops.IPv4! : _nextHops.IPv6!,
            LinkLocalNextHop = v4 ? null : _nextHops.IPv6LinkLocal,
            LocalPref = negotiated.IsInternal ? attributes.LocalPref ?? 100 : null,
            Communities = attributes.Communities,
            LargeCommunities = attributes.LargeCommunities,
            FourOctetAs = negotiated.FourOctetAs,
        });
        _encoded[(family, attributes)] = encoded;
        return encoded;
    }

    private void WriteOpen()
    {
        OpenCodec.Write(_output, _policy.ToOpenMessage());
        Sent(BgpMessageType.Open);
        _peer.Metrics.OpenSent(_label);
    }

    private void WriteKeepalive()
    {
        KeepaliveCodec.Write(_output);
        Sent(BgpMessageType.Keepalive);
        _peer.Metrics.KeepaliveSent(_label);
    }

    private void WriteRouteRefresh(RouteRefreshMessage message)
    {
        RouteRefreshCodec.Write(_output, message);
        Sent(BgpMessageType.RouteRefresh);
        _peer.Metrics.RouteRefreshSent(_label);
    }

    private void WriteNotification(NotificationMessage notification)
    {
        NotificationCodec.Write(_output, notification.Code, notification.Subcode, notification.Data.Span, _maxLength);
        Sent(BgpMessageType.Notification);
        _peer.Metrics.NotificationSent(_label);
        var code = (byte)notification.Code;
        var text = notification.ShutdownCommunication ?? "";
        SessionLog.NotificationSent(_logger, _label, code, notification.Subcode, NotificationNames.Code(code), NotificationNames.Subcode(code, notification.Subcode), text);
        _peer.RecordError($"NOTIFICATION sent {code}/{notification.Subcode} {NotificationNames.Subcode(code, notification.Subcode)} {text}".TrimEnd());
    }

    private void Sent(BgpMessageType type)
    {
        _unflushed = true;
        _peer.Counters.MessageSent();
        if (_logger.IsEnabled(LogLevel.Trace)) SessionLog.MessageSent(_logger, _label, type);
    }

    public void Dispose()
    {
        _hold.Dispose();
        _keepalive.Dispose();
    }
}
