using System.Net;
using BgpLb.Planning;
using Microsoft.Extensions.Logging;

namespace BgpLb.Speaker;

internal static partial class SpeakerLog
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Speaker for node {Node} starting: config {ConfigDirectory}, BGP listener {BgpListen}, metrics on {MetricsListen}")]
    public static partial void Starting(ILogger logger, string node, string configDirectory, string bgpListen, IPEndPoint metricsListen);

    [LoggerMessage(EventId = 3002, Message = "Announcing {Address} of {Service} to {Peers}")]
    public static partial void Announcing(ILogger logger, LogLevel level, IPAddress address, string service, BgpLb.Model.EquatableArray<string> peers);

    [LoggerMessage(EventId = 3003, Message = "Not announcing {Address} of {Service}: {Reason} ({Detail})")]
    public static partial void NotAnnouncing(ILogger logger, LogLevel level, IPAddress address, string service, AnnounceReason reason, string detail);

    [LoggerMessage(EventId = 3012, Level = LogLevel.Information, Message = "{Changed} address decisions changed ({Announced} announced, {NotAnnounced} not); each is logged at Debug")]
    public static partial void ManyDecisionsChanged(ILogger logger, int changed, int announced, int notAnnounced);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "{Warning}")]
    public static partial void PlanWarning(ILogger logger, string warning);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Information, Message = "BGP: {Peers} sessions configured, {Routes} routes in all")]
    public static partial void Applied(ILogger logger, int peers, int routes);

    [LoggerMessage(EventId = 3101, Message = "L2: this node owns {Address} of {Service} (answering on {Interfaces})")]
    public static partial void Owning(ILogger logger, LogLevel level, IPAddress address, string service, string interfaces);

    [LoggerMessage(EventId = 3102, Message = "L2: not answering for {Address} of {Service}: {Reason} ({Detail})")]
    public static partial void NotOwning(ILogger logger, LogLevel level, IPAddress address, string service, AnnounceReason reason, string detail);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Information, Message = "Stopping: sending Cease/Administrative Shutdown to every peer")]
    public static partial void Stopping(ILogger logger);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Critical, Message = "Refusing to start: the first configuration has {Count} errors (listed above)")]
    public static partial void UnusableFirstConfiguration(ILogger logger, int count);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Warning, Message = "L2 liveness is OFF: neither --memberlist-secret-file nor --memberlist-insecure was given, so this speaker answers ARP/NDP for no Service (BGP is not affected)")]
    public static partial void MembershipOff(ILogger logger);

    [LoggerMessage(EventId = 3009, Level = LogLevel.Error, Message = "{Count} L2Advertisements are configured but L2 mode is off on this node: give --memberlist-secret-file (the shared key of the speakers' liveness datagrams) or, knowingly, --memberlist-insecure")]
    public static partial void L2Refused(ILogger logger, int count);
}
