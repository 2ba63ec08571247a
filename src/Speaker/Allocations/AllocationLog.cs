using BgpLb.Allocation;

namespace BgpLb.Speaker.Allocations;

internal static partial class AllocationLog
{
    [LoggerMessage(EventId = 3301, Level = LogLevel.Information, Message = "Allocated {Addresses} to {Service} from pool {Pool} (in-process allocation)")]
    public static partial void Allocated(ILogger logger, string service, System.Collections.Immutable.ImmutableArray<System.Net.IPAddress> addresses, string pool);

    [LoggerMessage(EventId = 3302, Level = LogLevel.Warning, Message = "No address for {Service} ({Failure}): {Reason}")]
    public static partial void NotAllocated(ILogger logger, string service, AllocationFailure failure, string reason);

    [LoggerMessage(EventId = 3303, Level = LogLevel.Information, Message = "Released the addresses of {Service}")]
    public static partial void Released(ILogger logger, string service);

    [LoggerMessage(EventId = 3304, Level = LogLevel.Information, Message = "Announcing nothing until the first allocation snapshot from controller {Controller}")]
    public static partial void WaitingForController(ILogger logger, Uri controller);

    [LoggerMessage(EventId = 3305, Level = LogLevel.Information, Message = "First allocation snapshot from {Controller}: {Count} allocations at revision {Revision}")]
    public static partial void FirstSnapshot(ILogger logger, Uri controller, int count, ulong revision);

    [LoggerMessage(EventId = 3306, Level = LogLevel.Debug, Message = "Allocations from {Controller}: {Count} at revision {Revision}")]
    public static partial void Snapshot(ILogger logger, Uri controller, int count, ulong revision);

    [LoggerMessage(EventId = 3307, Level = LogLevel.Information, Message = "No --controller: allocating addresses in process (single node)")]
    public static partial void InProcess(ILogger logger);
}
