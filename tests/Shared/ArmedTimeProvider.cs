using Microsoft.Extensions.Time.Testing;

// Shared by BgpLb.Bgp.Tests, BgpLb.L2.Tests and BgpLb.Kubernetes.Tests (linked into each).
namespace BgpLb.Testing;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that knows which of its timers are armed, so that a test moves virtual time only to a
/// deadline the code under test is already waiting for. Advancing blindly races the code's loops: time that passes before a
/// wait is armed does not count for that wait, and how much passes depends on how loaded the machine is.
/// </summary>
internal sealed class ArmedTimeProvider(DateTimeOffset start) : FakeTimeProvider(start)
{
    /// <summary>Starts at FakeTimeProvider's default, 2000-01-01 UTC.</summary>
    public ArmedTimeProvider()
        : this(new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero))
    {
    }

    private readonly Lock _gate = new();
    private readonly HashSet<Armed> _timers = [];
    private int _created;

    /// <summary>How many timers the code under test has created so far.</summary>
    public int TimersCreated => Volatile.Read(ref _created);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var armed = new Armed(this);
        armed.Track(dueTime, period);
        armed.Inner = base.CreateTimer(callback, state, dueTime, period);
        Interlocked.Increment(ref _created);
        return armed;
    }

    /// <summary>The armed timers' next deadlines, earliest first.</summary>
    public DateTimeOffset[] Deadlines()
    {
        var now = GetUtcNow();
        lock (_gate)
            return [.. _timers.Select(t => t.NextDeadline(now)).OfType<DateTimeOffset>().Order()];
    }

    /// <summary>True when a timer armed with exactly <paramref name="dueTime"/> has not fired yet.</summary>
    public bool IsPending(TimeSpan dueTime)
    {
        var now = GetUtcNow();
        lock (_gate) return _timers.Any(t => t.DueTime == dueTime && t.NextDeadline(now) is not null);
    }

    /// <summary>Waits in real time (30 s at most: a loaded machine only makes a failure slower) until a timer armed with exactly <paramref name="dueTime"/> is pending.</summary>
    public async Task WaitUntilArmedAsync(TimeSpan dueTime)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!IsPending(dueTime))
            await Task.Delay(5, timeout.Token);
    }

    private sealed class Armed(ArmedTimeProvider owner) : ITimer
    {
        public ITimer Inner { get; set; } = null!;
        public TimeSpan DueTime { get; private set; }
        private DateTimeOffset _deadline;
        private TimeSpan _period;

        public void Track(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._gate)
            {
                DueTime = dueTime;
                _period = period;
                _deadline = dueTime == Timeout.InfiniteTimeSpan ? DateTimeOffset.MaxValue : owner.GetUtcNow() + dueTime;
                owner._timers.Add(this);
            }
        }

        /// <summary>The next firing after <paramref name="now"/>; null when the timer is stopped or a one-shot that fired.</summary>
        public DateTimeOffset? NextDeadline(DateTimeOffset now)
        {
            if (_deadline == DateTimeOffset.MaxValue) return null;
            if (_deadline > now) return _deadline;
            if (_period <= TimeSpan.Zero || _period == Timeout.InfiniteTimeSpan) return null;
            var periods = (now - _deadline).Ticks / _period.Ticks + 1;
            return _deadline + TimeSpan.FromTicks(periods * _period.Ticks);
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            Track(dueTime, period);
            return Inner.Change(dueTime, period);
        }

        public void Dispose()
        {
            lock (owner._gate) owner._timers.Remove(this);
            Inner.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            lock (owner._gate) owner._timers.Remove(this);
            return Inner.DisposeAsync();
        }
    }
}
