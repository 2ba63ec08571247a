using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using BgpLb.L2.Sockets;
using BgpLb.L2.Wire;
using Microsoft.Extensions.Logging;

namespace BgpLb.L2.Announcing;

/// <summary>
/// Answers ARP and NDP for the addresses this node owns, on the allowed interfaces only. Level-based:
/// <see cref="SetAnnouncements"/> states the whole owned set. A newly owned address is first probed (RFC 5227 ARP probe /
/// DAD-style NS); if another host answers it is reported in <see cref="Conflicts"/> and not announced. Otherwise the
/// responder starts answering and sends gratuitous ARP (request and reply) / unsolicited NA, repeated as configured.
/// A released address is not answered from the moment <see cref="SetAnnouncements"/> returns.
/// </summary>
/// <remarks>
/// Threads: one receive loop per (interface, protocol) reads <see cref="_table"/> (immutable, swapped atomically) and
/// reports probe answers to <see cref="AddressState.ReportProbeAnswer"/>. Everything else is guarded by <see cref="_gate"/>.
/// </remarks>
public sealed class L2Announcer : IAsyncDisposable
{
    private readonly L2AnnouncerOptions _options;
    private readonly ILinkLayer _linkLayer;
    private readonly TimeProvider _time;
    private readonly L2Metrics _metrics;
    private readonly ILogger _logger;
    private volatile Regex[] _excluded;
    private ImmutableArray<string> _excludedPatterns;
    private bool _started;
    private readonly Lock _gate = new();
    private readonly Dictionary<IPAddress, AddressState> _addresses = [];
    private readonly Dictionary<string, LinkSession> _links = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private volatile AnswerTable _table = AnswerTable.Empty;
    private Task _rescanLoop = Task.CompletedTask;
    private bool _stopped;

    public L2Announcer(L2AnnouncerOptions options, TimeProvider time, IMeterFactory meterFactory, ILogger<L2Announcer> logger)
        : this(options, new SystemLinkLayer(), time, meterFactory, logger)
    {
    }

    internal L2Announcer(L2AnnouncerOptions options, ILinkLayer linkLayer, TimeProvider time, IMeterFactory meterFactory, ILogger logger)
    {
        _options = options;
        _linkLayer = linkLayer;
        _time = time;
        _logger = logger;
        _excludedPatterns = options.ExcludedInterfacePatterns;
        _excluded = Compile(_excludedPatterns);
        _metrics = new L2Metrics(meterFactory, () => Conflicts.Select(c =>
            new Measurement<int>(1, new KeyValuePair<string, object?>("ip", c.Address.ToString()))));
    }

    /// <summary>
    /// Raised (on the address's task, outside any lock) when another host is first found answering for an owned address;
    /// not again while the conflict lasts.
    /// </summary>
    public event Action<AddressConflict>? ConflictDetected;

    /// <summary>Addresses currently probed by another host's answer and therefore not announced.</summary>
    public ImmutableArray<AddressConflict> Conflicts
    {
        get
        {
            lock (_gate)
                return [.. _addresses.Values.Select(a => a.ActiveConflict).OfType<AddressConflict>().OrderBy(c => c.Address.ToString(), StringComparer.Ordinal)];
        }
    }

    /// <summary>Addresses being answered for right now.</summary>
    public ImmutableArray<IPAddress> Announced => [.. Answering.Select(a => a.Address)];

    /// <summary>Addresses being answered for right now, each with when its last gratuitous ARP / unsolicited NA went out.</summary>
    public ImmutableArray<AnsweredAddress> Answering
    {
        get
        {
            lock (_gate)
                return [.. _addresses.Values.Where(a => a.Phase == AddressPhase.Announced).Select(a => new AnsweredAddress(a.Address, a.GratuitousSentAt))];
        }
    }

    /// <summary>Opens the responders on the current interfaces and starts rescanning them.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        Volatile.Write(ref _started, true);
        RefreshLinks();
        _rescanLoop = RescanLoopAsync(_stopping.Token);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Replaces the regular expressions of interface names never answered on (the metallb-excludel2 ConfigMap); once
    /// started, the responders follow at once: those of newly excluded interfaces close, the others open.
    /// </summary>
    public void SetExcludedInterfaces(ImmutableArray<string> patterns)
    {
        lock (_gate)
        {
            if (patterns.SequenceEqual(_excludedPatterns))
                return;
            _excludedPatterns = patterns;
            _excluded = Compile(patterns);
        }
        L2Log.ExcludedInterfaces(_logger, patterns.IsEmpty ? "none" : string.Join(", ", patterns));
        if (Volatile.Read(ref _started))
            RefreshLinks();
    }

    private static Regex[] Compile(ImmutableArray<string> patterns) => [.. patterns.Select(p => new Regex(p, RegexOptions.CultureInvariant))];

    /// <summary>The complete set of addresses this node owns now.</summary>
    public void SetAnnouncements(IReadOnlyCollection<L2Announcement> announcements)
    {
        var started = new List<AddressState>();
        lock (_gate)
        {
            if (_stopped)
                return;
            var wanted = announcements.ToDictionary(a => a.Address);
            foreach (var (address, state) in _addresses.Where(a => !wanted.ContainsKey(a.Key)).ToList())
            {
                _addresses.Remove(address);
                if (state.Phase == AddressPhase.Announced)
                    L2Log.Released(_logger, address);
                state.Cancel();
            }
            foreach (var announcement in wanted.Values)
            {
                if (_addresses.TryGetValue(announcement.Address, out var existing))
                {
                    existing.Interfaces = announcement.Interfaces;
                    continue;
                }
                var state = new AddressState(announcement.Address, announcement.Interfaces, _stopping.Token);
                _addresses.Add(announcement.Address, state);
                started.Add(state);
            }
            PublishUnsynchronized();
        }
        foreach (var state in started)
            state.Run = RunAddressAsync(state);
    }

    /// <summary>Stops answering for every address at once, then closes the sockets.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        List<Task> tasks;
        lock (_gate)
        {
            if (_stopped)
                return;
            _stopped = true;
            foreach (var (address, state) in _addresses)
            {
                if (state.Phase == AddressPhase.Announced)
                    L2Log.Released(_logger, address);
                state.Cancel();
            }
            tasks = [.. _addresses.Values.Select(a => a.Run), .. _links.Values.SelectMany(l => l.Loops), _rescanLoop];
            _addresses.Clear();
            PublishUnsynchronized();
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(tasks).WaitAsync(cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            foreach (var link in _links.Values)
                link.Dispose();
            _links.Clear();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task RescanLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.InterfaceRescanInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
                RefreshLinks();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Opens responders on new usable interfaces and closes those of interfaces that disappeared or changed.</summary>
    private void RefreshLinks()
    {
        var current = _linkLayer.Discover()
            .Where(l => (l.CanAnswerArp || l.CanAnswerNdp) && !_excluded.Any(r => r.IsMatch(l.Name)))
            .ToDictionary(l => l.Name, StringComparer.Ordinal);
        lock (_gate)
        {
            if (_stopped)
                return;
            foreach (var (name, session) in _links.Where(l => !current.TryGetValue(l.Key, out var info) || info != l.Value.Info).ToList())
            {
                L2Log.LinkClosed(_logger, name);
                session.Dispose();
                _links.Remove(name);
            }
            foreach (var info in current.Values.Where(l => !_links.ContainsKey(l.Name)))
            {
                var session = new LinkSession(info, _stopping.Token);
                session.Arp = Open(info, info.CanAnswerArp, _linkLayer.OpenArp);
                session.Ndp = Open(info, info.CanAnswerNdp, _linkLayer.OpenNdp);
                if (session.Arp is null && session.Ndp is null)
                    continue;
                if (session.Arp is { } arp)
                {
                    L2Log.ArpOpened(_logger, info.Name, info.Index, info.Mac);
                    session.Loops.Add(ReceiveLoopAsync(session, arp, ndp: false));
                }
                if (session.Ndp is { } ndp)
                {
                    L2Log.NdpOpened(_logger, info.Name, info.Index, info.Mac, info.LinkLocal);
                    session.Loops.Add(ReceiveLoopAsync(session, ndp, ndp: true));
                }
                _links.Add(info.Name, session);
            }
            PublishUnsynchronized();
        }
    }

    private IFrameChannel? Open(LinkInfo info, bool wanted, Func<LinkInfo, IFrameChannel> open)
    {
        if (!wanted)
            return null;
        try
        {
            return open(info);
        }
        catch (Exception e) when (e is SocketException or System.ComponentModel.Win32Exception or IOException)
        {
            L2Log.OpenFailed(_logger, info.Name, e.Message);
            return null;
        }
    }

    private async Task RunAddressAsync(AddressState state)
    {
        var cancellationToken = state.Token;
        try
        {
            await Task.Yield();
            var hadConflict = false;
            var answered = 0;
            while (_options.ProbeTimeout > TimeSpan.Zero)
            {
                SetPhase(state, AddressPhase.Probing);
                if (answered == 0)
                    L2Log.Probing(_logger, state.Address);
                SendToLinks(state, SendProbe);
                await Task.Delay(_options.ProbeTimeout, _time, cancellationToken).ConfigureAwait(false);
                if (state.TakeProbeAnswer() is not { } conflict)
                    break;
                if (++answered < _options.ProbeAttempts)
                    continue;
                answered = 0;
                lock (_gate)
                    state.ActiveConflict = conflict;
                SetPhase(state, AddressPhase.Conflict);
                L2Log.Conflict(_logger, state.Address, conflict.OtherHost, conflict.Interface, _options.ConflictRetryInterval);
                if (!hadConflict)
                    ConflictDetected?.Invoke(conflict);
                hadConflict = true;
                await Task.Delay(_options.ConflictRetryInterval, _time, cancellationToken).ConfigureAwait(false);
            }
            if (hadConflict)
                L2Log.ConflictResolved(_logger, state.Address);
            var links = SetPhase(state, AddressPhase.Announced);
            L2Log.Announcing(_logger, state.Address, links.Count == 0 ? "no interface" : string.Join(", ", links));
            for (var elapsed = TimeSpan.Zero; ; elapsed += _options.GratuitousInterval)
            {
                SendToLinks(state, SendGratuitous);
                if (elapsed + _options.GratuitousInterval >= _options.GratuitousDuration)
                    break;
                await Task.Delay(_options.GratuitousInterval, _time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Sets the phase (unless the address was released meanwhile) and returns the interfaces it applies to.</summary>
    private List<string> SetPhase(AddressState state, AddressPhase phase)
    {
        lock (_gate)
        {
            state.Token.ThrowIfCancellationRequested();
            state.Phase = phase;
            if (phase == AddressPhase.Announced)
                state.ActiveConflict = null;
            PublishUnsynchronized();
            return [.. _links.Values.Where(l => Allows(state, l)).Select(l => l.Info.Name)];
        }
    }

    private void SendToLinks(AddressState state, Action<AddressState, LinkSession, IFrameChannel> send)
    {
        List<(LinkSession Link, IFrameChannel Channel)> targets;
        lock (_gate)
        {
            targets = [.. _links.Values
                .Where(l => Allows(state, l))
                .Select(l => (l, state.IsIPv4 ? l.Arp : l.Ndp))
                .Where(t => t.Item2 is not null)
                .Select(t => (t.l, t.Item2!))];
        }
        foreach (var (link, channel) in targets)
            send(state, link, channel);
    }

    private void SendProbe(AddressState state, LinkSession link, IFrameChannel channel)
    {
        Span<byte> frame = stackalloc byte[L2Frames.MaxFrameLength];
        var length = state.IsIPv4
            ? L2Frames.WriteArp(frame, MacAddress.Broadcast, link.Info.Mac, L2Frames.Probe(link.Info.Mac, state.IPv4))
            : L2Frames.WriteNdp(frame, L2Frames.MulticastMac(L2Frames.SolicitedNodeMulticast(state.IPv6)), link.Info.Mac,
                L2Frames.DuplicateAddressProbe(state.IPv6));
        Send(link, channel, frame[..length]);
    }

    private void SendGratuitous(AddressState state, LinkSession link, IFrameChannel channel)
    {
        Span<byte> frame = stackalloc byte[L2Frames.MaxFrameLength];
        var mac = link.Info.Mac;
        if (state.IsIPv4)
        {
            var request = L2Frames.WriteArp(frame, MacAddress.Broadcast, mac, L2Frames.GratuitousRequest(mac, state.IPv4));
            GratuitousSent(state, Send(link, channel, frame[..request]));
            var reply = L2Frames.WriteArp(frame, MacAddress.Broadcast, mac, L2Frames.GratuitousReply(mac, state.IPv4));
            GratuitousSent(state, Send(link, channel, frame[..reply]));
        }
        else
        {
            var length = L2Frames.WriteNdp(frame, L2Frames.MulticastMac(L2Frames.AllNodes), mac,
                L2Frames.UnsolicitedAdvertisement(mac, link.LinkLocal, state.IPv6));
            GratuitousSent(state, Send(link, channel, frame[..length]));
        }
    }

    private void GratuitousSent(AddressState state, bool sent)
    {
        if (!sent) return;
        _metrics.GratuitousSent(state.Label);
        lock (_gate)
            state.GratuitousSentAt = _time.GetUtcNow();
    }

    private bool Send(LinkSession link, IFrameChannel channel, ReadOnlySpan<byte> frame)
    {
        try
        {
            channel.Send(frame);
            return true;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            L2Log.SendFailed(_logger, link.Info.Name, e.Message);
            return false;
        }
    }

    private async Task ReceiveLoopAsync(LinkSession link, IFrameChannel channel, bool ndp)
    {
        var cancellationToken = link.Token;
        var buffer = new byte[2048];
        try
        {
            await Task.Yield();
            while (true)
            {
                var length = await channel.ReceiveAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (ndp)
                    HandleNdp(link, channel, buffer.AsSpan(0, length));
                else
                    HandleArp(link, channel, buffer.AsSpan(0, length));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            if (!cancellationToken.IsCancellationRequested)
                L2Log.ReceiveFailed(_logger, link.Info.Name, e.Message);
        }
    }

    internal void HandleArp(LinkSession link, IFrameChannel channel, ReadOnlySpan<byte> frame)
    {
        var mac = link.Info.Mac;
        if (!EthernetHeader.TryRead(frame, out var ethernet) || ethernet.Source == mac
            || ethernet.EtherType != EthernetHeader.EtherTypeArp
            || !ArpPacket.TryRead(frame[EthernetHeader.Length..], out var arp) || arp.SenderHardware == mac)
            return;
        var table = _table;
        if (arp.SenderProtocol != 0 && table.ProbingV4.TryGetValue(arp.SenderProtocol, out var probed))
            probed.ReportProbeAnswer(link.Info.Name, arp.SenderHardware, _time.GetUtcNow());
        if (arp.Operation != ArpOperation.Request
            || !(ethernet.Destination.IsBroadcast || ethernet.Destination == mac)
            || !table.AnswerV4.TryGetValue((link.Info.Index, arp.TargetProtocol), out var label))
            return;
        _metrics.RequestReceived(label);
        Span<byte> reply = stackalloc byte[L2Frames.ArpFrameLength];
        L2Frames.WriteArp(reply, arp.SenderHardware, mac, L2Frames.Reply(arp, mac));
        if (Send(link, channel, reply))
        {
            _metrics.ResponseSent(label);
            if (_logger.IsEnabled(LogLevel.Trace))
                L2Log.Answered(_logger, label, arp.SenderHardware, link.Info.Name);
        }
    }

    internal void HandleNdp(LinkSession link, IFrameChannel channel, ReadOnlySpan<byte> frame)
    {
        var mac = link.Info.Mac;
        if (!EthernetHeader.TryRead(frame, out var ethernet) || ethernet.Source == mac
            || ethernet.EtherType != EthernetHeader.EtherTypeIPv6
            || !NdpPacket.TryRead(frame[EthernetHeader.Length..], out var ndp))
            return;
        var table = _table;
        if (ndp.Type == NdpMessageType.NeighborAdvertisement)
        {
            if (table.ProbingV6.TryGetValue(ndp.Target, out var probed))
                probed.ReportProbeAnswer(link.Info.Name, ndp.LinkLayerAddress ?? ethernet.Source, _time.GetUtcNow());
            return;
        }
        // MetalLB ignores solicitations without a source link-layer address; DAD probes never carry one.
        if (!(ethernet.Destination == mac || ethernet.Destination.IsMulticast)
            || (ndp.LinkLayerAddress is null && !ndp.IsDuplicateAddressDetection)
            || !table.AnswerV6.TryGetValue((link.Info.Index, ndp.Target), out var label))
            return;
        _metrics.RequestReceived(label);
        Span<byte> reply = stackalloc byte[L2Frames.MaxFrameLength];
        var destination = ndp.IsDuplicateAddressDetection ? L2Frames.MulticastMac(L2Frames.AllNodes) : ndp.LinkLayerAddress!.Value;
        var length = L2Frames.WriteNdp(reply, destination, mac, L2Frames.Advertisement(ndp, mac));
        if (Send(link, channel, reply[..length]))
        {
            _metrics.ResponseSent(label);
            if (_logger.IsEnabled(LogLevel.Trace))
                L2Log.Answered(_logger, label, destination, link.Info.Name);
        }
    }

    private static bool Allows(AddressState state, LinkSession link) =>
        (state.IsIPv4 ? link.Arp : link.Ndp) is not null
        && (state.Interfaces.IsDefaultOrEmpty || state.Interfaces.Contains(link.Info.Name));

    /// <summary>Rebuilds the table the receive loops read, and the NDP multicast memberships.</summary>
    private void PublishUnsynchronized()
    {
        var answerV4 = new Dictionary<(int, uint), string>();
        var answerV6 = new Dictionary<(int, UInt128), string>();
        var probingV4 = new Dictionary<uint, AddressState>();
        var probingV6 = new Dictionary<UInt128, AddressState>();
        foreach (var state in _addresses.Values)
        {
            if (state.Phase == AddressPhase.Probing)
            {
                if (state.IsIPv4)
                    probingV4[state.IPv4] = state;
                else
                    probingV6[state.IPv6] = state;
            }
            if (state.Phase != AddressPhase.Announced)
                continue;
            foreach (var link in _links.Values.Where(l => Allows(state, l)))
            {
                if (state.IsIPv4)
                    answerV4[(link.Info.Index, state.IPv4)] = state.Label;
                else
                    answerV6[(link.Info.Index, state.IPv6)] = state.Label;
            }
        }
        _table = new AnswerTable(answerV4.ToFrozenDictionary(), answerV6.ToFrozenDictionary(),
            probingV4.ToFrozenDictionary(), probingV6.ToFrozenDictionary());

        foreach (var link in _links.Values)
        {
            if (link.Ndp is null)
                continue;
            var groups = answerV6.Keys.Where(k => k.Item1 == link.Info.Index)
                .Select(k => L2Frames.SolicitedNodeMulticast(k.Item2)).ToHashSet();
            try
            {
                link.Ndp.SetMulticastGroups(groups);
            }
            catch (SocketException e)
            {
                L2Log.SendFailed(_logger, link.Info.Name, $"joining solicited-node groups: {e.Message}");
            }
        }
    }

    private sealed record AnswerTable(
        FrozenDictionary<(int Link, uint Address), string> AnswerV4,
        FrozenDictionary<(int Link, UInt128 Address), string> AnswerV6,
        FrozenDictionary<uint, AddressState> ProbingV4,
        FrozenDictionary<UInt128, AddressState> ProbingV6)
    {
        public static AnswerTable Empty { get; } = new(
            FrozenDictionary<(int, uint), string>.Empty, FrozenDictionary<(int, UInt128), string>.Empty,
            FrozenDictionary<uint, AddressState>.Empty, FrozenDictionary<UInt128, AddressState>.Empty);
    }

    internal enum AddressPhase
    {
        Pending,
        Probing,
        Conflict,
        Announced,
    }

    internal sealed class AddressState
    {
        private readonly CancellationTokenSource _cancellation;
        private AddressConflict? _probeAnswer;

        public AddressState(IPAddress address, ImmutableArray<string> interfaces, CancellationToken stopping)
        {
            Address = address;
            Interfaces = interfaces;
            Label = address.ToString();
            IsIPv4 = address.AddressFamily == AddressFamily.InterNetwork;
            if (IsIPv4)
                IPv4 = IPBits.ToUInt32(address);
            else
                IPv6 = IPBits.ToUInt128(address);
            _cancellation = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            Token = _cancellation.Token;
        }

        public IPAddress Address { get; }
        public string Label { get; }
        public bool IsIPv4 { get; }
        public uint IPv4 { get; }
        public UInt128 IPv6 { get; }
        public CancellationToken Token { get; }
        public Task Run { get; set; } = Task.CompletedTask;
        // Guarded by the announcer's gate.
        public ImmutableArray<string> Interfaces { get; set; }
        public AddressPhase Phase { get; set; }
        public AddressConflict? ActiveConflict { get; set; }
        public DateTimeOffset? GratuitousSentAt { get; set; }

        /// <summary>Called by receive loops: the first answer to the current probe wins.</summary>
        public void ReportProbeAnswer(string link, MacAddress other, DateTimeOffset now) =>
            Interlocked.CompareExchange(ref _probeAnswer, new AddressConflict(Address, link, other, now), null);

        public AddressConflict? TakeProbeAnswer() => Interlocked.Exchange(ref _probeAnswer, null);

        public void Cancel()
        {
            _cancellation.Cancel();
            Phase = AddressPhase.Pending;
        }
    }

    internal sealed class LinkSession : IDisposable
    {
        private readonly CancellationTokenSource _cancellation;

        public LinkSession(LinkInfo info, CancellationToken stopping)
        {
            Info = info;
            LinkLocal = info.LinkLocal is { } address ? IPBits.ToUInt128(address) : UInt128.Zero;
            _cancellation = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            Token = _cancellation.Token;
        }

        public LinkInfo Info { get; }
        public UInt128 LinkLocal { get; }
        public CancellationToken Token { get; }
        public IFrameChannel? Arp { get; set; }
        public IFrameChannel? Ndp { get; set; }
        public List<Task> Loops { get; } = [];

        public void Dispose()
        {
            _cancellation.Cancel();
            Arp?.Dispose();
            Ndp?.Dispose();
            _cancellation.Dispose();
        }
    }
}
