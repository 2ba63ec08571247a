using BgpLb.Allocation;
using System.Collections.Immutable;
using System.Net;
using BgpLb.Config;
using BgpLb.L2.Announcing;
using BgpLb.L2.Election;
using k8s.Models;

namespace BgpLb.Speaker.L2;

/// <summary>Who announces one Service address in L2 mode and why (for logs, metrics and status).</summary>
/// <param name="Owner">The elected node, or null when no node is eligible.</param>
/// <param name="Interfaces">Where this node answers when it owns the address; empty = every usable interface.</param>
public sealed record L2AddressDecision(
    string Service, IPAddress Address, string? Owner, bool Announced, ImmutableArray<string> Interfaces, string Reason);

public sealed record L2Plan(ImmutableArray<L2AddressDecision> Addresses)
{
    /// <summary>What the announcer must answer for on this node.</summary>
    public ImmutableArray<L2Announcement> Announcements =>
        [.. Addresses.Where(a => a.Announced).GroupBy(a => a.Address).Select(g => new L2Announcement(g.Key, g.First().Interfaces))];
}

/// <summary>
/// Pure function from the configuration, this node and the live speakers to the L2 addresses this node owns, following
/// MetalLB's layer2 controller: per Service, the candidates are the live, non-excluded nodes selected by an
/// L2Advertisement of the first address's pool (and the Service's serviceSelectors) that pass the endpoint rule
/// (Local: a serving endpoint on the node; Cluster: one anywhere); <see cref="L2Election"/> picks the owner, which
/// announces every address of the Service on the union of the interfaces of its advertisements.
/// </summary>
public static class L2AnnouncementPlanner
{
    /// <param name="addresses">The addresses each Service holds, keyed "namespace/name" (from the controller or the in-process allocator).</param>
    public static L2Plan Plan(
        BgpLbConfig config, string nodeName, IReadOnlyDictionary<string, ImmutableArray<IPAddress>> addresses, IReadOnlySet<string> liveSpeakers)
    {
        var decisions = ImmutableArray.CreateBuilder<L2AddressDecision>();
        if (config.L2Advertisements.IsEmpty)
            return new L2Plan([]);
        var nodes = config.Nodes.Where(n => n.Metadata?.Name is not null).ToList();
        if (!nodes.Any(n => n.Metadata.Name == nodeName))
            nodes.Add(new V1Node { Metadata = new V1ObjectMeta { Name = nodeName } });

        foreach (var service in config.Services)
        {
            if (!ServiceHelpers.IsLoadBalancer(service) || !ServiceHelpers.MatchesLoadBalancerClass(service, configuredClass: null))
                continue;
            var serviceName = ServiceRequests.KeyOf(service);
            var held = addresses.GetValueOrDefault(serviceName, []);
            if (held.IsEmpty)
                continue;
            var key = held[0];
            var keyAdvertisements = AdvertisementsFor(config, service, key);
            if (keyAdvertisements.Count == 0)
                continue; // not an L2 Service (or its pool has only BGP advertisements)

            var (owner, reason) = Elect(config, service, key, keyAdvertisements, nodes, liveSpeakers);
            foreach (var address in held)
            {
                if (owner != nodeName)
                {
                    decisions.Add(new L2AddressDecision(serviceName, address, owner, false, [], reason));
                    continue;
                }
                var mine = AdvertisementsFor(config, service, address)
                    .Where(a => LabelSelector.MatchesAny(a.NodeSelectors, Labels(nodes, nodeName)))
                    .ToList();
                if (mine.Count == 0)
                {
                    decisions.Add(new L2AddressDecision(serviceName, address, owner, false, [],
                        "no L2Advertisement selects this address's pool for this node"));
                    continue;
                }
                ImmutableArray<string> interfaces = mine.Any(a => a.Interfaces.IsEmpty)
                    ? []
                    : [.. mine.SelectMany(a => a.Interfaces).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
                decisions.Add(new L2AddressDecision(serviceName, address, owner, true, interfaces, "announced"));
            }
        }
        return new L2Plan(decisions.ToImmutable());
    }

    private static (string? Owner, string Reason) Elect(
        BgpLbConfig config, V1Service service, IPAddress key, List<L2AdvertisementConfig> advertisements,
        List<V1Node> nodes, IReadOnlySet<string> liveSpeakers)
    {
        var local = ServiceHelpers.IsLocalTrafficPolicy(service);
        if (!local && !ServiceHelpers.HasServingEndpoint(service, config.EndpointSlices))
            return (null, "no serving endpoint");
        var candidates = new List<ElectionCandidate>();
        foreach (var node in nodes)
        {
            var name = node.Metadata.Name;
            var labels = node.Metadata.Labels;
            var selecting = advertisements.Where(a => LabelSelector.MatchesAny(a.NodeSelectors, labels)).ToList();
            if (selecting.Count == 0
                || !liveSpeakers.Contains(name)
                || ServiceHelpers.IsExcludedFromLoadBalancers(node)
                || (local && !ServiceHelpers.HasServingEndpointOnNode(service, config.EndpointSlices, name)))
                continue;
            var score = selecting.Sum(a => a.PreferredNodeSelectors.Where(p => p.Preference.Matches(labels)).Sum(p => p.Weight));
            candidates.Add(new ElectionCandidate(name, score));
        }
        var owner = L2Election.Owner(candidates, key);
        return owner is null
            ? (null, local ? "externalTrafficPolicy Local and no live eligible node with a serving endpoint" : "no live eligible node")
            : (owner, $"announced by node {owner}");
    }

    private static List<L2AdvertisementConfig> AdvertisementsFor(BgpLbConfig config, V1Service service, IPAddress address)
    {
        var pool = config.Pools.FirstOrDefault(p => p.Cidrs.Any(c => c.Contains(address)));
        return pool is null
            ? []
            : [.. config.L2Advertisements.Where(a => a.Pools.Contains(pool.Name) && LabelSelector.MatchesAny(a.ServiceSelectors, service.Metadata?.Labels))];
    }

    private static IDictionary<string, string>? Labels(List<V1Node> nodes, string name) =>
        nodes.First(n => n.Metadata.Name == name).Metadata.Labels;

    /// <summary>Where to reach the other speakers: the InternalIP of every other Node object.</summary>
    public static IReadOnlyDictionary<string, IPAddress> Peers(BgpLbConfig config, string nodeName) =>
        config.Nodes
            .Where(n => n.Metadata?.Name is { } name && name != nodeName)
            .Select(n => (Name: n.Metadata.Name, Address: ServiceHelpers.InternalAddress(n)))
            .Where(p => p.Address is not null)
            .ToDictionary(p => p.Name, p => p.Address!, StringComparer.Ordinal);
}
