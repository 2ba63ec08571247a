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

    /// <summary>Timers that fire a little before they are due, as real system timers do at times.</summary>
    private sealed class EarlyFiringTimeProvider(FakeTimeProvider inner, TimeSpan early) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            new EarlyTimer(inner.CreateTimer(callback, state, Shorten(dueTime), period), early);

        private TimeSpan Shorten(TimeSpan due) => due > early ? due - early : due;

        private sealed class EarlyTimer(ITimer timer, TimeSpan early) : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) =>
                timer.Change(dueTime > early && dueTime != Timeout.InfiniteTimeSpan ? dueTime - early : dueTime, period);

            public void Dispose() => timer.Dispose();

            public ValueTask DisposeAsync() => timer.DisposeAsync();
        }
    }

    [Fact]
    public void Timer_that_fires_before_its_deadline_is_rearmed_not_lost()
    {
        var fake = new FakeTimeProvider();
        var time = new EarlyFiringTimeProvider(fake, TimeSpan.FromMilliseconds(10));
        var fired = 0;
        using var timer = new SessionTimer(time, () => fired++);

        timer.Start(TimeSpan.FromSeconds(3));
        fake.Advance(TimeSpan.FromMilliseconds(2990));
        Assert.Equal(1, fired);
        Assert.False(timer.IsDue());
        Assert.True(timer.Running);

        // Re-armed for the remaining 10 ms (which fires early again, at 0 ms), then it is due at its real deadline.
        fake.Advance(TimeSpan.FromMilliseconds(10));
        Assert.True(fired >= 2);
        Assert.True(timer.IsDue());
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

        var run = pipeline.ExecuteAsync(_ => ValueTask.FromResult(++attempts < 8 ? AttemptOutcome.Failed : AttemptOutcome.WasEstablished), cts.Token).AsTask();
        while (!run.IsCompleted)
        {
            time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Yield();
        }

        Assert.Equal(AttemptOutcome.WasEstablished, await run);
        Assert.Equal(7, delays.Count);
        Assert.All(delays, d => Assert.InRange(d, TimeSpan.Zero, TimeSpan.FromSeconds(5)));
        Assert.True(delays[0] < TimeSpan.FromSeconds(3), $"first delay {delays[0]}");
        Assert.Equal(TimeSpan.FromSeconds(5), delays[^1]);
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
