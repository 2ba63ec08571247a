using System.Collections.Immutable;

namespace BgpLb.Config;

/// <summary>
/// Where objects come from: a directory of YAML (<see cref="FileStore"/>) or the API server (KubeStore). Sources emit
/// changes by key, never whole snapshots; validation and the last-good rules for metallb.io objects live downstream in
/// <see cref="ClusterState"/>.
/// </summary>
public interface IResourceSource
{
    /// <summary>
    /// The complete current state as the first batch (<see cref="ResourceBatch.IsInitial"/>), then one batch per change
    /// of the source. A consumer that is slow only delays the next batch: changes accumulate by key in the source and
    /// are never queued per event. Cancelling <paramref name="cancellationToken"/> ends the enumeration with an
    /// <see cref="OperationCanceledException"/>.
    /// </summary>
    IAsyncEnumerable<ResourceBatch> WatchAsync(CancellationToken cancellationToken);
}

/// <summary>One object's new state: <see cref="Value"/> as in <see cref="SourceObject"/>, or null when it is gone.</summary>
public readonly record struct ResourceChange(ResourceKey Key, object? Value);

/// <summary>Changes of a source since its previous batch.</summary>
public sealed class ResourceBatch
{
    /// <summary>The first batch of a source: it holds every object.</summary>
    public bool IsInitial { get; init; }

    public List<ResourceChange> Changes { get; } = [];

    /// <summary>
    /// Problems found reading, per origin (file or API object); each list replaces what was reported for that origin
    /// before, and an empty list clears it.
    /// </summary>
    public Dictionary<string, ImmutableArray<ConfigError>> Problems { get; } = new(StringComparer.Ordinal);

    public bool IsEmpty => Changes.Count == 0 && Problems.Count == 0;
}
