namespace BgpLb.Bgp.Fsm;

/// <summary>What the session driver must do after a transition, in the order the members are declared.</summary>
[Flags]
internal enum FsmActions
{
    None = 0,
    /// <summary>Send the NOTIFICATION given by <see cref="Transition.ErrorCode"/>/<see cref="Transition.ErrorSubcode"/>.</summary>
    SendNotification = 1 << 0,
    /// <summary>Send the NOTIFICATION carried by the cause of the event (the detected error, or the Cease reason of a stop).</summary>
    SendCauseNotification = 1 << 1,
    SendOpen = 1 << 2,
    SendKeepalive = 1 << 3,
    StopConnectRetryTimer = 1 << 4,
    StartConnectRetryTimer = 1 << 5,
    /// <summary>(Re)start the hold timer with <see cref="Transition.HoldTimer"/>.</summary>
    StartHoldTimer = 1 << 6,
    StopHoldTimer = 1 << 7,
    StartKeepaliveTimer = 1 << 8,
    StopKeepaliveTimer = 1 << 9,
    InitiateConnection = 1 << 10,
    DropConnection = 1 << 11,
    ReleaseResources = 1 << 12,
    IncrementConnectRetryCounter = 1 << 13,
    ZeroConnectRetryCounter = 1 << 14,
    ProcessUpdate = 1 << 15,
    ProcessRouteRefresh = 1 << 16,
    /// <summary>The session just reached Established: start the Adj-RIB-Out sync.</summary>
    SessionEstablished = 1 << 17,
}
