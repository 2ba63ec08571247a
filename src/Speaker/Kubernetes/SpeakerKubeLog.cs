namespace BgpLb.Speaker.Kubernetes;

internal static partial class SpeakerKubeLog
{
    [LoggerMessage(EventId = 3090, Level = LogLevel.Critical, Message = "Refusing to start: cannot use the Kubernetes API ({Reason})")]
    public static partial void UnusableKubernetesConnection(ILogger logger, string reason);

    [LoggerMessage(EventId = 3091, Level = LogLevel.Warning, Message = "Could not write {What}, retrying in {Delay}: {Reason}")]
    public static partial void WriteFailed(ILogger logger, string what, TimeSpan delay, string reason);
}
