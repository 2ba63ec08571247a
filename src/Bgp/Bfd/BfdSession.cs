namespace BgpLb.Bgp.Bfd;

/// <summary>What a BFDProfile asks of one session. Intervals in microseconds, as on the wire.</summary>
public sealed record BfdSessionOptions
{
    public uint DesiredMinTxInterval { get; init; } = 300_000;
    public uint RequiredMinRxInterval { get; init; } = 300_000;
    public byte DetectMultiplier { get; init; } = 3;
    /// <summary>Send nothing until the remote system has sent something (RFC 5880 §6.1 passive role).</summary>
    public bool Passive { get; init; }
    /// <summary>Multi-hop sessions only: the lowest TTL / hop limit a packet may arrive with (RFC 5883 §5).</summary>
    public byte MinimumTtl { get; init; } = 254;
}

/// <summary>What a step of <see cref="BfdSession"/> asks its driver to do.</summary>
[Flags]
public enum BfdEffects
{
    None = 0,
    /// <summary><see cref="BfdSession.State"/> changed (see <see cref="BfdSession.LocalDiagnostic"/> for why).</summary>
    StateChanged = 1,
    /// <summary>Send <see cref="BfdSession.FinalPacket"/> now: the remote system polled (RFC 5880 §6.5).</summary>
    SendFinal = 2,
    /// <summary><see cref="BfdSession.TransmitInterval"/> or <see cref="BfdSession.DetectionTime"/> changed.</summary>
    TimersChanged = 4,
    /// <summary>Send <see cref="BfdSession.NextPacket"/> now rather than at the next interval (a state change or a new poll).</summary>
    SendNow = 8,
}

/// <summary>
/// One BFD session in asynchronous mode (RFC 5880 §6.8), as state and transitions without IO or clock: the driver
/// feeds it valid received packets (after <see cref="BfdControlPacket.TryRead"/> and the lookup by discriminator),
/// detection-time expiries and configuration changes, and it says what to send and how the timers run. Timer values
/// change through a Poll Sequence (§6.8.3): a slower transmission or a faster detection waits for the remote system's
/// Final, and the 1 s floor on transmission while the session is not Up is lifted the same way. No Demand mode, no
/// echo, no authentication.
/// </summary>
/// <remarks>Single owner: the driver's loop.</remarks>
public sealed class BfdSession
{
    /// <summary>RFC 5880 §6.8.3: at least this transmission interval while the session is not Up.</summary>
    public const uint SlowTxInterval = 1_000_000;

    private BfdSessionOptions _options;
    // Advertised in our packets.
    private uint _desiredMinTx;
    private uint _requiredMinRx;
    // Used for our own timers until the remote system has acknowledged the advertised values with a Final.
    private uint _activeDesiredMinTx;
    private uint _activeRequiredMinRx;
    private uint _remoteMinRx = 1; // §6.8.1: initialised to 1
    private uint _remoteDesiredMinTx;
    private byte _remoteDetectMultiplier;
    private bool _remoteDemand;

    public BfdSession(uint localDiscriminator, BfdSessionOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfZero(localDiscriminator);
        ArgumentNullException.ThrowIfNull(options);
        LocalDiscriminator = localDiscriminator;
        _options = options;
        _desiredMinTx = _activeDesiredMinTx = Math.Max(options.DesiredMinTxInterval, SlowTxInterval);
        _requiredMinRx = _activeRequiredMinRx = options.RequiredMinRxInterval;
    }

    public uint LocalDiscriminator { get; }
    public uint RemoteDiscriminator { get; private set; }
    public BfdState State { get; private set; } = BfdState.Down;
    public BfdState RemoteState { get; private set; } = BfdState.Down;
    public BfdDiagnostic LocalDiagnostic { get; private set; }
    public BfdSessionOptions Options => _options;

    /// <summary>A Poll Sequence is under way: our packets carry P until a Final comes back.</summary>
    public bool Polling { get; private set; }

    /// <summary>
    /// Whether periodic packets go out: not in the passive role before the remote system is known, not when it asked for
    /// none (RequiredMinRxInterval 0) or runs Demand mode with both sides Up (§6.8.7).
    /// </summary>
    public bool TransmitsPeriodically =>
        !(_options.Passive && RemoteDiscriminator == 0) && _remoteMinRx != 0 && !(_remoteDemand && State == BfdState.Up && RemoteState == BfdState.Up);

    /// <summary>The negotiated interval between our packets before jitter (§6.8.2), in microseconds.</summary>
    public uint TransmitInterval => Math.Max(_activeDesiredMinTx, _remoteMinRx);

    /// <summary>
    /// The Detection Time (§6.8.4) in microseconds: the remote multiplier times the slower of what we require and what it
    /// wants to send; 0 until a packet has come from the remote system.
    /// </summary>
    public uint DetectionTime => _remoteDetectMultiplier == 0 ? 0
        : (uint)Math.Min(uint.MaxValue, (ulong)_remoteDetectMultiplier * Math.Max(_activeRequiredMinRx, _remoteDesiredMinTx));

    /// <summary>The next periodic packet (P set while polling).</summary>
    public BfdControlPacket NextPacket => Packet(poll: Polling, final: false);

    /// <summary>The answer to a poll: F set, never P with it (§6.5).</summary>
    public BfdControlPacket FinalPacket => Packet(poll: false, final: true);

    /// <summary>A valid packet for this session arrived (§6.8.6 from "set bfd.RemoteDiscr" on).</summary>
    public BfdEffects Receive(in BfdControlPacket packet)
    {
        var timers = (TransmitInterval, DetectionTime);
        RemoteDiscriminator = packet.MyDiscriminator;
        RemoteState = packet.State;
        _remoteDemand = packet.Demand;
        _remoteMinRx = packet.RequiredMinRxInterval;
        _remoteDesiredMinTx = packet.DesiredMinTxInterval;
        _remoteDetectMultiplier = packet.DetectMultiplier;
        if (packet.Final && Polling)
        {
            Polling = false;
            _activeDesiredMinTx = _desiredMinTx;
            _activeRequiredMinRx = _requiredMinRx;
        }

        if (State == BfdState.AdminDown)
            return TimersChangedSince(timers); // §6.8.6: discarded here, a poll included
        var effects = packet.Poll ? BfdEffects.SendFinal : BfdEffects.None;
        var next = (State, packet.State) switch
        {
            (not BfdState.Down, BfdState.AdminDown) => BfdState.Down,
            (_, BfdState.AdminDown) => State,
            (BfdState.Down, BfdState.Down) => BfdState.Init,
            (BfdState.Down, BfdState.Init) => BfdState.Up,
            (BfdState.Init, BfdState.Init or BfdState.Up) => BfdState.Up,
            (BfdState.Up, BfdState.Down) => BfdState.Down,
            _ => State,
        };
        if (next != State)
            effects |= MoveTo(next, next == BfdState.Down ? BfdDiagnostic.NeighborSignaledSessionDown : BfdDiagnostic.None);
        return effects | TimersChangedSince(timers);
    }

    /// <summary>A Detection Time passed without a packet from the remote system (§6.8.4, §6.8.1).</summary>
    public BfdEffects DetectionTimeExpired()
    {
        var timers = (TransmitInterval, DetectionTime);
        RemoteDiscriminator = 0;
        _remoteMinRx = 1;
        _remoteDesiredMinTx = 0;
        _remoteDetectMultiplier = 0;
        _remoteDemand = false;
        var effects = State is BfdState.Init or BfdState.Up ? MoveTo(BfdState.Down, BfdDiagnostic.ControlDetectionTimeExpired) : BfdEffects.None;
        return effects | TimersChangedSince(timers);
    }

    /// <summary>Takes the session administratively down (diagnostic 7) or back to Down.</summary>
    public BfdEffects SetAdminDown(bool down)
    {
        var timers = (TransmitInterval, DetectionTime);
        var effects = down == (State == BfdState.AdminDown) ? BfdEffects.None
            : down ? MoveTo(BfdState.AdminDown, BfdDiagnostic.AdministrativelyDown)
            : MoveTo(BfdState.Down, BfdDiagnostic.None);
        return effects | TimersChangedSince(timers);
    }

    /// <summary>New profile values, negotiated with a Poll Sequence; the session stays as it is (§6.8.3).</summary>
    public BfdEffects Reconfigure(BfdSessionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var timers = (TransmitInterval, DetectionTime);
        _options = options;
        var effects = Advertise();
        return effects | TimersChangedSince(timers);
    }

    private BfdEffects MoveTo(BfdState state, BfdDiagnostic diagnostic)
    {
        State = state;
        LocalDiagnostic = diagnostic;
        return BfdEffects.StateChanged | BfdEffects.SendNow | Advertise();
    }

    /// <summary>
    /// Puts the intervals the options and state call for into our packets. A change starts a Poll Sequence when there is
    /// a remote system to answer it; what is safe at once (sending faster, detecting slower) applies at once, the rest
    /// with the Final.
    /// </summary>
    private BfdEffects Advertise()
    {
        var desiredMinTx = State == BfdState.Up ? _options.DesiredMinTxInterval : Math.Max(_options.DesiredMinTxInterval, SlowTxInterval);
        var requiredMinRx = _options.RequiredMinRxInterval;
        if (desiredMinTx == _desiredMinTx && requiredMinRx == _requiredMinRx)
            return BfdEffects.None;
        _desiredMinTx = desiredMinTx;
        _requiredMinRx = requiredMinRx;
        if (RemoteDiscriminator == 0 || State == BfdState.AdminDown)
        {
            _activeDesiredMinTx = desiredMinTx;
            _activeRequiredMinRx = requiredMinRx;
            Polling = false;
            return BfdEffects.None;
        }
        _activeDesiredMinTx = Math.Min(_activeDesiredMinTx, desiredMinTx);
        _activeRequiredMinRx = Math.Max(_activeRequiredMinRx, requiredMinRx);
        Polling = true;
        return BfdEffects.SendNow;
    }

    private BfdEffects TimersChangedSince((uint TransmitInterval, uint DetectionTime) before) =>
        before == (TransmitInterval, DetectionTime) ? BfdEffects.None : BfdEffects.TimersChanged;

    private BfdControlPacket Packet(bool poll, bool final) => new()
    {
        Diagnostic = LocalDiagnostic,
        State = State,
        Poll = poll,
        Final = final,
        DetectMultiplier = _options.DetectMultiplier,
        MyDiscriminator = LocalDiscriminator,
        YourDiscriminator = RemoteDiscriminator,
        DesiredMinTxInterval = _desiredMinTx,
        RequiredMinRxInterval = _requiredMinRx,
        RequiredMinEchoRxInterval = 0,
    };

    /// <summary>
    /// The wait before the next periodic packet (§6.8.7): the interval reduced by up to 25%, or to 75–90% of it with a
    /// detect multiplier of 1. <paramref name="random"/> is uniform in [0, 1).
    /// </summary>
    public static TimeSpan Jittered(uint intervalMicroseconds, byte detectMultiplier, double random)
    {
        var factor = detectMultiplier == 1 ? 0.9 - 0.15 * random : 1.0 - 0.25 * random;
        return TimeSpan.FromMicroseconds(intervalMicroseconds * factor);
    }
}
