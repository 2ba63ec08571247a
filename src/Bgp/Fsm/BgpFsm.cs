namespace BgpLb.Bgp.Fsm;

/// <summary>
/// RFC 4271 §8.2.2 as a pure function. Choices: no DelayOpen, no peer oscillation damping (the driver's idle-hold backoff
/// replaces it), SendNOTIFICATIONwithoutOPEN is true, and each TCP connection has its own FSM, so collision handling between
/// two connections happens in the driver and reaches the FSM as <see cref="BgpEvent.OpenCollisionDump"/>.
/// Unexpected messages get the RFC 6608 FSM Error subcodes.
/// </summary>
internal static class BgpFsm
{
    private const byte HoldTimerExpiredCode = 4;
    private const byte FsmErrorCode = 5;
    private const byte CeaseCode = 6;
    private const byte ConnectionCollisionResolution = 7;

    private const FsmActions CloseConnection = FsmActions.StopConnectRetryTimer | FsmActions.StopHoldTimer | FsmActions.StopKeepaliveTimer
        | FsmActions.ReleaseResources | FsmActions.DropConnection;

    private const FsmActions CloseAfterError = CloseConnection | FsmActions.IncrementConnectRetryCounter;

    public static Transition Next(BgpState state, BgpEvent evt, in SessionTimers timers) => state switch
    {
        BgpState.Idle => Idle(evt),
        BgpState.Connect => Connect(evt),
        BgpState.Active => Active(evt),
        BgpState.OpenSent => OpenSent(evt, timers),
        BgpState.OpenConfirm => OpenConfirm(evt, timers),
        BgpState.Established => Established(evt, timers),
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, null),
    };

    private static Transition Idle(BgpEvent evt) => evt switch
    {
        BgpEvent.ManualStart or BgpEvent.AutomaticStart => new(BgpState.Connect,
            FsmActions.ZeroConnectRetryCounter | FsmActions.StartConnectRetryTimer | FsmActions.InitiateConnection),
        BgpEvent.ManualStartWithPassiveTcpEstablishment => new(BgpState.Active,
            FsmActions.ZeroConnectRetryCounter | FsmActions.StartConnectRetryTimer),
        // §8.2.2: every other event is ignored in Idle.
        _ => new(BgpState.Idle, FsmActions.None),
    };

    private static Transition Connect(BgpEvent evt) => evt switch
    {
        BgpEvent.ManualStart or BgpEvent.AutomaticStart or BgpEvent.ManualStartWithPassiveTcpEstablishment => new(BgpState.Connect, FsmActions.None),
        BgpEvent.ManualStop => new(BgpState.Idle, CloseConnection | FsmActions.ZeroConnectRetryCounter),
        BgpEvent.ConnectRetryTimerExpires => new(BgpState.Connect,
            FsmActions.DropConnection | FsmActions.StartConnectRetryTimer | FsmActions.InitiateConnection),
        BgpEvent.TcpCRAcked or BgpEvent.TcpConnectionConfirmed => OpenSentEntry(),
        BgpEvent.TcpConnectionFails => new(BgpState.Idle, CloseConnection),
        BgpEvent.BGPHeaderErr or BgpEvent.BGPOpenMsgErr => new(BgpState.Idle, FsmActions.SendCauseNotification | CloseAfterError),
        BgpEvent.NotifMsgVerErr => new(BgpState.Idle, CloseAfterError),
        _ => new(BgpState.Idle, CloseAfterError),
    };

    private static Transition Active(BgpEvent evt) => evt switch
    {
        BgpEvent.ManualStart or BgpEvent.AutomaticStart or BgpEvent.ManualStartWithPassiveTcpEstablishment => new(BgpState.Active, FsmActions.None),
        BgpEvent.ManualStop => new(BgpState.Idle, CloseConnection | FsmActions.ZeroConnectRetryCounter),
        BgpEvent.ConnectRetryTimerExpires => new(BgpState.Connect, FsmActions.StartConnectRetryTimer | FsmActions.InitiateConnection),
        BgpEvent.TcpCRAcked or BgpEvent.TcpConnectionConfirmed => OpenSentEntry(),
        BgpEvent.TcpConnectionFails => new(BgpState.Idle,
            FsmActions.StartConnectRetryTimer | FsmActions.ReleaseResources | FsmActions.DropConnection | FsmActions.IncrementConnectRetryCounter),
        BgpEvent.BGPHeaderErr or BgpEvent.BGPOpenMsgErr => new(BgpState.Idle, FsmActions.SendCauseNotification | CloseAfterError),
        _ => new(BgpState.Idle, CloseAfterError),
    };

    private static Transition OpenSentEntry() => new(BgpState.OpenSent,
        FsmActions.StopConnectRetryTimer | FsmActions.SendOpen | FsmActions.StartHoldTimer, HoldTimer: SessionTimers.LargeHoldTime);

    private static Transition OpenSent(BgpEvent evt, in SessionTimers timers) => evt switch
    {
        BgpEvent.ManualStart or BgpEvent.AutomaticStart or BgpEvent.ManualStartWithPassiveTcpEstablishment
            or BgpEvent.TcpCRAcked or BgpEvent.TcpConnectionConfirmed => new(BgpState.OpenSent, FsmActions.None),
        BgpEvent.ManualStop => new(BgpState.Idle, FsmActions.SendCauseNotification | CloseConnection | FsmActions.ZeroConnectRetryCounter),
        BgpEvent.AutomaticStop => new(BgpState.Idle, FsmActions.SendCauseNotification | CloseAfterError),
        BgpEvent.HoldTimerExpires => new(BgpState.Idle, FsmActions.SendNotification | CloseAfterError, HoldTimerExpiredCode),
        BgpEvent.TcpConnectionFails => new(BgpState.Active,
            FsmActions.StopHoldTimer | FsmActions.ReleaseResources | FsmActions.DropConnection | FsmActions.StartConnectRetryTimer),
        BgpEvent.BGPOpen => timers.HoldTimerEnabled
            ? new(BgpState.OpenConfirm, FsmActions.StopConnectRetryTimer | FsmActions.SendKeepalive | FsmActions.StartKeepaliveTimer | FsmActions.StartHoldTimer,
                HoldTimer: timers.HoldTime)
            : new(BgpState.OpenConfirm, FsmActions.StopConnectRetryTimer | FsmActions.SendKeepalive | FsmActions.StopHoldTimer),
        BgpEvent.BGPHeaderErr or BgpEvent.BGPOpenMsgErr => new(BgpState.Idle, FsmActions.SendCauseNotification | CloseAfterError),
        BgpEvent.OpenCollisionDump => new(BgpState.Idle, FsmActions.SendNotification | CloseAfterError, CeaseCode, ConnectionCollisionResolution),
        BgpEvent.NotifMsgVerErr => new(BgpState.Idle, CloseConnection),
        _ => new(BgpState.Idle, FsmActions.SendNotification | CloseAfterError, FsmErrorCode, 1),
    };

    private static Transition OpenConfirm(BgpEvent evt, in SessionTimers timers) => evt switch
    {
        BgpEvent.ManualStart or BgpEvent.AutomaticStart or BgpEvent.ManualStartWithPassiveTcpEstablishment
            or BgpEvent.TcpCRAcked or BgpEvent.TcpConnectionConfirmed => new(BgpState.OpenConfirm, FsmActions.None),
        BgpEvent.ManualStop => new(BgpState.Idle, FsmActions.SendCauseNotification | CloseConnection | FsmActions.ZeroConnectRetryCounter),
        BgpEvent.AutomaticStop => new(BgpState.Idle, FsmActions.SendCauseNotification | CloseAfterError),
        BgpEvent.HoldTimerExpires => new(BgpState.Idle, FsmActions.SendNotification | CloseAfterError, HoldTimerExpiredCode),
        BgpEvent.KeepaliveTimerExpires => new(BgpState.OpenConfirm, FsmActions.SendKeepalive | FsmActions.StartKeepaliveTimer),
        BgpEvent.TcpConnectionFails or BgpEvent.NotifMsg => new(BgpState.Idle, CloseAfterError),
        BgpEvent.NotifMsgVerErr => new(BgpState.Idle, CloseConnection),
        BgpEvent.BGPHeaderErr or BgpEvent.BGPOpenMsgErr => new(BgpState.Idle, FsmActions.SendCauseNotification | CloseAfterError),
        BgpEvent.OpenCollisionDump => new(BgpState.Idle, FsmActions.SendNotification | CloseAfterError, CeaseCode, ConnectionCollisionResolution),
        BgpEvent.KeepAliveMsg => timers.HoldTimerEnabled
            ? new(BgpState.Established, FsmActions.StartHoldTimer | FsmActions.SessionEstablished, HoldTimer: timers.HoldTime)
            : new(BgpState.Established, FsmActions.SessionEstablished),
        _ => new(BgpState.Idle, FsmActions.SendNotification | CloseAfterError, FsmErrorCode, 2),
    };

    private static Transition Established(BgpEvent evt, in SessionTimers timers) => evt switch
    {
        BgpEvent.ManualStart or BgpEvent.AutomaticStart or BgpEvent.ManualStartWithPassiveTcpEstablishment
            or BgpEvent.TcpCRAcked or BgpEvent.TcpConnectionConfirmed => new(BgpState.Established, FsmActions.None),
        BgpEvent.ManualStop => new(BgpState.Idle, FsmActions.SendCauseNotification | CloseConnection | FsmActions.ZeroConnectRetryCounter),
        BgpEvent.AutomaticStop => new(BgpState.Idle, FsmActions.SendCauseNotification | CloseAfterError),
        BgpEvent.HoldTimerExpires => new(BgpState.Idle, FsmActions.SendNotification | CloseAfterError, HoldTimerExpiredCode),
        BgpEvent.KeepaliveTimerExpires => new(BgpState.Established, FsmActions.SendKeepalive | FsmActions.StartKeepaliveTimer),
        BgpEvent.OpenCollisionDump => new(BgpState.Idle, FsmActions.SendNotification | CloseAfterError, CeaseCode, ConnectionCollisionResolution),
        BgpEvent.TcpConnectionFails or BgpEvent.NotifMsg => new(BgpState.Idle, CloseAfterError),
        BgpEvent.NotifMsgVerErr => new(BgpState.Idle, CloseAfterError),
        BgpEvent.KeepAliveMsg => Received(timers, FsmActions.None),
        BgpEvent.UpdateMsg => Received(timers, FsmActions.ProcessUpdate),
        BgpEvent.RouteRefreshMsg => Received(timers, FsmActions.ProcessRouteRefresh),
        BgpEvent.UpdateMsgErr or BgpEvent.BGPHeaderErr => new(BgpState.Idle, FsmActions.SendCauseNotification | CloseAfterError),
        _ => new(BgpState.Idle, FsmActions.SendNotification | CloseAfterError, FsmErrorCode, 3),
    };

    private static Transition Received(in SessionTimers timers, FsmActions process) => timers.HoldTimerEnabled
        ? new(BgpState.Established, process | FsmActions.StartHoldTimer, HoldTimer: timers.HoldTime)
        : new(BgpState.Established, process);
}
