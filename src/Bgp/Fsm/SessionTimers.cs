namespace BgpLb.Bgp.Fsm;

/// <summary>The timer values the FSM needs; <see cref="HoldTime"/> is the negotiated value once OPEN was received.</summary>
internal readonly record struct SessionTimers(TimeSpan ConnectRetry, TimeSpan HoldTime, TimeSpan Keepalive)
{
    /// <summary>RFC 4271 §8.2.2: "a large value", suggested 4 minutes, used while waiting for the peer's OPEN.</summary>
    public static readonly TimeSpan LargeHoldTime = TimeSpan.FromMinutes(4);

    /// <summary>A zero hold time disables both the hold and the keepalive timer (RFC 4271 §4.4).</summary>
    public bool HoldTimerEnabled => HoldTime > TimeSpan.Zero;
}
