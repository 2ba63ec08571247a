using BgpLb.Bgp.Fsm;

namespace BgpLb.Bgp.Tests.Fsm;

public class BgpFsmTests
{
    private static readonly SessionTimers Timers = new(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(90), TimeSpan.FromSeconds(30));
    private static readonly SessionTimers NoHold = new(TimeSpan.FromSeconds(5), TimeSpan.Zero, TimeSpan.Zero);

    // State, event, expected next state, expected NOTIFICATION: "-" none, "cause" (the error or stop reason), or code/subcode.
    public static TheoryData<string, string, string, string> Table => new()
    {
        { "Idle", "ManualStart", "Connect", "-" },
        { "Idle", "ManualStop", "Idle", "-" },
        { "Idle", "AutomaticStart", "Connect", "-" },
        { "Idle", "ManualStartWithPassiveTcpEstablishment", "Active", "-" },
        { "Idle", "AutomaticStop", "Idle", "-" },
        { "Idle", "ConnectRetryTimerExpires", "Idle", "-" },
        { "Idle", "HoldTimerExpires", "Idle", "-" },
        { "Idle", "KeepaliveTimerExpires", "Idle", "-" },
        { "Idle", "TcpCRAcked", "Idle", "-" },
        { "Idle", "TcpConnectionConfirmed", "Idle", "-" },
        { "Idle", "TcpConnectionFails", "Idle", "-" },
        { "Idle", "BGPOpen", "Idle", "-" },
        { "Idle", "BGPHeaderErr", "Idle", "-" },
        { "Idle", "BGPOpenMsgErr", "Idle", "-" },
        { "Idle", "OpenCollisionDump", "Idle", "-" },
        { "Idle", "NotifMsgVerErr", "Idle", "-" },
        { "Idle", "NotifMsg", "Idle", "-" },
        { "Idle", "KeepAliveMsg", "Idle", "-" },
        { "Idle", "UpdateMsg", "Idle", "-" },
        { "Idle", "UpdateMsgErr", "Idle", "-" },
        { "Idle", "RouteRefreshMsg", "Idle", "-" },
        { "Connect", "ManualStart", "Connect", "-" },
        { "Connect", "ManualStop", "Idle", "-" },
        { "Connect", "AutomaticStart", "Connect", "-" },
        { "Connect", "ManualStartWithPassiveTcpEstablishment", "Connect", "-" },
        { "Connect", "AutomaticStop", "Idle", "-" },
        { "Connect", "ConnectRetryTimerExpires", "Connect", "-" },
        { "Connect", "HoldTimerExpires", "Idle", "-" },
        { "Connect", "KeepaliveTimerExpires", "Idle", "-" },
        { "Connect", "TcpCRAcked", "OpenSent", "-" },
        { "Connect", "TcpConnectionConfirmed", "OpenSent", "-" },
        { "Connect", "TcpConnectionFails", "Idle", "-" },
        { "Connect", "BGPOpen", "Idle", "-" },
        { "Connect", "BGPHeaderErr", "Idle", "cause" },
        { "Connect", "BGPOpenMsgErr", "Idle", "cause" },
        { "Connect", "OpenCollisionDump", "Idle", "-" },
        { "Connect", "NotifMsgVerErr", "Idle", "-" },
        { "Connect", "NotifMsg", "Idle", "-" },
        { "Connect", "KeepAliveMsg", "Idle", "-" },
        { "Connect", "UpdateMsg", "Idle", "-" },
        { "Connect", "UpdateMsgErr", "Idle", "-" },
        { "Connect", "RouteRefreshMsg", "Idle", "-" },
        { "Active", "ManualStart", "Active", "-" },
        { "Active", "ManualStop", "Idle", "-" },
        { "Active", "AutomaticStart", "Active", "-" },
        { "Active", "ManualStartWithPassiveTcpEstablishment", "Active", "-" },
        { "Active", "AutomaticStop", "Idle", "-" },
        { "Active", "ConnectRetryTimerExpires", "Connect", "-" },
        { "Active", "HoldTimerExpires", "Idle", "-" },
        { "Active", "KeepaliveTimerExpires", "Idle", "-" },
        { "Active", "TcpCRAcked", "OpenSent", "-" },
        { "Active", "TcpConnectionConfirmed", "OpenSent", "-" },
        { "Active", "TcpConnectionFails", "Idle", "-" },
        { "Active", "BGPOpen", "Idle", "-" },
        { "Active", "BGPHeaderErr", "Idle", "cause" },
        { "Active", "BGPOpenMsgErr", "Idle", "cause" },
        { "Active", "OpenCollisionDump", "Idle", "-" },
        { "Active", "NotifMsgVerErr", "Idle", "-" },
        { "Active", "NotifMsg", "Idle", "-" },
        { "Active", "KeepAliveMsg", "Idle", "-" },
        { "Active", "UpdateMsg", "Idle", "-" },
        { "Active", "UpdateMsgErr", "Idle", "-" },
        { "Active", "RouteRefreshMsg", "Idle", "-" },
        { "OpenSent", "ManualStart", "OpenSent", "-" },
        { "OpenSent", "ManualStop", "Idle", "cause" },
        { "OpenSent", "AutomaticStart", "OpenSent", "-" },
        { "OpenSent", "ManualStartWithPassiveTcpEstablishment", "OpenSent", "-" },
        { "OpenSent", "AutomaticStop", "Idle", "cause" },
        { "OpenSent", "ConnectRetryTimerExpires", "Idle", "5/1" },
        { "OpenSent", "HoldTimerExpires", "Idle", "4/0" },
        { "OpenSent", "KeepaliveTimerExpires", "Idle", "5/1" },
        { "OpenSent", "TcpCRAcked", "OpenSent", "-" },
        { "OpenSent", "TcpConnectionConfirmed", "OpenSent", "-" },
        { "OpenSent", "TcpConnectionFails", "Active", "-" },
        { "OpenSent", "BGPOpen", "OpenConfirm", "-" },
        { "OpenSent", "BGPHeaderErr", "Idle", "cause" },
        { "OpenSent", "BGPOpenMsgErr", "Idle", "cause" },
        { "OpenSent", "OpenCollisionDump", "Idle", "6/7" },
        { "OpenSent", "NotifMsgVerErr", "Idle", "-" },
        { "OpenSent", "NotifMsg", "Idle", "5/1" },
        { "OpenSent", "KeepAliveMsg", "Idle", "5/1" },
        { "OpenSent", "UpdateMsg", "Idle", "5/1" },
        { "OpenSent", "UpdateMsgErr", "Idle", "5/1" },
        { "OpenSent", "RouteRefreshMsg", "Idle", "5/1" },
        { "OpenConfirm", "ManualStart", "OpenConfirm", "-" },
        { "OpenConfirm", "ManualStop", "Idle", "cause" },
        { "OpenConfirm", "AutomaticStart", "OpenConfirm", "-" },
        { "OpenConfirm", "ManualStartWithPassiveTcpEstablishment", "OpenConfirm", "-" },
        { "OpenConfirm", "AutomaticStop", "Idle", "cause" },
        { "OpenConfirm", "ConnectRetryTimerExpires", "Idle", "5/2" },
        { "OpenConfirm", "HoldTimerExpires", "Idle", "4/0" },
        { "OpenConfirm", "KeepaliveTimerExpires", "OpenConfirm", "-" },
        { "OpenConfirm", "TcpCRAcked", "OpenConfirm", "-" },
        { "OpenConfirm", "TcpConnectionConfirmed", "OpenConfirm", "-" },
        { "OpenConfirm", "TcpConnectionFails", "Idle", "-" },
        { "OpenConfirm", "BGPOpen", "Idle", "5/2" },
        { "OpenConfirm", "BGPHeaderErr", "Idle", "cause" },
        { "OpenConfirm", "BGPOpenMsgErr", "Idle", "cause" },
        { "OpenConfirm", "OpenCollisionDump", "Idle", "6/7" },
        { "OpenConfirm", "NotifMsgVerErr", "Idle", "-" },
        { "OpenConfirm", "NotifMsg", "Idle", "-" },
        { "OpenConfirm", "KeepAliveMsg", "Established", "-" },
        { "OpenConfirm", "UpdateMsg", "Idle", "5/2" },
        { "OpenConfirm", "UpdateMsgErr", "Idle", "5/2" },
        { "OpenConfirm", "RouteRefreshMsg", "Idle", "5/2" },
        { "Established", "ManualStart", "Established", "-" },
        { "Established", "ManualStop", "Idle", "cause" },
        { "Established", "AutomaticStart", "Established", "-" },
        { "Established", "ManualStartWithPassiveTcpEstablishment", "Established", "-" },
        { "Established", "AutomaticStop", "Idle", "cause" },
        { "Established", "ConnectRetryTimerExpires", "Idle", "5/3" },
        { "Established", "HoldTimerExpires", "Idle", "4/0" },
        { "Established", "KeepaliveTimerExpires", "Established", "-" },
        { "Established", "TcpCRAcked", "Established", "-" },
        { "Established", "TcpConnectionConfirmed", "Established", "-" },
        { "Established", "TcpConnectionFails", "Idle", "-" },
        { "Established", "BGPOpen", "Idle", "5/3" },
        { "Established", "BGPHeaderErr", "Idle", "cause" },
        { "Established", "BGPOpenMsgErr", "Idle", "5/3" },
        { "Established", "OpenCollisionDump", "Idle", "6/7" },
        { "Established", "NotifMsgVerErr", "Idle", "-" },
        { "Established", "NotifMsg", "Idle", "-" },
        { "Established", "KeepAliveMsg", "Established", "-" },
        { "Established", "UpdateMsg", "Established", "-" },
        { "Established", "UpdateMsgErr", "Idle", "cause" },
        { "Established", "RouteRefreshMsg", "Established", "-" },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Every_state_and_event_pair_follows_the_table(string state, string evt, string next, string notification)
    {
        var t = BgpFsm.Next(Enum.Parse<BgpState>(state), Enum.Parse<BgpEvent>(evt), Timers);

        Assert.Equal(Enum.Parse<BgpState>(next), t.State);
        var actual = t.Has(FsmActions.SendCauseNotification) ? "cause"
            : t.Has(FsmActions.SendNotification) ? $"{t.ErrorCode}/{t.ErrorSubcode}" : "-";
        Assert.Equal(notification, actual);
        if (t.State == BgpState.Idle && Enum.Parse<BgpState>(state) is not (BgpState.Idle or BgpState.Active))
            Assert.True(t.Has(FsmActions.DropConnection | FsmActions.ReleaseResources), "leaving a connection state must close it");
    }

    [Fact]
    public void Table_covers_every_state_and_event()
    {
        var pairs = Table.Select(r => ((string)r[0], (string)r[1])).ToHashSet();
        foreach (var s in Enum.GetValues<BgpState>())
            foreach (var e in Enum.GetValues<BgpEvent>())
                Assert.Contains((s.ToString(), e.ToString()), pairs);
    }

    [Theory]
    [InlineData(BgpState.Connect, (int)BgpEvent.TcpConnectionConfirmed)]
    [InlineData(BgpState.Connect, (int)BgpEvent.TcpCRAcked)]
    [InlineData(BgpState.Active, (int)BgpEvent.TcpConnectionConfirmed)]
    public void Connection_sends_open_and_arms_the_large_hold_timer(BgpState state, int evt)
    {
        var t = BgpFsm.Next(state, (BgpEvent)evt, Timers);
        Assert.True(t.Has(FsmActions.SendOpen | FsmActions.StartHoldTimer | FsmActions.StopConnectRetryTimer));
        Assert.Equal(TimeSpan.FromSeconds(240), t.HoldTimer);
    }

    [Fact]
    public void Open_in_OpenSent_sends_keepalive_and_arms_negotiated_timers()
    {
        var t = BgpFsm.Next(BgpState.OpenSent, BgpEvent.BGPOpen, Timers);
        Assert.True(t.Has(FsmActions.SendKeepalive | FsmActions.StartKeepaliveTimer | FsmActions.StartHoldTimer));
        Assert.Equal(TimeSpan.FromSeconds(90), t.HoldTimer);
    }

    [Fact]
    public void Zero_hold_time_disables_hold_and_keepalive_timers()
    {
        var open = BgpFsm.Next(BgpState.OpenSent, BgpEvent.BGPOpen, NoHold);
        Assert.True(open.Has(FsmActions.SendKeepalive | FsmActions.StopHoldTimer));
        Assert.False(open.Has(FsmActions.StartKeepaliveTimer));
        Assert.False(open.Has(FsmActions.StartHoldTimer));
        Assert.False(BgpFsm.Next(BgpState.OpenConfirm, BgpEvent.KeepAliveMsg, NoHold).Has(FsmActions.StartHoldTimer));
        Assert.False(BgpFsm.Next(BgpState.Established, BgpEvent.UpdateMsg, NoHold).Has(FsmActions.StartHoldTimer));
    }

    [Theory]
    [InlineData((int)BgpEvent.KeepAliveMsg, (int)(FsmActions.StartHoldTimer))]
    [InlineData((int)BgpEvent.UpdateMsg, (int)(FsmActions.StartHoldTimer | FsmActions.ProcessUpdate))]
    [InlineData((int)BgpEvent.RouteRefreshMsg, (int)(FsmActions.StartHoldTimer | FsmActions.ProcessRouteRefresh))]
    [InlineData((int)BgpEvent.KeepaliveTimerExpires, (int)(FsmActions.SendKeepalive | FsmActions.StartKeepaliveTimer))]
    public void Established_actions(int evt, int expected)
    {
        var t = BgpFsm.Next(BgpState.Established, (BgpEvent)evt, Timers);
        Assert.Equal((FsmActions)expected, t.Actions);
    }

    [Fact]
    public void Keepalive_in_OpenConfirm_establishes_the_session()
    {
        var t = BgpFsm.Next(BgpState.OpenConfirm, BgpEvent.KeepAliveMsg, Timers);
        Assert.Equal(BgpState.Established, t.State);
        Assert.True(t.Has(FsmActions.SessionEstablished | FsmActions.StartHoldTimer));
    }

    [Theory]
    [InlineData(BgpState.OpenSent)]
    [InlineData(BgpState.Established)]
    public void Manual_stop_zeroes_the_retry_counter_and_automatic_stop_increments_it(BgpState state)
    {
        Assert.True(BgpFsm.Next(state, BgpEvent.ManualStop, Timers).Has(FsmActions.ZeroConnectRetryCounter));
        Assert.True(BgpFsm.Next(state, BgpEvent.AutomaticStop, Timers).Has(FsmActions.IncrementConnectRetryCounter));
    }

    [Fact]
    public void Idle_start_initiates_connection_with_retry_timer()
    {
        var t = BgpFsm.Next(BgpState.Idle, BgpEvent.ManualStart, Timers);
        Assert.True(t.Has(FsmActions.InitiateConnection | FsmActions.StartConnectRetryTimer | FsmActions.ZeroConnectRetryCounter));
    }
}
