using System.Net;
using BgpLb.L2.Wire;
using Microsoft.Extensions.Logging;

namespace BgpLb.L2.Announcing;

internal static partial class L2Log
{
    [LoggerMessage(EventId = 4113, Level = LogLevel.Information, Message = "Interfaces excluded from L2 announcements (metallb-excludel2): {Patterns}")]
    public static partial void ExcludedInterfaces(ILogger logger, string patterns);

    [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Answering ARP on {Interface} (index {Index}, {Mac})")]
    public static partial void ArpOpened(ILogger logger, string @interface, int index, MacAddress mac);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Information, Message = "Answering NDP on {Interface} (index {Index}, {Mac}, link-local {LinkLocal})")]
    public static partial void NdpOpened(ILogger logger, string @interface, int index, MacAddress mac, IPAddress? linkLocal);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Information, Message = "Interface {Interface} is gone or changed; closing its responders")]
    public static partial void LinkClosed(ILogger logger, string @interface);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Warning, Message = "Cannot open a raw socket on {Interface}: {Reason}")]
    public static partial void OpenFailed(ILogger logger, string @interface, string reason);

    [LoggerMessage(EventId = 4105, Level = LogLevel.Information, Message = "Probing {Address} before announcing it")]
    public static partial void Probing(ILogger logger, IPAddress address);

    [LoggerMessage(EventId = 4106, Level = LogLevel.Information, Message = "Announcing {Address} on {Interfaces}")]
    public static partial void Announcing(ILogger logger, IPAddress address, string interfaces);

    [LoggerMessage(EventId = 4107, Level = LogLevel.Information, Message = "Released {Address}: no longer answering for it")]
    public static partial void Released(ILogger logger, IPAddress address);

    [LoggerMessage(EventId = 4108, Level = LogLevel.Error, Message = "Address conflict: {Address} is already used by {Mac} on {Interface}; not announcing it (probing again in {Retry})")]
    public static partial void Conflict(ILogger logger, IPAddress address, MacAddress mac, string @interface, TimeSpan retry);

    [LoggerMessage(EventId = 4109, Level = LogLevel.Warning, Message = "Sending on {Interface} failed: {Reason}")]
    public static partial void SendFailed(ILogger logger, string @interface, string reason);

    [LoggerMessage(EventId = 4110, Level = LogLevel.Warning, Message = "Receiving on {Interface} failed, closing its responder: {Reason}")]
    public static partial void ReceiveFailed(ILogger logger, string @interface, string reason);

    [LoggerMessage(EventId = 4111, Level = LogLevel.Trace, Message = "Answered {Address} to {Requester} on {Interface}", SkipEnabledCheck = true)]
    public static partial void Answered(ILogger logger, string address, MacAddress requester, string @interface);

    [LoggerMessage(EventId = 4112, Level = LogLevel.Information, Message = "Conflict on {Address} resolved: no other host answers any more")]
    public static partial void ConflictResolved(ILogger logger, IPAddress address);

    [LoggerMessage(EventId = 4201, Level = LogLevel.Information, Message = "Speaker {Node} is alive (incarnation {Incarnation})")]
    public static partial void MemberAlive(ILogger logger, string node, ulong incarnation);

    [LoggerMessage(EventId = 4202, Level = LogLevel.Warning, Message = "Speaker {Node} is dead: no heartbeat for {Timeout}")]
    public static partial void MemberDead(ILogger logger, string node, TimeSpan timeout);

    [LoggerMessage(EventId = 4203, Level = LogLevel.Information, Message = "Speaker {Node} left")]
    public static partial void MemberLeft(ILogger logger, string node);

    [LoggerMessage(EventId = 4204, Level = LogLevel.Information, Message = "Membership listening on UDP port {Port} as {Node} (incarnation {Incarnation})")]
    public static partial void MembershipStarted(ILogger logger, int port, string node, ulong incarnation);

    [LoggerMessage(EventId = 4205, Level = LogLevel.Debug, Message = "Heartbeat to {Node} failed: {Reason}")]
    public static partial void HeartbeatFailed(ILogger logger, string node, string reason);

    [LoggerMessage(EventId = 4206, Level = LogLevel.Warning, Message = "Membership datagram from {Source} rejected ({Reason}): {Detail}; {Suppressed} more rejections since the last such line")]
    public static partial void DatagramRejected(ILogger logger, System.Net.IPAddress source, L2.Membership.MembershipRejection reason, string detail, long suppressed);

    [LoggerMessage(EventId = 4207, Level = LogLevel.Warning, Message = "Membership runs WITHOUT authentication (--memberlist-insecure): anyone who can send UDP to port {Port} can make a speaker look alive or gone")]
    public static partial void Insecure(ILogger logger, int port);
}
