using System.Net;

namespace BgpLb.Model;

/// <summary>
/// The compiled metallb.io configuration: only valid objects, each resolved (pool selections, community aliases,
/// password Secrets, timer defaults), listed in name order. Immutable; equal values mean "nothing changed".
/// </summary>
public sealed record MetalLbConfig
{
    public static MetalLbConfig Empty { get; } = new();

    public EquatableArray<AddressPool> Pools { get; init; } = [];
    public EquatableArray<PeerConfig> Peers { get; init; } = [];
    public EquatableArray<BgpAdvertisementConfig> BgpAdvertisements { get; init; } = [];
    public EquatableArray<L2AdvertisementConfig> L2Advertisements { get; init; } = [];
    public EquatableArray<BfdProfileConfig> BfdProfiles { get; init; } = [];
    /// <summary>Interfaces L2 mode never answers on: the metallb-excludel2 ConfigMap, or its default content.</summary>
    public L2InterfaceExclusion ExcludedL2Interfaces { get; init; } = L2InterfaceExclusion.Default;

    /// <summary>The pool whose CIDRs contain <paramref name="address"/>, or null (pools never overlap).</summary>
    public AddressPool? PoolOf(IPAddress address)
    {
        foreach (var pool in Pools)
        {
            foreach (var cidr in pool.Cidrs)
            {
                if (cidr.Contains(address))
                    return pool;
            }
        }
        return null;
    }
}

/// <summary>RFC 8092 large community.</summary>
public readonly record struct LargeCommunity(uint GlobalAdministrator, uint LocalData1, uint LocalData2)
{
    public override string ToString() => $"large:{GlobalAdministrator}:{LocalData1}:{LocalData2}";
}

/// <summary>IPAddressPool. <see cref="Cidrs"/> keeps spec order (ranges are summarized in place).</summary>
public sealed record AddressPool
{
    public required string Name { get; init; }
    public LabelDictionary Labels { get; init; } = LabelDictionary.Empty;
    public required EquatableArray<IPNetwork> Cidrs { get; init; }
    public bool AutoAssign { get; init; } = true;
    public bool AvoidBuggyIPs { get; init; }
    /// <summary>Null when the pool has no serviceAllocation (usable by every Service).</summary>
    public ServiceAllocation? ServiceAllocation { get; init; }
}

/// <summary>IPAddressPool.spec.serviceAllocation. The three lists are ORed; all empty matches every Service.</summary>
public sealed record ServiceAllocation
{
    /// <summary>Lower is preferred; 0 means lowest priority.</summary>
    public int Priority { get; init; }
    public EquatableArray<string> Namespaces { get; init; } = [];
    public EquatableArray<LabelSelector> NamespaceSelectors { get; init; } = [];
    public EquatableArray<LabelSelector> ServiceSelectors { get; init; } = [];
}

public enum PeerDynamicAsn
{
    None,
    Internal,
    External,
}

/// <summary>
/// BGPPeer, resolved: password taken from passwordSecret, timers validated and completed (ka = ht/3, ht = 3·ka).
/// Fields map one to one onto BgpLb.Bgp.BgpPeerConfig.
/// </summary>
public sealed record PeerConfig
{
    public required string Name { get; init; }
    public LabelDictionary Labels { get; init; } = LabelDictionary.Empty;
    public required IPAddress Address { get; init; }
    public ushort Port { get; init; } = 179;
    public required uint MyAsn { get; init; }
    /// <summary>Null when <see cref="DynamicAsn"/> decides.</summary>
    public uint? PeerAsn { get; init; }
    public PeerDynamicAsn DynamicAsn { get; init; }
    public IPAddress? SourceAddress { get; init; }
    /// <summary>Null when neither holdTime nor keepaliveTime is set (the speaker's default applies).</summary>
    public TimeSpan? HoldTime { get; init; }
    /// <summary>Null when neither holdTime nor keepaliveTime is set.</summary>
    public TimeSpan? KeepaliveTime { get; init; }
    /// <summary>BGPPeer.connectTime (whole seconds, 1..65535); null when unset.</summary>
    public TimeSpan? ConnectTime { get; init; }
    public IPAddress? RouterId { get; init; }
    /// <summary>TCP MD5 key from spec.password or the referenced Secret; null for none.</summary>
    public string? Password { get; init; }
    public bool EbgpMultiHop { get; init; }
    public bool DisableMP { get; init; }
    public string? BfdProfile { get; init; }
    public bool EnableGracefulRestart { get; init; }
    public bool DualStackAddressFamily { get; init; }
    /// <summary>Nodes that open this session; empty = all nodes. Selectors are ORed.</summary>
    public EquatableArray<LabelSelector> NodeSelectors { get; init; } = [];

    /// <summary>True when this peer is iBGP (same AS or dynamicASN internal).</summary>
    public bool IsInternal => PeerAsn is { } asn ? asn == MyAsn : DynamicAsn == PeerDynamicAsn.Internal;
}

/// <summary>BGPAdvertisement, with communities and pool selection resolved.</summary>
public sealed record BgpAdvertisementConfig
{
    public required string Name { get; init; }
    public int AggregationLength { get; init; } = 32;
    public int AggregationLengthV6 { get; init; } = 128;
    /// <summary>LOCAL_PREF for iBGP peers; 0 = not set.</summary>
    public uint LocalPref { get; init; }
    public EquatableArray<uint> Communities { get; init; } = [];
    public EquatableArray<LargeCommunity> LargeCommunities { get; init; } = [];
    /// <summary>Names of the pools this advertisement applies to (ipAddressPools ∪ pools matching ipAddressPoolSelectors, or all pools).</summary>
    public EquatableArray<string> Pools { get; init; } = [];
    public EquatableArray<LabelSelector> NodeSelectors { get; init; } = [];
    /// <summary>BGPPeer names; empty = all peers.</summary>
    public EquatableArray<string> Peers { get; init; } = [];
    public EquatableArray<LabelSelector> ServiceSelectors { get; init; } = [];
}

public sealed record L2AdvertisementConfig
{
    public required string Name { get; init; }
    public EquatableArray<string> Pools { get; init; } = [];
    public EquatableArray<LabelSelector> NodeSelectors { get; init; } = [];
    /// <summary>Interface names; empty = all interfaces.</summary>
    public EquatableArray<string> Interfaces { get; init; } = [];
    public EquatableArray<LabelSelector> ServiceSelectors { get; init; } = [];
    /// <summary>Soft election preference: the weights of matching selectors add up (across advertisements too).</summary>
    public EquatableArray<WeightedNodeSelector> PreferredNodeSelectors { get; init; } = [];
}

/// <summary>L2Advertisement.spec.preferredNodeSelectors[]: weight 1..100.</summary>
public sealed record WeightedNodeSelector(int Weight, LabelSelector Preference);

public sealed record BfdProfileConfig
{
    public required string Name { get; init; }
    public TimeSpan ReceiveInterval { get; init; } = TimeSpan.FromMilliseconds(300);
    public TimeSpan TransmitInterval { get; init; } = TimeSpan.FromMilliseconds(300);
    public int DetectMultiplier { get; init; } = 3;
    public bool PassiveMode { get; init; }
    public int MinimumTtl { get; init; } = 254;
}

