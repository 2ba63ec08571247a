using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using BgpLb.Allocation;
using BgpLb.Bgp;
using BgpLb.Config;
using k8s.Models;
using LargeCommunity = BgpLb.Bgp.LargeCommunity;
using Route = BgpLb.Bgp.Route;

namespace BgpLb.Speaker.Bgp;

/// <summary>Why one Service address is or is not announced from this node (for logs, metrics and status).</summary>
/// <remarks>Value equality (also of <see cref="Peers"/>): the speaker logs only decisions that differ from the previous plan.</remarks>
public sealed record AddressDecision(string Service, IPAddress Address, bool Announced, string Reason, EquatableArray<string> Peers);

/// <summary>What this node should do in BGP mode: the sessions with their routes, and the reason behind every address.</summary>
public sealed record BgpPlan(
    ImmutableArray<PeerIntent> Peers,
    ImmutableArray<AddressDecision> Addresses,
    ImmutableArray<string> Warnings);

/// <summary>
/// Pure function from the validated configuration and the Services' allocated addresses to this node's BGP sessions and routes, following MetalLB's
/// ShouldAnnounce rules: an advertisement must select the address's pool, this node and the Service; the node must not
/// be excluded; externalTrafficPolicy Local needs a serving endpoint on this node, Cluster one anywhere.
/// </summary>
public static class BgpAnnouncementPlanner
{
    /// <summary>Hold time when a BGPPeer sets neither holdTime nor keepaliveTime (MetalLB's native default).</summary>
    public static readonly TimeSpan DefaultHoldTime = TimeSpan.FromSeconds(90);

    /// <param name="addresses">The addresses each Service holds, keyed "namespace/name" (from the controller or the in-process allocator).</param>
    public static BgpPlan Plan(BgpLbConfig config, string nodeName, IReadOnlyDictionary<string, ImmutableArray<IPAddress>> addresses)
    {
        var warnings = ImmutableArray.CreateBuilder<string>();
        var node = config.Nodes.FirstOrDefault(n => n.Metadata?.Name == nodeName);
        if (node is null)
            warnings.Add($"no Node object named '{nodeName}': node selectors see a node without labels");
        var nodeLabels = node?.Metadata?.Labels;

        var peers = config.Peers
            .Where(p => LabelSelector.MatchesAny(p.NodeSelectors, nodeLabels))
            .ToImmutableArray();
        foreach (var peer in peers)
            warnings.AddRange(UnsupportedPeerFeatures(peer));

        var routes = peers.ToDictionary(p => p.Name, _ => new Dictionary<IPNetwork, RouteAttributes>(), StringComparer.Ordinal);
        var decisions = ImmutableArray.CreateBuilder<AddressDecision>();
        var excluded = node is not null && ServiceHelpers.IsExcludedFromLoadBalancers(node);
        // Each Service looks only at its own slices: scanning all slices per Service is quadratic (minutes at 100k Services).
        var slicesByService = config.EndpointSlices.ToLookup(s =>
            (s.Metadata?.NamespaceProperty, s.Metadata?.Labels?.TryGetValue(ServiceHelpers.ServiceNameLabel, out var name) == true ? name : null));

        foreach (var service in config.Services)
        {
            if (!ServiceHelpers.IsLoadBalancer(service) || !ServiceHelpers.MatchesLoadBalancerClass(service, configuredClass: null))
                continue;
            var serviceName = ServiceRequests.KeyOf(service);
            foreach (var address in addresses.GetValueOrDefault(serviceName, []))
            {
                if (IsLayer2Only(config, address))
                    continue; // announced by the L2 planner; not a BGP decision
                var (reason, announcedTo) = excluded
                    ? ("node is excluded from load balancers (NetworkUnavailable or exclude label)", [])
                    : PlanAddress(config, service, slicesByService[(service.Metadata?.NamespaceProperty, service.Metadata?.Name)], address, nodeName, nodeLabels, peers, routes);
                decisions.Add(new AddressDecision(serviceName, address, !announcedTo.IsEmpty, reason, announcedTo));
            }
        }

        var intents = peers
            .Select(p => new PeerIntent(ToBgpPeerConfig(p, nodeName),
                routes[p.Name].Select(r => new Route(r.Key, r.Value)).ToArray()))
            .ToImmutableArray();
        return new BgpPlan(intents, decisions.ToImmutable(), warnings.ToImmutable());
    }

    private static bool IsLayer2Only(BgpLbConfig config, IPAddress address) =>
        config.Pools.FirstOrDefault(p => p.Cidrs.Any(c => c.Contains(address))) is { } pool
        && !config.BgpAdvertisements.Any(a => a.Pools.Contains(pool.Name))
        && config.L2Advertisements.Any(a => a.Pools.Contains(pool.Name));

    private static (string Reason, ImmutableArray<string> Peers) PlanAddress(
        BgpLbConfig config, V1Service service, IEnumerable<V1EndpointSlice> serviceSlices, IPAddress address, string nodeName, IDictionary<string, string>? nodeLabels,
        ImmutableArray<PeerConfig> peers, Dictionary<string, Dictionary<IPNetwork, RouteAttributes>> routes)
    {
        var pool = config.Pools.FirstOrDefault(p => p.Cidrs.Any(c => c.Contains(address)));
        if (pool is null)
            return ("address is in no IPAddressPool", []);

        var advertisements = config.BgpAdvertisements
            .Where(a => a.Pools.Contains(pool.Name)
                && LabelSelector.MatchesAny(a.NodeSelectors, nodeLabels)
                && LabelSelector.MatchesAny(a.ServiceSelectors, service.Metadata?.Labels))
            .ToList();
        if (advertisements.Count == 0)
            return ($"no BGPAdvertisement selects pool '{pool.Name}' for this node and Service", []);

        if (advertisements.Select(a => a.LocalPref).Where(p => p != 0).Distinct().Count() > 1)
            return ($"BGPAdvertisements {string.Join(", ", advertisements.Select(a => a.Name))} set different localPref values", []);

        var hasEndpoint = ServiceHelpers.IsLocalTrafficPolicy(service)
            ? ServiceHelpers.HasServingEndpointOnNode(service, serviceSlices, nodeName)
            : ServiceHelpers.HasServingEndpoint(service, serviceSlices);
        if (!hasEndpoint)
            return (ServiceHelpers.IsLocalTrafficPolicy(service)
                ? "externalTrafficPolicy Local and no serving endpoint on this node"
                : "no serving endpoint", []);

        var announcedTo = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var advertisement in advertisements)
        {
            var length = address.AddressFamily == AddressFamily.InterNetwork ? advertisement.AggregationLength : advertisement.AggregationLengthV6;
            var prefix = new IPNetwork(Mask(address, length), length);
            var attributes = new RouteAttributes(
                advertisement.LocalPref == 0 ? null : advertisement.LocalPref,
                advertisement.Communities,
                advertisement.LargeCommunities.Select(c => new LargeCommunity(c.GlobalAdministrator, c.LocalData1, c.LocalData2)));
            foreach (var peer in peers.Where(p => advertisement.Peers.IsEmpty || advertisement.Peers.Contains(p.Name)))
            {
                var peerRoutes = routes[peer.Name];
                peerRoutes[prefix] = peerRoutes.TryGetValue(prefix, out var existing) ? Merge(existing, attributes) : attributes;
                announcedTo.Add(peer.Name);
            }
        }
        return announcedTo.Count == 0
            ? ("no BGPPeer of this node is selected by the BGPAdvertisements", [])
            : ("announced", [.. announcedTo]);
    }

    /// <summary>Two advertisements of one prefix to one peer: communities are unioned (MetalLB).</summary>
    private static RouteAttributes Merge(RouteAttributes a, RouteAttributes b) =>
        new(a.LocalPref ?? b.LocalPref, a.Communities.Concat(b.Communities), a.LargeCommunities.Concat(b.LargeCommunities));

    private static IPAddress Mask(IPAddress address, int length)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var count);
        bytes = bytes[..count];
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(length - i * 8, 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
        return new IPAddress(bytes);
    }

    private static IEnumerable<string> UnsupportedPeerFeatures(PeerConfig peer)
    {
        if (peer.BfdProfile is not null)
            yield return $"BGPPeer '{peer.Name}': bfdProfile '{peer.BfdProfile}' is not applied: BFD is not available in this version";
        if (peer.EnableGracefulRestart)
            yield return $"BGPPeer '{peer.Name}': enableGracefulRestart is not applied: the speaker advertises the graceful restart capability without preserving forwarding state";
    }

    public static BgpPeerConfig ToBgpPeerConfig(PeerConfig peer, string nodeName)
    {
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
        };
        return peer.ConnectTime is { } connect ? config with { ConnectRetryTime = connect } : config;
    }
}
