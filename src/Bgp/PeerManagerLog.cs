using System.Net;
using Microsoft.Extensions.Logging;

namespace BgpLb.Bgp;

/// <summary>PeerManager events, EventIds 1300-1399 (stable; do not renumber).</summary>
internal static partial class PeerManagerLog
{
    [LoggerMessage(EventId = 1300, Level = LogLevel.Information, Message = "Peer {Peer} ({Name}) added")]
    public static partial void PeerAdded(ILogger logger, PeerKey peer, string name);

    [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "Peer {Peer} ({Name}) removed")]
    public static partial void PeerRemoved(ILogger logger, PeerKey peer, string name);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Information, Message = "Peer {Peer} ({Name}) configuration changed; resetting the session")]
    public static partial void PeerChanged(ILogger logger, PeerKey peer, string name);

    [LoggerMessage(EventId = 1303, Level = LogLevel.Information, Message = "BGP listening on {EndPoint}")]
    public static partial void Listening(ILogger logger, IPEndPoint endPoint);

    [LoggerMessage(EventId = 1304, Level = LogLevel.Warning, Message = "Inbound BGP connection from {Remote} to {Local} matches no configured peer; closed; {Suppressed} more since the last such line")]
    public static partial void UnknownPeer(ILogger logger, IPEndPoint remote, IPEndPoint local, long suppressed);

    [LoggerMessage(EventId = 1305, Level = LogLevel.Error, Message = "BGP listener on {EndPoint} failed")]
    public static partial void ListenerFailed(ILogger logger, IPEndPoint endPoint, Exception exception);

    [LoggerMessage(EventId = 1306, Level = LogLevel.Warning, Message = "Peer {Peer} appears more than once in the desired peers; the first is used")]
    public static partial void DuplicatePeer(ILogger logger, PeerKey peer);

    [LoggerMessage(EventId = 1307, Level = LogLevel.Warning, Message = "Stopping BGP sessions did not finish in time; connections aborted")]
    public static partial void StopAborted(ILogger logger);

    [LoggerMessage(EventId = 1308, Level = LogLevel.Debug, Message = "{Count} route changes for {Peer}, which is not configured; ignored")]
    public static partial void RoutesForUnknownPeer(ILogger logger, PeerKey peer, int count);
}
