namespace BgpLb.Speaker.Allocations;

/// <summary>A version number that waiters can await: the change notification behind <see cref="IAllocationSource"/>.</summary>
public sealed class ChangeSignal
{
    private volatile TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _version;

    public long Version => Interlocked.Read(ref _version);

    /// <summary>Returns once <see cref="Version"/> is above <paramref name="version"/>.</summary>
    public async Task WaitForChangeAsync(long version, CancellationToken cancellationToken)
    {
        while (true)
        {
            var changed = _changed;
            if (Version > version)
                return;
            await changed.Task.WaitAsync(cancellationToken);
        }
    }

    public void Signal()
    {
        // Version before the swap: a waiter that sees the new completion source also sees the new version.
        Interlocked.Increment(ref _version);
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }
}
