namespace BgpLb.Planning;

/// <summary>
/// Why a node announces a Service address or not: a small, fixed set, so that it can label a metric and be matched by
/// scripts; the decision's detail string names the objects. Logs, /status, the gauge and <c>bgplb explain</c> use the same code.
/// </summary>
public enum AnnounceReason
{
    /// <summary>This node announces the address.</summary>
    Announced,

    /// <summary>The address is in no IPAddressPool.</summary>
    AddressNotInPool,

    /// <summary>No BGPAdvertisement or L2Advertisement selects the address's pool.</summary>
    NoAdvertisementForPool,

    /// <summary>The pool's advertisements exist, but their serviceSelectors match none of the Service's labels.</summary>
    ServiceNotSelected,

    /// <summary>The advertisements that select the pool and the Service do not select this node (nodeSelectors).</summary>
    NodeNotSelected,

    /// <summary>This node has the node.kubernetes.io/exclude-from-external-load-balancers label.</summary>
    NodeExcluded,

    /// <summary>This node has the NetworkUnavailable condition.</summary>
    NodeNetworkUnavailable,

    /// <summary>The Service has no ready (serving) endpoint on any node.</summary>
    NoReadyEndpoint,

    /// <summary>externalTrafficPolicy Local and no ready endpoint on this node (BGP) or on any eligible node (L2).</summary>
    NoLocalReadyEndpoint,

    /// <summary>The BGPAdvertisements that select the address reach none of this node's BGPPeers.</summary>
    NoPeerForNode,

    /// <summary>The BGPAdvertisements that select the address set different localPref values.</summary>
    ConflictingLocalPref,

    /// <summary>L2: another node is the elected owner of the address.</summary>
    NotElected,

    /// <summary>L2: this node's speaker is not live (liveness off, or not seen by the membership).</summary>
    SpeakerNotLive,

    /// <summary>L2: another host answered for the address when this node probed it.</summary>
    AddressConflict,

    /// <summary>No speaker runs on this node (bgplb explain in Kubernetes mode: no Running speaker pod there).</summary>
    SpeakerNotRunning,

    /// <summary>The Service is gone, no longer of type LoadBalancer, or has no address (logs only).</summary>
    ServiceGone,
}

/// <summary>What the reason codes mean beyond their name.</summary>
public static class AnnounceReasons
{
    /// <summary>
    /// A BGP reason that holds for this node only: another node may announce the address. The others (no pool, no
    /// advertisement, no selected Service, no ready endpoint anywhere) hold for every node alike.
    /// </summary>
    public static bool IsNodeSpecific(this AnnounceReason reason) => reason is AnnounceReason.NodeNotSelected
        or AnnounceReason.NodeExcluded or AnnounceReason.NodeNetworkUnavailable or AnnounceReason.NoLocalReadyEndpoint
        or AnnounceReason.NoPeerForNode or AnnounceReason.ConflictingLocalPref or AnnounceReason.NotElected or AnnounceReason.SpeakerNotLive
        or AnnounceReason.SpeakerNotRunning;
}
