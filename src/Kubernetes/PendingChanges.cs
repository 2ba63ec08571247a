using System.Collections.Immutable;
using System.Threading.Channels;
using BgpLb.Config;

namespace BgpLb.Kubernetes;

/// <summary>
/// Changes collected into one <see cref="ResourceBatch"/>: one change per object (a later one replaces an earlier one)
/// and one problem list per origin. Not thread-safe.
/// </summary>
internal sealed class ChangeBuffer(bool initial = false)
{
    private readonly Dictionary<ResourceKey, int> _index = [];

    public ResourceBatch Batch { get; } = new() { IsInitial = initial };

    public bool IsEmpty => Batch.IsEmpty;

    public void Set(ResourceKey key, object? value)
    {
        var change = new ResourceChange(key, value);
        if (_index.TryGetValue(key, out var at))
        {
            Batch.Changes[at] = change;
        }
        else
        {
            _index.Add(key, Batch.Changes.Count);
            Batch.Changes.Add(change);
        }
    }

    public void SetProblems(string origin, ImmutableArray<ConfigError> problems) => Batch.Problems[origin] = problems;

    public void MergeFrom(ChangeBuffer other)
    {
        foreach (var (key, value) in other.Batch.Changes)
        {
            Set(key, value);
        }
        foreach (var (origin, problems) in other.Batch.Problems)
        {
            SetProblems(origin, problems);
        }
    }

    public void Clear()
    {
        _index.Clear();
        Batch.Changes.Clear();
        Batch.Problems.Clear();
    }
}

/// <summary>
/// What the informers found and the consumer has not taken yet (the YARP WorkQueue dirty set, H11): the informers
/// publish concurrently, <see cref="Take"/> hands out everything as one batch. However slow the consumer, this holds at
/// most one change per object and one problem list per origin, never one entry per event.
/// </summary>
internal sealed class PendingChanges(int kinds)
{
    private readonly Lock _lock = new();
    private readonly Channel<bool> _signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private ChangeBuffer _pending = new(initial: true);
    private int _unlisted = kinds;

    /// <summary>Every kind has published its first complete list.</summary>
    public bool AllListed
    {
        get
        {
            lock (_lock)
            {
                return _unlisted == 0;
            }
        }
    }

    /// <param name="firstList">These are the changes of the kind's first complete list.</param>
    public void Publish(ChangeBuffer changes, bool firstList)
    {
        if (changes.IsEmpty && !firstList)
        {
            return;
        }
        lock (_lock)
        {
            _pending.MergeFrom(changes);
            if (firstList)
            {
                _unlisted--;
            }
        }
        _signal.Writer.TryWrite(true);
    }

    /// <summary>Waits until something was published since the last wait.</summary>
    public ValueTask<bool> WaitAsync(CancellationToken cancellationToken) => _signal.Reader.ReadAsync(cancellationToken);

    /// <summary>Everything pending (the first call: the initial batch), leaving nothing pending.</summary>
    public ResourceBatch Take()
    {
        lock (_lock)
        {
            var batch = _pending.Batch;
            _pending = new ChangeBuffer();
            return batch;
        }
    }
}
