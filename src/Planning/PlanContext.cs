using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using BgpLb.Bgp;
using BgpLb.Bgp.Bfd;
using BgpLargeCommunity = BgpLb.Bgp.LargeCommunity;

namespace BgpLb.Planning;

/// <summary>One of this node's BGP sessions that an advertisement reaches.</summary>
public readonly record struct PeerTarget(string Name, PeerKey Key);

/// <summary>A BGPAdvertisement that selects this node, resolved for planning: its route attributes and the sessions it reaches.</summary>
public sealed record AdvertisementView(BgpAdvertisementConfig Advertisement, RouteAttributes Attributes, EquatableArray<PeerTarget> Peers);

/// <summary>
/// How one pool is announced from this node: every BGP advertisement that selects it (<see cref="AllBgp"/>), the ones
/// among them that select this node (<see cref="Bgp"/>), and its L2 advertisements. Value equality: a configuration
/// change that leaves a pool's view equal changes nothing for the Services of that pool.
/// </summary>
public sealed record PoolView(
    AddressPool Pool,
    EquatableArray<BgpAdvertisementConfig> AllBgp,
    EquatableArray<AdvertisementView> Bgp,
    EquatableArray<L2AdvertisementConfig> L2)
{
    /// <summary>Some BGPAdvertisement selects the pool (for this node or not).</summary>
    public bool HasBgp => !AllBgp.IsEmpty;

    /// <summary>Only L2 advertisements select the pool: its addresses are not a BGP matter at all.</summary>
    public bool IsLayer2Only => !HasBgp && !L2.IsEmpty;

    /// <summary>Some BGPAdvertisement of the pool, for any node, selects the Service (serviceSelectors).</summary>
    public bool SelectsService(ServiceInfo service)
    {
        ArgumentNullException.ThrowIfNull(service);
        if (_selectsEveryService)
            return true;
        foreach (var advertisement in AllBgp)
        {
            if (LabelSelector.MatchesAny(advertisement.ServiceSelectors, service.Labels))
                return true;
        }
        return false;
    }

    private readonly bool _selectsEveryService = AllBgp.Any(a => a.ServiceSelectors.IsEmpty);

    // Decisions shared by every Service of the pool that all of its advertisements select (the common case), so that
    // 100,000 Services hold a handful of decision objects.
    internal BgpDecision NoAdvertisement { get; } =
        new(AnnounceReason.NoAdvertisementForPool, $"no BGPAdvertisement or L2Advertisement selects pool '{Pool.Name}'", []);

    internal BgpDecision ServiceNotSelected { get; } = new(AnnounceReason.ServiceNotSelected,
        $"the serviceSelectors of BGPAdvertisements {Names(AllBgp)} (pool '{Pool.Name}') do not match the Service", []);

    internal BgpDecision NodeNotSelected { get; } = new(AnnounceReason.NodeNotSelected,
        $"no BGPAdvertisement of pool '{Pool.Name}' that selects the Service selects this node (nodeSelectors of {Names(AllBgp)})", []);

    internal BgpDecision AnnouncedByAll { get; } = new(AnnounceReason.Announced, "announced",
        [.. Bgp.SelectMany(a => a.Peers).Select(p => p.Name).Distinct().Order(StringComparer.Ordinal)]);

    private static string Names(EquatableArray<BgpAdvertisementConfig> advertisements) => string.Join(", ", advertisements.Select(a => a.Name));
}

/// <summary>
/// Everything a Service's plan depends on other than the Service itself: the configuration resolved for this node
/// (its peers, a <see cref="PoolView"/> per pool) and, for L2 elections, the nodes and which speakers are alive.
/// Built once per change of the configuration, of this node, of the nodes or of the live speakers.
/// </summary>
public sealed class PlanContext
{
    /// <summary>Hold time when a BGPPeer sets neither holdTime nor keepaliveTime (MetalLB's native default).</summary>
    public static readonly TimeSpan DefaultHoldTime = TimeSpan.FromSeconds(90);

    private readonly Dictionary<string, PoolView> _pools;

    /// <param name="ignoreExcludeLabel">--ignore-exclude-lb: nodes with the exclude-from-external-load-balancers label announce too.</param>
    public PlanContext(MetalLbConfig config, string nodeName, IReadOnlyDictionary<string, NodeInfo> nodes, IReadOnlySet<string> liveSpeakers,
        string? loadBalancerClass = null, bool ignoreExcludeLabel = false)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(nodes);
        Config = config;
        NodeName = nodeName;
        LoadBalancerClass = loadBalancerClass;
        IgnoreExcludeLabel = ignoreExcludeLabel;
        Node = nodes.GetValueOrDefault(nodeName);
        LiveSpeakers = liveSpeakers;
        var warnings = ImmutableArray.CreateBuilder<string>();
        if (Node is null)
            warnings.Add($"no Node object named '{nodeName}': node selectors see a node without labels");
        var labels = NodeLabels;
        var peers = config.Peers.Where(p => LabelSelector.MatchesAny(p.NodeSelectors, labels)).ToList();
        Peers = [.. peers.Select(p => ToBgpPeerConfig(p, nodeName, config.BfdProfiles.FirstOrDefault(b => b.Name == p.BfdProfile)))];
        Warnings = warnings.ToImmutable();
        var targets = peers.Select(p => new PeerTarget(p.Name, new PeerKey(p.Address, p.Port, p.SourceAddress))).ToList();
        _pools = config.Pools.ToDictionary(p => p.Name, p => View(config, p, labels, targets), StringComparer.Ordinal);
        // A node without a Node object still takes part in elections for itself.
        L2Nodes = [.. nodes.Values.Where(n => n.Name != nodeName).Append(Node ?? new NodeInfo(nodeName, LabelDictionary.Empty, false, null))
            .OrderBy(n => n.Name, StringComparer.Ordinal)];
    }

    public MetalLbConfig Config { get; }
    public string NodeName { get; }
    public string? LoadBalancerClass { get; }
    public bool IgnoreExcludeLabel { get; }

    /// <summary>This node's Node object; null when there is none (node selectors then see no labels).</summary>
    public NodeInfo? Node { get; }

    public LabelDictionary NodeLabels => Node?.Labels ?? LabelDictionary.Empty;

    /// <summary>Why this node announces nothing (NetworkUnavailable, exclude label), or null.</summary>
    public (AnnounceReason Reason, string Detail)? Exclusion => Node is null ? null : ExclusionOf(Node);

    /// <summary>Why <paramref name="node"/> may not announce (MetalLB: NetworkUnavailable, or the exclude label unless ignored), or null.</summary>
    public (AnnounceReason Reason, string Detail)? ExclusionOf(NodeInfo node)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (node.NetworkUnavailable)
            return NetworkUnavailable;
        if (!IgnoreExcludeLabel && node.Labels.ContainsKey(MetalLbNames.ExcludeFromLoadBalancersLabel))
            return ExcludeLabel;
        return null;
    }

    private static readonly (AnnounceReason, string) NetworkUnavailable =
        (AnnounceReason.NodeNetworkUnavailable, "the node has the NetworkUnavailable condition");

    private static readonly (AnnounceReason, string) ExcludeLabel =
        (AnnounceReason.NodeExcluded, $"the node has the {MetalLbNames.ExcludeFromLoadBalancersLabel} label");

    /// <summary>This node's BGP sessions: the BGPPeers whose node selectors match it.</summary>
    public ImmutableArray<BgpPeerConfig> Peers { get; }

    /// <summary>Configuration that is accepted but not (fully) applied, for the log.</summary>
    public ImmutableArray<string> Warnings { get; }

    /// <summary>Every node that can take part in an L2 election (this one included), by name.</summary>
    public ImmutableArray<NodeInfo> L2Nodes { get; }

    public IReadOnlySet<string> LiveSpeakers { get; }

    public IEnumerable<PoolView> Pools => _pools.Values;

    public PoolView? Pool(string name) => _pools.GetValueOrDefault(name);

    /// <summary>
    /// The pool of <paramref name="address"/>: <paramref name="allocatedFrom"/> (the pool the allocation names) when it
    /// holds the address, else the pool whose CIDRs contain it.
    /// </summary>
    public PoolView? PoolOf(IPAddress address, string? allocatedFrom)
    {
        if (allocatedFrom is not null && _pools.TryGetValue(allocatedFrom, out var named) && named.Pool.Cidrs.Any(c => c.Contains(address)))
            return named;
        return Config.PoolOf(address) is { } pool ? _pools[pool.Name] : null;
    }

    /// <summary>True when the L2 elections see the same nodes and live speakers in both contexts.</summary>
    public bool SameL2World(PlanContext other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return L2Nodes.SequenceEqual(other.L2Nodes) && LiveSpeakers.SetEquals(other.LiveSpeakers);
    }

    private static PoolView View(MetalLbConfig config, AddressPool pool, LabelDictionary nodeLabels, List<PeerTarget> targets)
    {
        var bgp = config.BgpAdvertisements.Where(a => a.Pools.Contains(pool.Name)).ToList();
        var forNode = bgp.Where(a => LabelSelector.MatchesAny(a.NodeSelectors, nodeLabels))
            .Select(a => new AdvertisementView(a, Attributes(a),
                [.. targets.Where(t => a.Peers.IsEmpty || a.Peers.Contains(t.Name))]));
        return new PoolView(pool, [.. bgp], [.. forNode], [.. config.L2Advertisements.Where(a => a.Pools.Contains(pool.Name))]);
    }

    private static RouteAttributes Attributes(BgpAdvertisementConfig advertisement) => new(
        advertisement.LocalPref == 0 ? null : advertisement.LocalPref,
        advertisement.Communities,
        advertisement.LargeCommunities.Select(c => new BgpLargeCommunity(c.GlobalAdministrator, c.LocalData1, c.LocalData2)));

    /// <param name="bfd">The peer's BFDProfile (validated with the peer: it exists when the peer names one).</param>
    public static BgpPeerConfig ToBgpPeerConfig(PeerConfig peer, string nodeName, BfdProfileConfig? bfd)
    {
        ArgumentNullException.ThrowIfNull(peer);
        var config = new BgpPeerConfig
        {
            Name = peer.Name,
            Address = peer.Address,
            Port = peer.Port,
            LocalAsn = peer.MyAsn,
            PeerAsn = peer.PeerAsn,
            DynamicAsn = peer.DynamicAsn switch
            {
                PeerDynamicAsn.Internal => DynamicAsnMode.Internal,
                PeerDynamicAsn.External => DynamicAsnMode.External,
                _ => DynamicAsnMode.None,
            },
            SourceAddress = peer.SourceAddress,
            HoldTime = peer.HoldTime ?? DefaultHoldTime,
            KeepaliveTime = peer.KeepaliveTime,
            RouterId = peer.RouterId,
            Password = peer.Password,
            EbgpMultiHop = peer.EbgpMultiHop,
            DisableMP = peer.DisableMP,
            Hostname = nodeName,
            Bfd = bfd is null ? null : new BfdSessionOptions
            {
                DesiredMinTxInterval = (uint)(bfd.TransmitInterval.Ticks / TimeSpan.TicksPerMicrosecond),
                RequiredMinRxInterval = (uint)(bfd.ReceiveInterval.Ticks / TimeSpan.TicksPerMicrosecond),
                DetectMultiplier = (byte)bfd.DetectMultiplier,
                Passive = bfd.PassiveMode,
                MinimumTtl = (byte)bfd.MinimumTtl,
            },
            GracefulRestart = peer.EnableGracefulRestart,
        };
        return peer.ConnectTime is { } connect ? config with { ConnectRetryTime = connect } : config;
    }

    internal static IPNetwork Prefix(IPAddress address, int length)
    {
        var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (length >= bits)
            return new IPNetwork(address, bits);
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var count);
        bytes = bytes[..count];
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(length - i * 8, 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
        return new IPNetwork(new IPAddress(bytes), length);
    }
}
