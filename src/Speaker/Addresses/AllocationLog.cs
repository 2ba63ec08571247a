using BgpLb.Allocation;

namespace BgpLb.Speaker.Addresses;

internal static partial class AllocationLog
{
    [LoggerMessage(EventId = 3301, Message = "Allocated {Addresses} to {Service} from pool {Pool} (in-process allocation)")]
    public static partial void Allocated(ILogger logger, LogLevel level, string service, EquatableArray<System.Net.IPAddress> addresses, string pool);

    [LoggerMessage(EventId = 3302, Message = "No address for {Service} ({Failure}): {Reason}")]
    public static partial void NotAllocated(ILogger logger, LogLevel level, string service, AllocationFailure failure, string reason);

    [LoggerMessage(EventId = 3303, Message = "Released the addresses of {Service}")]
    public static partial void Released(ILogger logger, LogLevel level, string service);

    [LoggerMessage(EventId = 3308, Level = LogLevel.Information, Message = "{Count} allocations changed ({Allocated} allocated, {Failed} without address, {Released} released); each is logged at Debug")]
    public static partial void ManyChanged(ILogger logger, int count, int allocated, int failed, int released);

    [LoggerMessage(EventId = 3304, Level = LogLevel.Information, Message = "Announcing nothing until the first allocation snapshot from controller {Controller}")]
    public static partial void WaitingForController(ILogger logger, Uri controller);

    [LoggerMessage(EventId = 3305, Level = LogLevel.Information, Message = "First allocation snapshot from {Controller}: {Count} allocations at revision {Revision}")]
    public static partial void FirstSnapshot(ILogger logger, Uri controller, int count, ulong revision);

    [LoggerMessage(EventId = 3306, Level = LogLevel.Debug, Message = "Allocations from {Controller}: {Count} at revision {Revision}")]
    public static partial void Snapshot(ILogger logger, Uri controller, int count, ulong revision);

    [LoggerMessage(EventId = 3307, Level = LogLevel.Information, Message = "No --controller: allocating addresses in process (single node)")]
    public static partial void InProcess(ILogger logger);
}
