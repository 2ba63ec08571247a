using System.Collections.Immutable;

namespace BgpLb.Config;

/// <summary>
/// Reads a <see cref="IResourceSource"/> in the background and merges its batches by key (latest wins) until the consumer
/// takes them, so that a busy consumer gets every change since its last look as one batch and memory never holds more
/// than one change per object. The first batch is handed out by <see cref="StartAsync"/>, so that a consumer can check
/// it before anything else runs.
/// </summary>
public sealed class ResourceFeed(IResourceSource source, WakeSignal wake) : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private Dictionary<ResourceKey, object?> _changes = [];
    private Dictionary<string, ImmutableArray<ConfigError>> _problems = new(StringComparer.Ordinal);
    private Task _pump = Task.CompletedTask;
    private Exception? _failure;

    /// <summary>Starts reading and returns the source's first batch (the complete current state).</summary>
    public async Task<ResourceBatch> StartAsync(CancellationToken cancellationToken)
    {
        var batches = source.WatchAsync(_stop.Token).GetAsyncEnumerator(_stop.Token);
        using var registration = cancellationToken.Register(_stop.Cancel);
        if (!await batches.MoveNextAsync())
            throw new InvalidOperationException("the resource source ended before its first batch");
        var first = batches.Current;
        _pump = PumpAsync(batches);
        return first;
    }

    /// <summary>Everything that changed since the last call; null when nothing did. Throws when the source failed.</summary>
    public ResourceBatch? TakePending()
    {
        Dictionary<ResourceKey, object?> changes;
        Dictionary<string, ImmutableArray<ConfigError>> problems;
        lock (_gate)
        {
            if (_failure is not null)
                throw new InvalidOperationException("the resource source failed", _failure);
            if (_changes.Count == 0 && _problems.Count == 0)
                return null;
            (changes, _changes) = (_changes, []);
            (problems, _problems) = (_problems, new(StringComparer.Ordinal));
        }
        var batch = new ResourceBatch();
        foreach (var (key, value) in changes)
            batch.Changes.Add(new ResourceChange(key, value));
        foreach (var (origin, list) in problems)
            batch.Problems[origin] = list;
        return batch;
    }

    private async Task PumpAsync(IAsyncEnumerator<ResourceBatch> batches)
    {
        try
        {
            while (await batches.MoveNextAsync())
            {
                var batch = batches.Current;
                lock (_gate)
                {
                    foreach (var (key, value) in batch.Changes)
                        _changes[key] = value;
                    foreach (var (origin, list) in batch.Problems)
                        _problems[origin] = list;
                }
                wake.Set();
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            lock (_gate)
                _failure = e;
            wake.Set();
        }
        finally
        {
            await batches.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _pump;
        _stop.Dispose();
    }
}
