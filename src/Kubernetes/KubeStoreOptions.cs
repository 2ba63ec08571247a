namespace BgpLb.Kubernetes;

/// <summary>Timing and paging of <see cref="KubeStore"/>'s informers.</summary>
public sealed record KubeStoreOptions
{
    /// <summary>Items per list request (as client-go informers page), so that a large kind never comes as one document.</summary>
    public int ListPageSize { get; init; } = 500;

    /// <summary>Asked of the API server per watch; it closes the watch after this and the informer re-opens it.</summary>
    public int WatchTimeoutSeconds { get; init; } = 300;

    /// <summary>A watch that delivered nothing (not even a BOOKMARK) for this long is restarted.</summary>
    public TimeSpan SilentWatchTimeout { get; init; } = TimeSpan.FromMinutes(3);

    /// <summary>First reconnect delay after a failed list or watch; doubles per failure (with jitter) up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(30);
}
