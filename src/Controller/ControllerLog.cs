using System.Net;
using BgpLb.Allocation;

namespace BgpLb.Controller;

internal static partial class ControllerLog
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Controller starting: config {ConfigDirectory}, state {StateFile}, allocation service on {GrpcListen}, metrics on {MetricsListen}")]
    public static partial void Starting(ILogger logger, string configDirectory, string stateFile, IPEndPoint grpcListen, IPEndPoint metricsListen);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Critical, Message = "Refusing to start: the first configuration has {Count} errors (listed above)")]
    public static partial void UnusableFirstConfiguration(ILogger logger, int count);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Critical, Message = "Refusing to start: {Reason}")]
    public static partial void RefusingToStart(ILogger logger, string reason);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Warning, Message = "Discarded {What}; the state in {StateFile} is intact")]
    public static partial void DiscardedInterruptedWrite(ILogger logger, string what, string stateFile);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Information, Message = "Loaded {Count} allocations and {External} external requests from {StateFile}")]
    public static partial void StateLoaded(ILogger logger, int count, int external, string stateFile);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Error, Message = "Could not save allocations to {StateFile}: {Reason}; what changed is not published until it is saved")]
    public static partial void StateNotSaved(ILogger logger, string stateFile, string reason);

    [LoggerMessage(EventId = 4007, Level = LogLevel.Information, Message = "Saved allocations to {StateFile} again; {Count} held-back changes published")]
    public static partial void StateSavedAgain(ILogger logger, string stateFile, int count);

    [LoggerMessage(EventId = 4010, Message = "Allocated {Key}: {Addresses} from pool {Pool}")]
    public static partial void Allocated(ILogger logger, LogLevel level, string key, EquatableArray<IPAddress> addresses, string pool);

    [LoggerMessage(EventId = 4011, Message = "Moved {Key} from {Before} to {After} (pool {Pool})")]
    public static partial void Moved(ILogger logger, LogLevel level, string key, EquatableArray<IPAddress> before, EquatableArray<IPAddress> after, string pool);

    [LoggerMessage(EventId = 4012, Message = "Cannot allocate for {Key}: {Failure}: {Reason}")]
    public static partial void AllocationFailed(ILogger logger, LogLevel level, string key, AllocationFailure failure, string reason);

    [LoggerMessage(EventId = 4013, Message = "Released {Key} ({Addresses})")]
    public static partial void Released(ILogger logger, LogLevel level, string key, EquatableArray<IPAddress> addresses);

    [LoggerMessage(EventId = 4017, Level = LogLevel.Information, Message = "{Count} allocations changed ({Allocated} allocated, {Failed} without address, {Released} released); each is logged at Debug")]
    public static partial void ManyChanged(ILogger logger, int count, int allocated, int failed, int released);

    [LoggerMessage(EventId = 4014, Level = LogLevel.Information, Message = "Stopping")]
    public static partial void Stopping(ILogger logger);
}
