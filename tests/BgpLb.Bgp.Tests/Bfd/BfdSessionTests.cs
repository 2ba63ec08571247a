using BgpLb.Bgp.Bfd;
using CsCheck;

namespace BgpLb.Bgp.Tests.Bfd;

public class BfdSessionTests
{
    private const uint Local = 0x1111;
    private const uint Remote = 0x2222;
    private static readonly BfdSessionOptions Fast = new() { DesiredMinTxInterval = 300_000, RequiredMinRxInterval = 300_000, DetectMultiplier = 3 };

    private static BfdControlPacket From(BfdState state, bool poll = false, bool final = false, uint tx = 300_000, uint rx = 300_000, byte multiplier = 3,
        bool demand = false) => new()
    {
        State = state,
        Poll = poll,
        Final = final,
        Demand = demand,
        DetectMultiplier = multiplier,
        MyDiscriminator = Remote,
        YourDiscriminator = state is BfdState.Down or BfdState.AdminDown ? 0 : Local,
        DesiredMinTxInterval = tx,
        RequiredMinRxInterval = rx,
    };

    /// <summary>A session driven into <paramref name="state"/> the way a remote system would drive it; polls answered.</summary>
    private static BfdSession In(BfdState state, BfdSessionOptions? options = null)
    {
        var session = new BfdSession(Local, options ?? Fast);
        switch (state)
        {
            case BfdState.AdminDown:
                session.SetAdminDown(true);
                break;
            case BfdState.Init:
                session.Receive(From(BfdState.Down));
                break;
            case BfdState.Up:
                session.Receive(From(BfdState.Down));
                session.Receive(From(BfdState.Up));
                session.Receive(From(BfdState.Up, final: true));
                break;
        }
        Assert.Equal(state, session.State);
        Assert.False(session.Polling);
        return session;
    }

    // RFC 5880 §6.8.6, every local state × every received state.
    [Theory]
    [InlineData(BfdState.AdminDown, BfdState.AdminDown, BfdState.AdminDown)]
    [InlineData(BfdState.AdminDown, BfdState.Down, BfdState.AdminDown)]
    [InlineData(BfdState.AdminDown, BfdState.Init, BfdState.AdminDown)]
    [InlineData(BfdState.AdminDown, BfdState.Up, BfdState.AdminDown)]
    [InlineData(BfdState.Down, BfdState.AdminDown, BfdState.Down)]
    [InlineData(BfdState.Down, BfdState.Down, BfdState.Init)]
    [InlineData(BfdState.Down, BfdState.Init, BfdState.Up)]
    [InlineData(BfdState.Down, BfdState.Up, BfdState.Down)]
    [InlineData(BfdState.Init, BfdState.AdminDown, BfdState.Down)]
    [InlineData(BfdState.Init, BfdState.Down, BfdState.Init)]
    [InlineData(BfdState.Init, BfdState.Init, BfdState.Up)]
    [InlineData(BfdState.Init, BfdState.Up, BfdState.Up)]
    [InlineData(BfdState.Up, BfdState.AdminDown, BfdState.Down)]
    [InlineData(BfdState.Up, BfdState.Down, BfdState.Down)]
    [InlineData(BfdState.Up, BfdState.Init, BfdState.Up)]
    [InlineData(BfdState.Up, BfdState.Up, BfdState.Up)]
    public void Received_state_moves_the_session_as_RFC_5880_says(BfdState local, BfdState received, BfdState expected)
    {
        var session = In(local);
        var effects = session.Receive(From(received));
        Assert.Equal(expected, session.State);
        Assert.Equal(expected != local, effects.HasFlag(BfdEffects.StateChanged));
        if (expected != local)
            Assert.True(effects.HasFlag(BfdEffects.SendNow));
        var diagnostic = expected == BfdState.Down && local != BfdState.Down ? BfdDiagnostic.NeighborSignaledSessionDown
            : local == BfdState.AdminDown ? BfdDiagnostic.AdministrativelyDown
            : BfdDiagnostic.None;
        Assert.Equal(diagnostic, session.LocalDiagnostic);
        Assert.Equal(expected, session.NextPacket.State);
    }

    [Theory]
    [InlineData(BfdState.AdminDown, BfdState.AdminDown, false)]
    [InlineData(BfdState.Down, BfdState.Down, false)]
    [InlineData(BfdState.Init, BfdState.Down, true)]
    [InlineData(BfdState.Up, BfdState.Down, true)]
    public void Detection_time_expiry_takes_Init_and_Up_down_and_forgets_the_remote(BfdState local, BfdState expected, bool changed)
    {
        var session = In(local);
        var effects = session.DetectionTimeExpired();
        Assert.Equal(expected, session.State);
        Assert.Equal(changed, effects.HasFlag(BfdEffects.StateChanged));
        if (changed)
            Assert.Equal(BfdDiagnostic.ControlDetectionTimeExpired, session.LocalDiagnostic);
        Assert.Equal(0u, session.RemoteDiscriminator);
        Assert.Equal(0u, session.NextPacket.YourDiscriminator);
        Assert.Equal(0u, session.DetectionTime);
    }

    [Fact]
    public void Admin_down_is_signalled_and_undone()
    {
        var session = In(BfdState.Up);
        Assert.True(session.SetAdminDown(true).HasFlag(BfdEffects.StateChanged));
        Assert.Equal(BfdState.AdminDown, session.NextPacket.State);
        Assert.Equal(BfdDiagnostic.AdministrativelyDown, session.NextPacket.Diagnostic);
        Assert.Equal(BfdEffects.None, session.SetAdminDown(true) & BfdEffects.StateChanged);
        Assert.True(session.SetAdminDown(false).HasFlag(BfdEffects.StateChanged));
        Assert.Equal(BfdState.Down, session.State);
    }

    [Fact]
    public void A_poll_is_answered_with_a_final_that_carries_no_poll()
    {
        var session = In(BfdState.Up);
        Assert.True(session.Receive(From(BfdState.Up, poll: true)).HasFlag(BfdEffects.SendFinal));
        Assert.True(session.FinalPacket.Final);
        Assert.False(session.FinalPacket.Poll);
        Assert.False(session.Receive(From(BfdState.Up)).HasFlag(BfdEffects.SendFinal));
        // Administratively down, a packet is discarded, its poll included.
        session.SetAdminDown(true);
        Assert.False(session.Receive(From(BfdState.Up, poll: true)).HasFlag(BfdEffects.SendFinal));
    }

    [Fact]
    public void Transmission_is_at_least_one_second_until_Up_then_polls_down_to_the_profile()
    {
        var session = new BfdSession(Local, Fast);
        Assert.Equal(BfdSession.SlowTxInterval, session.NextPacket.DesiredMinTxInterval);
        Assert.Equal(BfdSession.SlowTxInterval, session.TransmitInterval);
        Assert.Equal(0u, session.DetectionTime); // nothing heard yet

        session.Receive(From(BfdState.Down, tx: BfdSession.SlowTxInterval));
        Assert.Equal(3u * BfdSession.SlowTxInterval, session.DetectionTime); // remote multiplier × max(our rx, its tx)
        var effects = session.Receive(From(BfdState.Up, tx: BfdSession.SlowTxInterval));
        Assert.Equal(BfdState.Up, session.State);
        Assert.True(session.Polling);
        Assert.True(session.NextPacket.Poll);
        Assert.Equal(300_000u, session.NextPacket.DesiredMinTxInterval);
        Assert.Equal(300_000u, session.TransmitInterval); // sending faster is safe at once
        Assert.True(effects.HasFlag(BfdEffects.TimersChanged));

        session.Receive(From(BfdState.Up, final: true));
        Assert.False(session.Polling);
        Assert.False(session.NextPacket.Poll);
        Assert.Equal(900_000u, session.DetectionTime);
    }

    [Fact]
    public void Slower_transmission_and_faster_detection_wait_for_the_final()
    {
        var session = In(BfdState.Up);
        Assert.Equal(300_000u, session.TransmitInterval);
        Assert.Equal(900_000u, session.DetectionTime);

        var effects = session.Reconfigure(Fast with { DesiredMinTxInterval = 1_000_000, RequiredMinRxInterval = 100_000 });
        Assert.True(effects.HasFlag(BfdEffects.SendNow));
        Assert.Equal(BfdState.Up, session.State); // no reset
        Assert.True(session.NextPacket.Poll);
        Assert.Equal(1_000_000u, session.NextPacket.DesiredMinTxInterval);
        Assert.Equal(100_000u, session.NextPacket.RequiredMinRxInterval);
        Assert.Equal(300_000u, session.TransmitInterval);
        Assert.Equal(900_000u, session.DetectionTime);

        // The remote answers with its own (unchanged) 300 ms and the Final.
        Assert.True(session.Receive(From(BfdState.Up, final: true)).HasFlag(BfdEffects.TimersChanged));
        Assert.Equal(1_000_000u, session.TransmitInterval);
        Assert.Equal(900_000u, session.DetectionTime); // 3 × max(100 ms, the remote's 300 ms)
        session.Receive(From(BfdState.Up, tx: 50_000));
        Assert.Equal(300_000u, session.DetectionTime); // 3 × 100 ms
    }

    [Fact]
    public void Faster_transmission_and_slower_detection_apply_at_once()
    {
        var session = In(BfdState.Up);
        session.Reconfigure(Fast with { DesiredMinTxInterval = 100_000, RequiredMinRxInterval = 1_000_000 });
        Assert.True(session.Polling);
        Assert.Equal(300_000u, session.TransmitInterval); // the remote still wants no more than one per 300 ms
        session.Receive(From(BfdState.Up, rx: 50_000));
        Assert.Equal(100_000u, session.TransmitInterval);
        Assert.Equal(3_000_000u, session.DetectionTime);
    }

    [Fact]
    public void Reconfiguring_with_no_remote_applies_at_once_without_a_poll()
    {
        var session = new BfdSession(Local, Fast);
        Assert.Equal(BfdEffects.None, session.Reconfigure(Fast with { RequiredMinRxInterval = 100_000 }) & BfdEffects.SendNow);
        Assert.False(session.Polling);
        Assert.Equal(100_000u, session.NextPacket.RequiredMinRxInterval);
    }

    [Fact]
    public void Passive_sessions_wait_for_the_remote_and_nobody_sends_to_a_remote_that_wants_nothing()
    {
        var passive = new BfdSession(Local, Fast with { Passive = true });
        Assert.False(passive.TransmitsPeriodically);
        passive.Receive(From(BfdState.Down));
        Assert.True(passive.TransmitsPeriodically);
        passive.DetectionTimeExpired();
        Assert.False(passive.TransmitsPeriodically);

        var active = In(BfdState.Up);
        Assert.True(active.TransmitsPeriodically);
        active.Receive(From(BfdState.Up, rx: 0));
        Assert.False(active.TransmitsPeriodically);
        active.Receive(From(BfdState.Up, demand: true));
        Assert.False(active.TransmitsPeriodically); // the remote runs Demand mode with both Up
    }

    [Fact]
    public void Jitter_stays_within_the_RFC_bounds()
    {
        Gen.Select(Gen.UInt[1, 10_000_000], Gen.Byte[1, 255], Gen.Double[0, 0.9999999]).Sample((interval, multiplier, random) =>
        {
            var wait = BfdSession.Jittered(interval, multiplier, random).TotalMicroseconds;
            var (low, high) = multiplier == 1 ? (0.75, 0.90) : (0.75, 1.0);
            Assert.InRange(wait, interval * low - 1, interval * high + 1);
        });
    }

    [Fact]
    public void Every_packet_a_session_sends_passes_the_receive_checks()
    {
        var steps = Gen.Int[0, 5].Array[1, 30];
        steps.Sample(sequence =>
        {
            var session = new BfdSession(Local, Fast);
            foreach (var step in sequence)
            {
                _ = step switch
                {
                    0 => session.Receive(From(BfdState.Down)),
                    1 => session.Receive(From(BfdState.Init)),
                    2 => session.Receive(From(BfdState.Up, final: session.Polling)),
                    3 => session.DetectionTimeExpired(),
                    4 => session.Reconfigure(Fast with { DesiredMinTxInterval = (uint)(100_000 * (1 + sequence.Length % 5)) }),
                    _ => session.Receive(From(BfdState.AdminDown)),
                };
                foreach (var packet in new[] { session.NextPacket, session.FinalPacket })
                {
                    var bytes = new byte[BfdControlPacket.Length];
                    packet.Write(bytes);
                    Assert.True(BfdControlPacket.TryRead(bytes, out _, out var reason), $"{session.State}: {reason}");
                    Assert.False(packet.Poll && packet.Final);
                }
            }
        });
    }
}
