using System.Net;

namespace BgpLb.Bgp;

/// <summary>How the remote AS is determined when no fixed peer ASN is configured (MetalLB BGPPeer.dynamicASN).</summary>
public enum DynamicAsnMode
{
    None,
    /// <summary>The peer must use our own AS (iBGP).</summary>
    Internal,
    /// <summary>The peer must use any AS other than ours (eBGP).</summary>
    External,
}

/// <summary>
/// One BGP neighbour as the speaker wants it. Immutable; two equal configs mean "nothing to change".
/// A change of any field other than <see cref="Name"/> and <see cref="Bfd"/> resets the session (Cease/Other Configuration Change).
/// </summary>
public sealed record BgpPeerConfig
{
    /// <summary>The BGPPeer object name ("namespace/name"), used in logs, metrics and status only.</summary>
    public required string Name { get; init; }
    public required IPAddress Address { get; init; }
    public ushort Port { get; init; } = 179;
    public required uint LocalAsn { get; init; }
    /// <summary>Fixed remote AS; null when <see cref="DynamicAsn"/> decides.</summary>
    public uint? PeerAsn { get; init; }
    public DynamicAsnMode DynamicAsn { get; init; }
    /// <summary>Local address to bind the active connection to; null lets the kernel choose.</summary>
    public IPAddress? SourceAddress { get; init; }
    /// <summary>Proposed hold time: zero (no keepalives) or at least 3 s.</summary>
    public TimeSpan HoldTime { get; init; } = TimeSpan.FromSeconds(90);
    /// <summary>Keepalive interval; null means a third of the negotiated hold time.</summary>
    public TimeSpan? KeepaliveTime { get; init; }
    /// <summary>ConnectRetry timer (BGPPeer.connectTime).</summary>
    public TimeSpan ConnectRetryTime { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>BGP identifier; null means derive from the local IPv4 address of the connection.</summary>
    public IPAddress? RouterId { get; init; }
    /// <summary>TCP MD5 (RFC 2385) key; null for none.</summary>
    public string? Password { get; init; }
    /// <summary>eBGP multihop: TTL 255 instead of 1 on eBGP sessions.</summary>
    public bool EbgpMultiHop { get; init; }
    /// <summary>When true only the address family of <see cref="Address"/> is negotiated (no MP for the other family).</summary>
    public bool DisableMP { get; init; }
    /// <summary>
    /// BFD for this neighbour (multi-hop when <see cref="EbgpMultiHop"/>); null for none. A change renegotiates the BFD
    /// timers with a Poll Sequence and leaves the BGP session as it is.
    /// </summary>
    public Bfd.BfdSessionOptions? Bfd { get; init; }
    /// <summary>Sent in the FQDN capability; null to omit it.</summary>
    public string? Hostname { get; init; }
    /// <summary>
    /// RFC 4724 restarting speaker (BGPPeer.enableGracefulRestart): the capability says forwarding state is preserved, and
    /// a process stop closes a session that negotiated graceful restart without a NOTIFICATION, so the peer keeps our
    /// routes as stale for the restart time. False: helper-only capability, and every stop is a Cease.
    /// </summary>
    public bool GracefulRestart { get; init; }

    public bool IsInternal(uint remoteAsn) => remoteAsn == LocalAsn;

    /// <summary>Key that identifies "the same neighbour" across configuration changes.</summary>
    public PeerKey Key => new(Address, Port, SourceAddress);
}

public readonly record struct PeerKey(IPAddress Address, ushort Port, IPAddress? SourceAddress)
{
    public override string ToString() => SourceAddress is null
        ? $"{Address}:{Port}" // matches MetalLB's peer label "ip:port"
        : $"{Address}:{Port} from {SourceAddress}";
}
