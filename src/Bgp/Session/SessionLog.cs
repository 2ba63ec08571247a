using System.Net;
using BgpLb.Bgp.Fsm;
using BgpLb.Bgp.Wire;
using Microsoft.Extensions.Logging;

namespace BgpLb.Bgp.Session;

/// <summary>Session events, EventIds 1200-1299 (stable; do not renumber).</summary>
internal static partial class SessionLog
{
    [LoggerMessage(EventId = 1200, Level = LogLevel.Information, Message = "Peer {Peer} state {OldState} -> {NewState} ({Reason})")]
    public static partial void StateChanged(ILogger logger, string peer, BgpState oldState, BgpState newState, string reason);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Trace, Message = "Peer {Peer} received {Type} ({Length} B)", SkipEnabledCheck = true)]
    public static partial void MessageReceived(ILogger logger, string peer, BgpMessageType type, long length);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Trace, Message = "Peer {Peer} sent {Type}", SkipEnabledCheck = true)]
    public static partial void MessageSent(ILogger logger, string peer, BgpMessageType type);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Warning, Message = "Peer {Peer} NOTIFICATION sent {Code}/{Subcode} {CodeName}/{SubcodeName} {Text}")]
    public static partial void NotificationSent(ILogger logger, string peer, byte code, byte subcode, string codeName, string subcodeName, string text);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Warning, Message = "Peer {Peer} NOTIFICATION received {Code}/{Subcode} {CodeName}/{SubcodeName} {Text}; {Suppressed} more since the last such line")]
    public static partial void NotificationReceived(ILogger logger, string peer, byte code, byte subcode, string codeName, string subcodeName, string text, long suppressed);

    [LoggerMessage(EventId = 1205, Level = LogLevel.Warning, Message = "Peer {Peer} malformed attribute {AttributeType}: {Action} ({Reason}); {Suppressed} more since the last such line")]
    public static partial void AttributeError(ILogger logger, string peer, byte attributeType, AttributeErrorAction action, string reason, long suppressed);

    [LoggerMessage(EventId = 1206, Level = LogLevel.Information, Message = "Peer {Peer} negotiated AS {RemoteAs}, id {RemoteId}, hold {HoldTime} s, families {Families}, local {Local}")]
    public static partial void Negotiated(ILogger logger, string peer, uint remoteAs, IPAddress remoteId, ushort holdTime, IReadOnlyList<AfiSafi> families, IPEndPoint local);

    [LoggerMessage(EventId = 1207, Level = LogLevel.Debug, Message = "Peer {Peer} sync: {Withdrawn} withdrawn, {Announced} announced in {Updates} UPDATEs")]
    public static partial void Synced(ILogger logger, string peer, int withdrawn, int announced, int updates);

    [LoggerMessage(EventId = 1208, Level = LogLevel.Warning, Message = "Peer {Peer}: no {Family} next hop for local address {Local}; {Family} routes are not sent")]
    public static partial void NoNextHop(ILogger logger, string peer, string family, IPAddress local);

    [LoggerMessage(EventId = 1209, Level = LogLevel.Information, Message = "Peer {Peer} connection collision with id {RemoteId}: closing the {Side} connection")]
    public static partial void Collision(ILogger logger, string peer, IPAddress remoteId, string side);

    [LoggerMessage(EventId = 1218, Level = LogLevel.Information,
        Message = "Peer {Peer} connection collision with id {RemoteId}: the {Winner} connection wins by BGP identifier; the {Loser} connection stays until the {Winner} one is Established or closes")]
    public static partial void CollisionYielding(ILogger logger, string peer, IPAddress remoteId, string winner, string loser);

    [LoggerMessage(EventId = 1217, Level = LogLevel.Information,
        Message = "Peer {Peer}: the connection that won the collision closed before it was Established (the peer kept the other): keeping the {Side} connection")]
    public static partial void CollisionWinnerGone(ILogger logger, string peer, string side);

    [LoggerMessage(EventId = 1210, Level = LogLevel.Information, Message = "Peer {Peer} connect failed: {Error}")]
    public static partial void ConnectFailed(ILogger logger, string peer, string error);

    [LoggerMessage(EventId = 1211, Level = LogLevel.Debug, Message = "Peer {Peer} reconnect attempt {Attempt} in {Delay}")]
    public static partial void Backoff(ILogger logger, string peer, int attempt, TimeSpan delay);

    [LoggerMessage(EventId = 1212, Level = LogLevel.Debug, Message = "Peer {Peer} ROUTE-REFRESH {Family} {Subtype}: resending {Count} prefixes")]
    public static partial void RouteRefresh(ILogger logger, string peer, AfiSafi family, RouteRefreshSubtype subtype, int count);

    [LoggerMessage(EventId = 1213, Level = LogLevel.Error, Message = "Peer {Peer} session failed")]
    public static partial void SessionFailed(ILogger logger, string peer, Exception exception);

    [LoggerMessage(EventId = 1214, Level = LogLevel.Information, Message = "Peer {Peer} inbound connection from {Remote} rejected with Cease/{Reason}")]
    public static partial void RejectedInbound(ILogger logger, string peer, IPEndPoint remote, string reason);

    [LoggerMessage(EventId = 1215, Level = LogLevel.Warning, Message = "Peer {Peer} send hold timer expired: the peer read nothing for {SendHoldTime}; closing")]
    public static partial void SendHoldTimerExpired(ILogger logger, string peer, TimeSpan sendHoldTime);

    [LoggerMessage(EventId = 1216, Level = LogLevel.Information, Message = "Peer {Peer} closed without NOTIFICATION for graceful restart: the router keeps our routes as stale for up to {RestartTime} s")]
    public static partial void ClosingForRestart(ILogger logger, string peer, ushort restartTime);

    [LoggerMessage(EventId = 1220, Level = LogLevel.Warning, Message = "Peer {Peer}: BFD session down ({Diagnostic}); closing the BGP session with Cease/BFD Down")]
    public static partial void BfdDown(ILogger logger, string peer, BgpLb.Bgp.Bfd.BfdDiagnostic diagnostic);

    [LoggerMessage(EventId = 1221, Level = LogLevel.Error, Message = "Peer {Peer}: BFD is configured but cannot run: {Error}; the session relies on its hold timer until BFD starts")]
    public static partial void BfdUnavailable(ILogger logger, string peer, string error);
}

internal static class NotificationNames
{
    public static string Code(byte code) => Enum.IsDefined((BgpErrorCode)code) ? ((BgpErrorCode)code).ToString() : "Unknown";

    public static string Subcode(byte code, byte subcode) => (code, subcode) switch
    {
        (1, 1) => "ConnectionNotSynchronized", (1, 2) => "BadMessageLength", (1, 3) => "BadMessageType",
        (2, 1) => "UnsupportedVersion", (2, 2) => "BadPeerAS", (2, 3) => "BadBGPIdentifier", (2, 4) => "UnsupportedOptionalParameter",
        (2, 6) => "UnacceptableHoldTime", (2, 7) => "UnsupportedCapability", (2, 11) => "RoleMismatch",
        (3, 1) => "MalformedAttributeList", (3, 2) => "UnrecognizedWellKnownAttribute", (3, 3) => "MissingWellKnownAttribute",
        (3, 4) => "AttributeFlagsError", (3, 5) => "AttributeLengthError", (3, 6) => "InvalidOrigin", (3, 8) => "InvalidNextHop",
        (3, 9) => "OptionalAttributeError", (3, 10) => "InvalidNetworkField", (3, 11) => "MalformedASPath",
        (5, 1) => "UnexpectedMessageInOpenSent", (5, 2) => "UnexpectedMessageInOpenConfirm", (5, 3) => "UnexpectedMessageInEstablished",
        (6, 1) => "MaximumPrefixesReached", (6, 2) => "AdministrativeShutdown", (6, 3) => "PeerDeconfigured", (6, 4) => "AdministrativeReset",
        (6, 5) => "ConnectionRejected", (6, 6) => "OtherConfigurationChange", (6, 7) => "ConnectionCollisionResolution",
        (6, 8) => "OutOfResources", (6, 9) => "HardReset", (6, 10) => "BfdDown",
        (7, 1) => "InvalidMessageLength",
        (_, 0) => "Unspecific",
        _ => "Unknown",
    };
}
