using BgpLb.Logging;
using Microsoft.Extensions.Time.Testing;

namespace BgpLb.Bgp.Tests.Logging;

public class LogRateLimiterTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void Lets_the_first_through_then_one_per_interval_counting_those_held_back()
    {
        var limiter = new LogRateLimiter(_time, TimeSpan.FromSeconds(10));

        Assert.True(limiter.TryAcquire(out var suppressed));
        Assert.Equal(0, suppressed);
        for (var i = 0; i < 5; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            Assert.False(limiter.TryAcquire(out _));
        }

        _time.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromTicks(1));
        Assert.False(limiter.TryAcquire(out _));
        _time.Advance(TimeSpan.FromTicks(1));
        Assert.True(limiter.TryAcquire(out suppressed));
        Assert.Equal(6, suppressed);

        // The count starts again, and so does the interval.
        _time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(limiter.TryAcquire(out _));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(limiter.TryAcquire(out suppressed));
        Assert.Equal(1, suppressed);
    }

    [Fact]
    public void After_a_quiet_interval_the_next_line_goes_through_at_once_with_nothing_held_back()
    {
        var limiter = new LogRateLimiter(_time);
        Assert.True(limiter.TryAcquire(out _));

        _time.Advance(LogRateLimiter.DefaultInterval * 3);

        Assert.True(limiter.TryAcquire(out var suppressed));
        Assert.Equal(0, suppressed);
    }

    [Fact]
    public async Task Counts_every_occurrence_from_concurrent_callers()
    {
        var limiter = new LogRateLimiter(_time);
        var acquired = 0;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(caller => Task.Run(() =>
        {
            for (var i = 0; i < 10_000; i++)
                if (limiter.TryAcquire(out _)) Interlocked.Increment(ref acquired);
        })));

        _time.Advance(LogRateLimiter.DefaultInterval);

        Assert.Equal(1, acquired);
        Assert.True(limiter.TryAcquire(out var suppressed));
        Assert.Equal(39_999, suppressed);
    }
}
