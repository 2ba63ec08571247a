namespace BgpLb.Bgp.Session;

/// <summary>
/// One restartable one-shot timer on an injected <see cref="TimeProvider"/>. Restarting reuses the same <see cref="ITimer"/>
/// (the hold timer restarts on every received message, which must not allocate). A callback from an earlier schedule can
/// still arrive after a restart, so the owner asks <see cref="IsDue"/> before acting on a firing.
/// Only the session loop calls <see cref="Start"/>, <see cref="Stop"/> and <see cref="IsDue"/>; the timer thread only calls the callback.
/// </summary>
internal sealed class SessionTimer : IDisposable
{
    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private long _deadlineTicks = long.MaxValue;

    private readonly Action _fired;

    public SessionTimer(TimeProvider time, Action fired)
    {
        _time = time;
        _fired = fired;
        _timer = time.CreateTimer(static s => ((SessionTimer)s!).OnFired(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    private void OnFired() => _fired();

    public bool Running => _deadlineTicks != long.MaxValue;

    public void Start(TimeSpan due)
    {
        _deadlineTicks = _time.GetUtcNow().UtcTicks + due.Ticks;
        _timer.Change(due, Timeout.InfiniteTimeSpan);
    }

    public void Stop()
    {
        _deadlineTicks = long.MaxValue;
        _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>
    /// True when the timer is running and its deadline has passed; marks it stopped. A firing before the deadline (the
    /// timer's clock and <see cref="TimeProvider.GetUtcNow"/> differ by up to a millisecond) re-arms it for the rest, or
    /// the timer would never fire again.
    /// </summary>
    public bool IsDue()
    {
        if (_deadlineTicks == long.MaxValue) return false;
        var remaining = _deadlineTicks - _time.GetUtcNow().UtcTicks;
        if (remaining > 0)
        {
            _timer.Change(TimeSpan.FromTicks(Math.Max(remaining, TimeSpan.TicksPerMillisecond)), Timeout.InfiniteTimeSpan);
            return false;
        }
        _deadlineTicks = long.MaxValue;
        return true;
    }

    public void Dispose() => _timer.Dispose();
}
