using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace BgpLb.Bgp.Bfd;

/// <summary>BFD events, EventIds 1400-1499 (stable; do not renumber).</summary>
internal static partial class BfdLog
{
    [LoggerMessage(EventId = 1400, Level = LogLevel.Information, Message = "BFD {Kind} session with {Remote} from {Local} added (discriminator {Discriminator})")]
    public static partial void SessionAdded(ILogger logger, string kind, IPAddress remote, IPAddress local, uint discriminator);

    [LoggerMessage(EventId = 1401, Level = LogLevel.Information, Message = "BFD session with {Remote} removed (AdminDown sent)")]
    public static partial void SessionRemoved(ILogger logger, IPAddress remote);

    [LoggerMessage(EventId = 1402, Level = LogLevel.Information, Message = "BFD {Remote}: {OldState} -> {NewState} ({Diagnostic})")]
    public static partial void StateChanged(ILogger logger, IPAddress remote, BfdState oldState, BfdState newState, BfdDiagnostic diagnostic);

    [LoggerMessage(EventId = 1403, Level = LogLevel.Debug, Message = "BFD packet from {Remote} discarded: {Reason}; {Suppressed} more since the last such line")]
    public static partial void Discarded(ILogger logger, PacketSource remote, BfdDiscardReason reason, long suppressed);

    [LoggerMessage(EventId = 1404, Level = LogLevel.Debug, Message = "BFD packet from {Remote} for discriminator {Discriminator} matches no session; {Suppressed} more since the last such line")]
    public static partial void NoSession(ILogger logger, PacketSource remote, uint discriminator, long suppressed);

    [LoggerMessage(EventId = 1406, Level = LogLevel.Debug, Message = "BFD packet from {Remote} dropped: TTL {Ttl}, the session requires at least {MinimumTtl}; {Suppressed} more since the last such line")]
    public static partial void WrongTtl(ILogger logger, PacketSource remote, int ttl, int minimumTtl, long suppressed);

    [LoggerMessage(EventId = 1407, Level = LogLevel.Warning, Message = "BFD multi-hop packets from {Remote} arrive with TTL {Ttl}, below the BFDProfile's minimumTtl {MinimumTtl}: dropped (said once per session; lower minimumTtl if the router sends with a smaller TTL)")]
    public static partial void TtlBelowMinimum(ILogger logger, PacketSource remote, int ttl, int minimumTtl);

    [LoggerMessage(EventId = 1405, Level = LogLevel.Warning, Message = "BFD packet to {Remote} not sent: {Error}")]
    public static partial void SendFailed(ILogger logger, IPAddress remote, SocketError error);
}
