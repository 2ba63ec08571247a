using Microsoft.Extensions.Logging;

namespace BgpLb.Kubernetes;

internal static partial class KubeLog
{
    [LoggerMessage(EventId = 5101, Level = LogLevel.Debug, Message = "Listed {Count} {Kind} objects at resourceVersion {ResourceVersion}")]
    public static partial void Listed(ILogger logger, int count, string kind, string resourceVersion);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Information, Message = "Kubernetes informers ready: every kind listed")]
    public static partial void Ready(ILogger logger);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Information, Message = "Watch of {Kind} expired (410 Gone), listing again")]
    public static partial void WatchGone(ILogger logger, string kind);

    [LoggerMessage(EventId = 5104, Level = LogLevel.Warning, Message = "List or watch of {Kind} failed (attempt {Attempt}), retrying in {Delay}: {Reason}")]
    public static partial void WatchFailed(ILogger logger, string kind, int attempt, TimeSpan delay, string reason);

    [LoggerMessage(EventId = 5105, Level = LogLevel.Warning, Message = "Watch of {Kind} was silent for {Timeout}, restarting it")]
    public static partial void WatchSilent(ILogger logger, string kind, TimeSpan timeout);

    [LoggerMessage(EventId = 5106, Level = LogLevel.Information, Message = "List of {Kind} expired while paging (410 Gone), listing again from the first page")]
    public static partial void ListExpired(ILogger logger, string kind);

    [LoggerMessage(EventId = 5120, Level = LogLevel.Warning, Message = "Writing {What} hit a conflict (attempt {Attempt}), reading it again")]
    public static partial void WriteConflict(ILogger logger, string what, int attempt);

    [LoggerMessage(EventId = 5121, Level = LogLevel.Debug, Message = "Wrote {What}")]
    public static partial void Wrote(ILogger logger, string what);

    [LoggerMessage(EventId = 5130, Level = LogLevel.Information, Message = "Leader election {Lease}: {Identity} is now leader")]
    public static partial void BecameLeader(ILogger logger, string lease, string identity);

    [LoggerMessage(EventId = 5131, Level = LogLevel.Warning, Message = "Leader election {Lease}: {Identity} lost leadership")]
    public static partial void LostLeadership(ILogger logger, string lease, string identity);

    [LoggerMessage(EventId = 5132, Level = LogLevel.Warning, Message = "Leader election {Lease}: updating the lease failed: {Reason}")]
    public static partial void LeaseUpdateFailed(ILogger logger, string lease, string reason);

    [LoggerMessage(EventId = 5140, Level = LogLevel.Warning, Message = "Recording event {Reason} on {Object} failed: {Error}")]
    public static partial void EventFailed(ILogger logger, string reason, string @object, string error);
}
