namespace BgpLb.Controller;

internal static partial class ControllerLog
{
    [LoggerMessage(EventId = 4020, Level = LogLevel.Information, Message = "Controller starting in Kubernetes mode ({Source}) as {Identity} in {Namespace}: allocation service on {GrpcListen}, metrics on {MetricsListen}")]
    public static partial void StartingInKubernetes(ILogger logger, string source, string identity, string @namespace, System.Net.IPEndPoint grpcListen, System.Net.IPEndPoint metricsListen);

    [LoggerMessage(EventId = 4021, Level = LogLevel.Critical, Message = "Refusing to start: cannot use the Kubernetes API ({Reason})")]
    public static partial void UnusableKubernetesConnection(ILogger logger, string reason);

    [LoggerMessage(EventId = 4022, Level = LogLevel.Warning, Message = "Could not write {What}, retrying in {Delay}: {Reason}")]
    public static partial void WriteFailed(ILogger logger, string what, TimeSpan delay, string reason);

    [LoggerMessage(EventId = 4023, Level = LogLevel.Information, Message = "Leader now: rewriting the status of every Service")]
    public static partial void RewritingAll(ILogger logger);

    [LoggerMessage(EventId = 4024, Level = LogLevel.Information, Message = "Wrote {Key}: {Addresses} (pool {Pool})")]
    public static partial void WroteService(ILogger logger, string key, string addresses, string pool);

    [LoggerMessage(EventId = 4025, Level = LogLevel.Debug, Message = "Not the leader: allocated {Count} Services in memory, writing nothing")]
    public static partial void NotLeader(ILogger logger, int count);

}
