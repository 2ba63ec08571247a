using System.Net;
using BgpLb.Bgp.Session;
using Microsoft.Extensions.Time.Testing;

namespace BgpLb.Bgp.Tests.Session;

public class TimerTests
{
    [Fact]
    public void Session_timer_fires_at_its_deadline_and_restart_postpones_it()
    {
        var time = new FakeTimeProvider();
        var fired = 0;
        using var timer = new SessionTimer(time, () => fired++);

        timer.Start(TimeSpan.FromSeconds(3));
        time.Advance(TimeSpan.FromSeconds(2));
        timer.Start(TimeSpan.FromSeconds(3));
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(0, fired);
        Assert.False(timer.IsDue());

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, fired);
        Assert.True(timer.IsDue());
        Assert.False(timer.Running);
    }

    [Fact]
    public void Timer_that_fires_before_its_deadline_fires_again_at_the_deadline()
    {
        var time = new FakeTimeProvider();
        var due = 0;
        SessionTimer? timer = null;
        // As the session loop does: act on a firing only when IsDue.
        timer = new SessionTimer(new EarlyTimers(time), () => { if (timer!.IsDue()) due++; });
        using var disposeTimer = timer;

        timer.Start(TimeSpan.FromSeconds(1));
        time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.Equal(0, due);
        Assert.True(timer.Running);

        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, due);
        Assert.False(timer.Running);
    }

    /// <summary>Timers that fire 1 ms before GetUtcNow reaches their due time, as System.Threading timers can.</summary>
    private sealed class EarlyTimers(FakeTimeProvider time) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => time.GetUtcNow();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            new EarlyTimer(time.CreateTimer(callback, state, Early(dueTime), period));

        private static TimeSpan Early(TimeSpan due) => due >= TimeSpan.FromMilliseconds(2) ? due - TimeSpan.FromMilliseconds(1) : due;

        private sealed class EarlyTimer(ITimer inner) : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => inner.Change(dueTime == Timeout.InfiniteTimeSpan ? dueTime : Early(dueTime), period);

            public void Dispose() => inner.Dispose();

            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }

    [Fact]
    public void Stopped_timer_never_fires_and_is_not_due()
    {
        var time = new FakeTimeProvider();
        var fired = 0;
        using var timer = new SessionTimer(time, () => fired++);
        timer.Start(TimeSpan.FromSeconds(1));
        timer.Stop();

        time.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal(0, fired);
        Assert.False(timer.IsDue());
    }

    [Fact]
    public async Task Backoff_grows_exponentially_with_jitter_and_is_capped()
    {
        var time = new FakeTimeProvider();
        var delays = new List<TimeSpan>();
        var attempts = 0;
        var pipeline = ReconnectBackoff.Create(time, TimeSpan.FromSeconds(5), (_, d) => delays.Add(d));
        using var cts = new CancellationTokenSource();

        var run = pipeline.ExecuteAsync(_ => ValueTask.FromResult(++attempts <= 30 ? AttemptOutcome.Failed : AttemptOutcome.WasEstablished), cts.Token).AsTask();
        while (!run.IsCompleted)
        {
            time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Yield();
        }

        Assert.Equal(AttemptOutcome.WasEstablished, await run);
        Assert.Equal(30, delays.Count);
        Assert.All(delays, d => Assert.InRange(d, TimeSpan.Zero, TimeSpan.FromSeconds(5)));
        // Polly's decorrelated jitter: the n-th delay (from 0) is at most 2^(n+1) / 1.4 times the 1 s base, whatever the draw.
        Assert.True(delays[0] <= TimeSpan.FromSeconds(2 / 1.4), $"first delay {delays[0]}");
        Assert.True(delays[1] <= TimeSpan.FromSeconds(4 / 1.4), $"second delay {delays[1]}");
        // Any single later delay may still fall short of the cap (two draws that land next to each other), but with the
        // exponent past 7 that takes odds below 1e-3 per attempt: one of the last 20 reaching it cannot fail in practice.
        Assert.Contains(TimeSpan.FromSeconds(5), delays.Skip(10));
    }

    [Fact]
    public async Task Backoff_wait_takes_the_token()
    {
        var time = new FakeTimeProvider();
        var pipeline = ReconnectBackoff.Create(time, TimeSpan.FromMinutes(2));
        using var cts = new CancellationTokenSource();
        var run = pipeline.ExecuteAsync(_ => ValueTask.FromResult(AttemptOutcome.Failed), cts.Token).AsTask();

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void Next_hops_come_from_the_local_address_and_its_interface()
    {
        var v4 = IPAddress.Parse("198.18.0.1");
        var v6 = IPAddress.Parse("2001:db8::1");
        var linkLocal = IPAddress.Parse("fe80::1");

        Assert.Equal(new NextHops(v4, v6, linkLocal), LocalAddresses.Resolve(v4, [v4, linkLocal, v6]));
        Assert.Equal(new NextHops(v4, v6, linkLocal), LocalAddresses.Resolve(v6, [linkLocal, v6, v4]));
        Assert.Equal(new NextHops(v4, null, null), LocalAddresses.Resolve(v4, [v4]));
        Assert.Equal(new NextHops(null, v6, null), LocalAddresses.Resolve(v6, []));
    }

    [Fact]
    public void Router_id_prefers_config_then_local_ipv4_and_is_never_zero()
    {
        var configured = IPAddress.Parse("10.0.0.9");
        Assert.Equal(configured, LocalAddresses.RouterId(configured, IPAddress.Parse("198.18.0.1")));
        Assert.Equal(IPAddress.Parse("198.18.0.1"), LocalAddresses.RouterId(null, IPAddress.Parse("198.18.0.1")));
        var fromHost = LocalAddresses.RouterId(null, IPAddress.Parse("2001:db8::1"));
        Assert.Equal(System.Net.Sockets.AddressFamily.InterNetwork, fromHost.AddressFamily);
        Assert.NotEqual(IPAddress.Any, fromHost);
        Assert.NotEqual(IPAddress.Any, LocalAddresses.RouterId(IPAddress.Any, IPAddress.Parse("198.18.0.1")));
    }
}
