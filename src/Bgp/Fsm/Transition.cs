namespace BgpLb.Bgp.Fsm;

/// <summary>Result of one FSM step: the next state, the actions, the NOTIFICATION code when the FSM decides it, and the hold timer value.</summary>
internal readonly record struct Transition(BgpState State, FsmActions Actions, byte ErrorCode = 0, byte ErrorSubcode = 0, TimeSpan HoldTimer = default)
{
    public bool Has(FsmActions action) => (Actions & action) == action;
}
