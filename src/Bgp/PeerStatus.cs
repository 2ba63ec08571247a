using System.Net;
using BgpLb.Bgp.Fsm;

namespace BgpLb.Bgp;

/// <summary>Message and prefix counters of one peer since it was configured (they survive session resets).</summary>
/// <param name="PrefixesAnnounced">Prefix announcements sent (a prefix re-announced counts again).</param>
/// <param name="PrefixesWithdrawn">Prefix withdrawals sent.</param>
/// <param name="AttributeErrors">Malformed attributes received and handled per RFC 7606 without a reset.</param>
public readonly record struct PeerCounters(
    long UpdatesSent, long UpdatesReceived, long MessagesSent, long MessagesReceived,
    long PrefixesAnnounced, long PrefixesWithdrawn, long AttributeErrors);

/// <summary>A snapshot of one peer for status and metrics.</summary>
/// <param name="Uptime">Time since the session became Established; null when it is not.</param>
/// <param name="NegotiatedHoldTime">Hold time agreed in OPEN; null before OPEN was received.</param>
/// <param name="RemoteAsn">The peer's AS from its OPEN; null before OPEN was received.</param>
/// <param name="RemoteRouterId">The peer's BGP identifier from its OPEN.</param>
/// <param name="LocalAddress">Local address of the current connection.</param>
/// <param name="AdvertisedPrefixes">Prefixes currently advertised to the peer.</param>
/// <param name="LastError">The last error or NOTIFICATION (sent or received) that closed a session, or null.</param>
/// <param name="Bfd">The BFD session's state; null when the peer has no BFD profile or no session was established yet.</param>
public sealed record PeerStatus(
    PeerKey Key,
    string Name,
    BgpState State,
    TimeSpan? Uptime,
    TimeSpan? NegotiatedHoldTime,
    uint? RemoteAsn,
    IPAddress? RemoteRouterId,
    IPAddress? LocalAddress,
    int AdvertisedPrefixes,
    PeerCounters Counters,
    string? LastError,
    BgpLb.Bgp.Bfd.BfdState? Bfd = null);
