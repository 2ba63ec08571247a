namespace BgpLb.Config;

/// <summary>
/// Where Kubernetes-style objects come from: a directory (<see cref="FileStore"/>) or, later, the API server.
/// Sources only read and parse; validation and the last-good logic live in <see cref="ConfigCompiler"/>.
/// </summary>
public interface IResourceSource
{
    /// <summary>Reads the current state once.</summary>
    ValueTask<ResourceSnapshot> ReadAsync(CancellationToken cancellationToken);

    /// <summary>
    /// The current state first, then a new snapshot after each change. Level-based: each snapshot is complete, and a
    /// consumer that falls behind only sees the latest state. Cancelling <paramref name="cancellationToken"/> ends the
    /// enumeration with an <see cref="OperationCanceledException"/>.
    /// </summary>
    IAsyncEnumerable<ResourceSnapshot> WatchAsync(CancellationToken cancellationToken);
}
