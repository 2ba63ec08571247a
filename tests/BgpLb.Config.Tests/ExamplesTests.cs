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

    /// <summary>The examples directory read as the daemons read it: the first batch of a FileStore, applied to a ClusterState.</summary>
    private static async Task<ClusterState> LoadAsync(string name = "bgp")
    {
        var options = new ConfigOptions { WatchFileSystem = false };
        var store = new FileStore(ExamplesDirectory(name), options, TimeProvider.System, NullLogger<FileStore>.Instance);
        using var cancel = new CancellationTokenSource();
        var batches = store.WatchAsync(cancel.Token).GetAsyncEnumerator(cancel.Token);
        await using var dispose = new BoundedDisposal(batches, TimeSpan.FromSeconds(30));
        Assert.True(await batches.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(batches.Current.IsInitial);
        var state = new ClusterState(options);
        state.Apply(batches.Current);
        return state;
    }

    [Fact]
    public async Task Examples_load_without_errors_or_warnings()
    {
        var state = await LoadAsync();
        Assert.Empty(state.Problems);
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
        var state = await LoadAsync();
        var config = state.Config;

        var nodes = state.Nodes.Values.OrderBy(n => n.Name, StringComparer.Ordinal).ToList();
        Assert.Equal(["node-a", "node-b"], nodes.Select(n => n.Name));
        Assert.Equal(IPAddress.Parse("198.18.0.2"), nodes[0].InternalAddress);
        Assert.Equal(IPAddress.Parse("198.18.0.6"), nodes[1].InternalAddress);
        Assert.All(nodes, n => Assert.False(n.NetworkUnavailable || n.Labels.ContainsKey(MetalLbNames.ExcludeFromLoadBalancersLabel)));
        // Each node opens exactly the session to the router address on its own link.
        Assert.All(nodes, n => Assert.Single(config.Peers, p => LabelSelector.MatchesAny(p.NodeSelectors, n.Labels)));

        Assert.Equal(["default/api", "default/web"], state.Services.Keys.Order(StringComparer.Ordinal));
        var api = state.Services["default/api"];
        var web = state.Services["default/web"];
        Assert.All(state.Services.Values, s => Assert.True(s.IsOurs(null)));
        Assert.Equal([IPAddress.Parse("203.0.113.1")], web.RequestedAddresses.ToArray());
        Assert.Empty(web.Ingress);
        Assert.Equal([IPAddress.Parse("203.0.113.2")], api.Ingress.ToArray());
        Assert.Empty(api.RequestedAddresses);
        Assert.False(web.LocalTrafficPolicy);
        Assert.True(api.LocalTrafficPolicy);
        Assert.Equal("app=api", api.BackendKey);
        Assert.Equal([new ServicePort("TCP", 443)], api.Ports.ToArray());

        Assert.Equal(new EndpointSummary(true, ["node-a", "node-b"]), state.EndpointsOf(web.Key));
        Assert.Equal(new EndpointSummary(true, ["node-a"]), state.EndpointsOf(api.Key));
        Assert.False(state.EndpointsOf(api.Key).ServingOn("node-b"));
    }

    [Fact]
    public async Task L2_examples_load_without_errors()
    {
        var state = await LoadAsync("l2");
        Assert.Empty(state.Problems);
    }

    [Fact]
    public async Task L2_examples_contain_a_pool_an_advertisement_three_nodes_and_a_service()
    {
        var state = await LoadAsync("l2");
        var config = state.Config;

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
        var nodes = state.Nodes.Values.OrderBy(n => n.Name, StringComparer.Ordinal).ToList();
        Assert.Equal(["node-1", "node-2", "node-3"], nodes.Select(n => n.Name));
        Assert.Equal(["198.18.20.11", "198.18.20.12", "198.18.20.13"], nodes.Select(n => n.InternalAddress!.ToString()));

        var web = Assert.Single(state.Services.Values);
        Assert.Equal("web", web.Name);
        Assert.Equal([IPAddress.Parse("203.0.113.10")], web.Ingress.ToArray());
        Assert.False(web.LocalTrafficPolicy);
        Assert.True(state.EndpointsOf(web.Key).ServingAnywhere);
        Assert.True(state.EndpointsOf(web.Key).ServingOn("node-1"));
    }
}
