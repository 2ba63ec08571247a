using System.Net;
using Microsoft.Extensions.Logging.Abstractions;

namespace BgpLb.Config.Tests;

public class ExamplesTests
{
    private static string ExamplesDirectory(string name)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !Directory.Exists(Path.Combine(directory.FullName, "examples", name)))
        {
            directory = directory.Parent;
        }
        Assert.NotNull(directory);
        return Path.Combine(directory.FullName, "examples", name);
    }

    private static async Task<ConfigUpdate> LoadAsync(string name = "bgp")
    {
        var store = new FileStore(ExamplesDirectory(name), new ConfigOptions(), TimeProvider.System, NullLogger<FileStore>.Instance);
        return await new ConfigFeed(store, new ConfigOptions(), NullLogger<ConfigFeed>.Instance).LoadAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Examples_load_without_errors_or_warnings()
    {
        var update = await LoadAsync();
        Assert.Empty(update.Errors);
    }

    [Fact]
    public async Task Examples_contain_pools_peer_and_advertisement()
    {
        var config = (await LoadAsync()).Config;

        Assert.Equal(["lab-v4", "lab-v6"], config.Pools.Select(p => p.Name));
        Assert.Equal([IPNetwork.Parse("203.0.113.0/28")], config.Pools[0].Cidrs.ToArray());
        Assert.True(config.Pools[0].AutoAssign);
        Assert.Equal([IPNetwork.Parse("2001:db8:100::/124")], config.Pools[1].Cidrs.ToArray());
        Assert.False(config.Pools[1].AutoAssign);

        Assert.Equal(["router-a", "router-b"], config.Peers.Select(p => p.Name));
        Assert.Equal(IPAddress.Parse("198.18.0.5"), config.Peers[1].Address);
        var peer = config.Peers[0];
        Assert.Equal(IPAddress.Parse("198.18.0.1"), peer.Address);
        Assert.Equal((ushort)179, peer.Port);
        Assert.Equal(64513u, peer.MyAsn);
        Assert.Equal(64512u, peer.PeerAsn);
        Assert.False(peer.IsInternal);
        Assert.Equal(TimeSpan.FromSeconds(9), peer.HoldTime);
        Assert.Equal(TimeSpan.FromSeconds(3), peer.KeepaliveTime);
        Assert.Equal("kubernetes.io/hostname=node-a", Assert.Single(peer.NodeSelectors).ToString());

        var advertisement = Assert.Single(config.BgpAdvertisements);
        Assert.Equal(["lab-v4", "lab-v6"], advertisement.Pools.ToArray());
        Assert.Equal([0xFFFF_FF01u, (64513u << 16) | 100], advertisement.Communities.ToArray());
        Assert.Equal([new LargeCommunity(64513, 100, 1)], advertisement.LargeCommunities.ToArray());
        Assert.Equal(["router-a", "router-b"], advertisement.Peers.ToArray());
        Assert.Equal(32, advertisement.AggregationLength);
        Assert.Equal(128, advertisement.AggregationLengthV6);
    }

    [Fact]
    public async Task Examples_contain_nodes_services_and_endpoints()
    {
        var config = (await LoadAsync()).Config;

        Assert.Equal(["node-a", "node-b"], config.Nodes.Select(n => n.Metadata.Name));
        Assert.Equal(IPAddress.Parse("198.18.0.2"), ServiceHelpers.InternalAddress(config.Nodes[0]));
        Assert.Equal(IPAddress.Parse("198.18.0.6"), ServiceHelpers.InternalAddress(config.Nodes[1]));
        Assert.All(config.Nodes, n => Assert.False(ServiceHelpers.IsExcludedFromLoadBalancers(n)));
        // Each node opens exactly the session to the router address on its own link.
        Assert.All(config.Nodes, n => Assert.Single(config.Peers, p => LabelSelector.MatchesAny(p.NodeSelectors, n.Metadata.Labels)));

        Assert.Equal(["api", "web"], config.Services.Select(s => s.Metadata.Name));
        var api = config.Services[0];
        var web = config.Services[1];
        Assert.All(config.Services, s => Assert.Equal("default", s.Metadata.NamespaceProperty));
        Assert.All(config.Services, s => Assert.True(ServiceHelpers.IsLoadBalancer(s) && ServiceHelpers.MatchesLoadBalancerClass(s, null)));
        Assert.Equal([IPAddress.Parse("203.0.113.1")], ServiceHelpers.ExistingAddresses(web));
        Assert.Equal([IPAddress.Parse("203.0.113.2")], ServiceHelpers.ExistingAddresses(api));
        Assert.False(ServiceHelpers.IsLocalTrafficPolicy(web));
        Assert.True(ServiceHelpers.IsLocalTrafficPolicy(api));

        Assert.Equal(2, config.EndpointSlices.Length);
        Assert.True(ServiceHelpers.HasServingEndpoint(web, config.EndpointSlices));
        Assert.True(ServiceHelpers.HasServingEndpointOnNode(web, config.EndpointSlices, "node-b"));
        Assert.True(ServiceHelpers.HasServingEndpointOnNode(api, config.EndpointSlices, "node-a"));
        Assert.False(ServiceHelpers.HasServingEndpointOnNode(api, config.EndpointSlices, "node-b"));
    }

    [Fact]
    public async Task L2_examples_load_without_errors()
    {
        var update = await LoadAsync("l2");
        Assert.Empty(update.Errors);
    }

    [Fact]
    public async Task L2_examples_contain_a_pool_an_advertisement_three_nodes_and_a_service()
    {
        var config = (await LoadAsync("l2")).Config;

        var pool = Assert.Single(config.Pools);
        Assert.Equal("lab-l2", pool.Name);
        Assert.Equal([IPNetwork.Parse("203.0.113.0/24")], pool.Cidrs.ToArray());
        var advertisement = Assert.Single(config.L2Advertisements);
        Assert.Equal(["lab-l2"], advertisement.Pools.ToArray());
        Assert.Empty(advertisement.Interfaces);
        Assert.Empty(advertisement.NodeSelectors);
        Assert.Empty(config.Peers);
        Assert.Empty(config.BgpAdvertisements);

        // The addresses L2Lab gives node-N's eth0: 198.18.20.(10+N).
        Assert.Equal(["node-1", "node-2", "node-3"], config.Nodes.Select(n => n.Metadata.Name));
        Assert.Equal(["198.18.20.11", "198.18.20.12", "198.18.20.13"], config.Nodes.Select(n => ServiceHelpers.InternalAddress(n)!.ToString()));

        var web = Assert.Single(config.Services);
        Assert.Equal("web", web.Metadata.Name);
        Assert.Equal([IPAddress.Parse("203.0.113.10")], ServiceHelpers.ExistingAddresses(web));
        Assert.False(ServiceHelpers.IsLocalTrafficPolicy(web));
        Assert.True(ServiceHelpers.HasServingEndpoint(web, config.EndpointSlices));
    }
}
