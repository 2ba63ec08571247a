namespace BgpLb.Bgp.Fsm;

/// <summary>RFC 4271 §8.1 events (numbers as in the RFC), plus <see cref="RouteRefreshMsg"/> (RFC 2918).</summary>
internal enum BgpEvent
{
    ManualStart = 1,
    ManualStop = 2,
    AutomaticStart = 3,
    ManualStartWithPassiveTcpEstablishment = 4,
    AutomaticStop = 8,
    ConnectRetryTimerExpires = 9,
    HoldTimerExpires = 10,
    KeepaliveTimerExpires = 11,
    TcpCRAcked = 16,
    TcpConnectionConfirmed = 17,
    TcpConnectionFails = 18,
    BGPOpen = 19,
    BGPHeaderErr = 21,
    BGPOpenMsgErr = 22,
    OpenCollisionDump = 23,
    NotifMsgVerErr = 24,
    NotifMsg = 25,
    KeepAliveMsg = 26,
    UpdateMsg = 27,
    UpdateMsgErr = 28,
    /// <summary>Not an RFC 4271 event: a ROUTE-REFRESH message was received.</summary>
    RouteRefreshMsg = 100,
}
