using System.Text.Json;
using System.Text.Json.Serialization;
using BgpLb.Planning;

namespace BgpLb.StatusApi;

/// <summary>What one speaker does and why: the document of <c>GET /status</c> (schema in docs/status.md).</summary>
public sealed record SpeakerStatus
{
    /// <summary>The schema version; fields are only ever added within one version.</summary>
    public const int CurrentVersion = 1;

    public int Version { get; init; } = CurrentVersion;
    public required string Node { get; init; }
    public required DateTimeOffset Time { get; init; }
    public required IReadOnlyList<SessionStatus> Sessions { get; init; }
    public required L2Status L2 { get; init; }
    public required IReadOnlyList<ServiceStatus> Services { get; init; }
}

/// <summary>One BGP session and the routes planned towards its peer.</summary>
/// <param name="State">Idle, Connect, Active, OpenSent, OpenConfirm or Established.</param>
/// <param name="UptimeSeconds">Since the session became Established; null when it is not.</param>
/// <param name="LastError">The last error or NOTIFICATION (sent or received) that closed a session.</param>
/// <param name="Bfd">The BFD session's state; null without BFD.</param>
public sealed record SessionStatus(
    string Peer, string Address, int Port, string State, double? UptimeSeconds, uint? RemoteAsn, string? LocalAddress,
    string? LastError, int PrefixesAdvertised, string? Bfd, IReadOnlyList<RouteStatus> Routes);

/// <summary>A prefix planned towards a peer, the Services it carries, and whether it is in the Adj-RIB-Out (sent).</summary>
/// <param name="SentAt">When the UPDATE announcing the prefix with its current attributes was written on the current session; null
/// when not advertised (or from a speaker that predates the field).</param>
public sealed record RouteStatus(string Prefix, IReadOnlyList<string> Services, bool Advertised, DateTimeOffset? SentAt = null);

/// <summary>L2 mode on this node.</summary>
/// <param name="Enabled">L2 liveness runs (--memberlist-secret-file or --memberlist-insecure).</param>
/// <param name="LiveSpeakers">The speakers this node sees alive: the candidates of every L2 election.</param>
/// <param name="Answering">The addresses this node answers ARP/NDP for.</param>
/// <param name="GratuitousSentAt">Per answered address, when its last gratuitous ARP / unsolicited NA went out (an address none
/// could be sent for is absent); null from a speaker that predates the field.</param>
public sealed record L2Status(bool Enabled, IReadOnlyList<string> LiveSpeakers, IReadOnlyList<string> Answering, IReadOnlyList<ConflictStatus> Conflicts,
    IReadOnlyDictionary<string, DateTimeOffset>? GratuitousSentAt = null);

/// <summary>Another host answered this node's probe for an address it owns: the address is not announced.</summary>
public sealed record ConflictStatus(string Address, string Interface, string OtherMac, DateTimeOffset DetectedAt);

/// <summary>A Service with an address, and the decisions of this node for each address.</summary>
public sealed record ServiceStatus(string Service, IReadOnlyList<AddressStatus> Addresses);

/// <param name="Unannounced">As far as this node can tell no node announces the address, for this reason (the gauge
/// bgplb_service_unannounced); null when this node announces it or another node may.</param>
/// <param name="Bgp">Null when the address's pool has only L2 advertisements.</param>
/// <param name="L2">Null when the address is not announced in L2 mode.</param>
public sealed record AddressStatus(string Address, string? Pool, AnnounceReason? Unannounced, BgpDecisionStatus? Bgp, L2DecisionStatus? L2);

/// <param name="Peers">The BGPPeers the address is announced to.</param>
public sealed record BgpDecisionStatus(bool Announced, AnnounceReason Reason, string Detail, IReadOnlyList<string> Peers);

/// <param name="Owner">The elected node; null when no node is eligible.</param>
/// <param name="Interfaces">Where this node answers; empty = every usable interface.</param>
public sealed record L2DecisionStatus(bool Announced, AnnounceReason Reason, string Detail, string? Owner, IReadOnlyList<string> Interfaces);

/// <summary>Source-generated serialization of <see cref="SpeakerStatus"/>: camelCase names, enums as their names.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UseStringEnumConverter = true, WriteIndented = true)]
[JsonSerializable(typeof(SpeakerStatus))]
public sealed partial class StatusJsonContext : JsonSerializerContext;
