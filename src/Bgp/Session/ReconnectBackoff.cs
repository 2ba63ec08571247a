using Polly;
using Polly.Retry;

namespace BgpLb.Bgp.Session;

/// <summary>How one connection attempt of a peer ended.</summary>
internal enum AttemptOutcome
{
    /// <summary>Connect failed or the session closed before Established: back off before the next attempt.</summary>
    Failed,
    /// <summary>The session had been Established and then closed: reconnect after <see cref="ReconnectBackoff.BaseDelay"/> with a fresh backoff.</summary>
    WasEstablished,
    Stopped,
}

/// <summary>
/// Idle-hold backoff between connection attempts: capped exponential backoff with jitter (Polly), starting at
/// <see cref="BaseDelay"/> and capped at the peer's ConnectRetry time (never below the base). Waits take the token and run on
/// the injected <see cref="TimeProvider"/>.
/// </summary>
internal static class ReconnectBackoff
{
    public static readonly TimeSpan BaseDelay = TimeSpan.FromSeconds(1);

    public static ResiliencePipeline<AttemptOutcome> Create(TimeProvider time, TimeSpan cap, Action<int, TimeSpan>? onRetry = null)
    {
        var options = new RetryStrategyOptions<AttemptOutcome>
        {
            ShouldHandle = static args => ValueTask.FromResult(args.Outcome.Result == AttemptOutcome.Failed),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = BaseDelay,
            MaxDelay = cap > BaseDelay ? cap : BaseDelay,
            MaxRetryAttempts = int.MaxValue,
            OnRetry = args =>
            {
                onRetry?.Invoke(args.AttemptNumber + 1, args.RetryDelay);
                return default;
            },
        };
        return new ResiliencePipelineBuilder<AttemptOutcome> { TimeProvider = time }.AddRetry(options).Build();
    }
}
