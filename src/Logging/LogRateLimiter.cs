namespace BgpLb.Logging;

/// <summary>
/// For a log line that a remote party can trigger at will (a malformed packet, a connection from an unknown address):
/// lets the first through, then at most one per interval, and counts those held back so that the next line let through
/// can say how many there were. The log shows every kind of trouble without letting a sender flood it.
/// Thread-safe and allocation-free; one instance per kind of line (and per peer where the line names one).
/// </summary>
public sealed class LogRateLimiter(TimeProvider time, TimeSpan interval)
{
    /// <summary>The interval used unless a component has a reason for another.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(10);

    private readonly Lock _gate = new();
    private bool _logged;
    private long _loggedAt;
    private long _suppressed;

    public LogRateLimiter(TimeProvider time) : this(time, DefaultInterval)
    {
    }

    /// <summary>Whether to log this occurrence; if so, <paramref name="suppressed"/> is how many were held back since the last line let through.</summary>
    public bool TryAcquire(out long suppressed)
    {
        var now = time.GetTimestamp();
        lock (_gate)
        {
            if (_logged && time.GetElapsedTime(_loggedAt, now) < interval)
            {
                _suppressed++;
                suppressed = 0;
                return false;
            }
            suppressed = _suppressed;
            (_logged, _loggedAt, _suppressed) = (true, now, 0);
            return true;
        }
    }
}
