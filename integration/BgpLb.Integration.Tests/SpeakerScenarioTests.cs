using System.Net;
using BgpLb.Integration.Tests.Harness;
using BgpLb.Netlab;
using Xunit.Abstractions;
using static BgpLb.Integration.Tests.SpeakerLab;

namespace BgpLb.Integration.Tests;

/// <summary>
/// bgplb-speaker against BIRD, FRR and GoBGP: sessions, routes and their attributes, as the routers show them.
/// </summary>
[Collection(LabTestGroup.Name)]
public sealed class SpeakerScenarioTests(ITestOutputHelper output)
{
    [NetnsTheory]
    [InlineData(RouterKind.Bird, false)]
    [InlineData(RouterKind.Bird, true)]
    [InlineData(RouterKind.Frr, false)]
    [InlineData(RouterKind.Frr, true)]
    [InlineData(RouterKind.Gobgp, false)]
    [InlineData(RouterKind.Gobgp, true)]
    public async Task Session_establishes_with_each_router(RouterKind routerKind, bool internalSession)
    {
        await using var lab = await Lab.CreateAsync($"spk-sess-{Short(routerKind)}-{(internalSession ? "i" : "e")}", 1, output.WriteLine);
        var node = lab.Nodes[0];
        var speakerAs = internalSession ? RouterAs : SpeakerAs;
        var router = await StartRouterAsync(routerKind, lab, speakerAs);
        var startedAt = DateTime.UtcNow;
        await StartSpeakersAsync(lab, n => PeerDocuments(lab, n, speakerAs), WebService(lab));

        await router.WaitForEstablishedAsync(node.Address, SessionTimeout);
        lab.Log($"{routerKind} {(internalSession ? "iBGP" : "eBGP")}: Established {(DateTime.UtcNow - startedAt).TotalSeconds:F2} s after the speaker started");
        var path = Assert.Single(await router.WaitForPathsAsync("203.0.113.10/32", RouteTimeout, p => p.Count > 0));
        Assert.Equal([node.Address], path.NextHops);
        Assert.Equal(internalSession ? [] : [SpeakerAs], path.AsPath);
        lab.Passed();
    }

    /// <summary>
    /// One BGPPeer on the router's IPv4 link address and one on its IPv6 link address: the /32 arrives over the IPv4
    /// session with the node's IPv4 address as next hop, the /128 over the IPv6 session with the node's global IPv6
    /// address (the speaker takes next hops from the connection's local address and its interface).
    /// </summary>
    [NetnsTheory]
    [InlineData(RouterKind.Bird, false)]
    [InlineData(RouterKind.Bird, true)]
    [InlineData(RouterKind.Frr, false)]
    [InlineData(RouterKind.Frr, true)]
    [InlineData(RouterKind.Gobgp, false)]
    [InlineData(RouterKind.Gobgp, true)]
    public async Task Host_routes_carry_communities_large_communities_and_local_pref(RouterKind routerKind, bool internalSession)
    {
        await using var lab = await Lab.CreateAsync($"spk-attr-{Short(routerKind)}-{(internalSession ? "i" : "e")}", 1, output.WriteLine);
        var node = lab.Nodes[0];
        var speakerAs = internalSession ? RouterAs : SpeakerAs;
        var router = await StartRouterAsync(routerKind, lab, speakerAs, ipv6: true);
        await StartSpeakersAsync(
            lab,
            n =>
            [
                MetalLbManifests.Node("node1", n.Address),
                MetalLbManifests.IpAddressPool("pool", "203.0.113.0/24", "2001:db8:100::/64"),
                MetalLbManifests.BgpPeer("router4", speakerAs, RouterAs, n.RouterAddress, holdTime: "3s"),
                MetalLbManifests.BgpPeer("router6", speakerAs, RouterAs, n.RouterAddress6, holdTime: "3s"),
                MetalLbManifests.BgpAdvertisement(
                    "adv", ["pool"], communities: ["64513:100", "65535:65281", "large:64513:1:2"], localPref: internalSession ? 250u : null),
            ],
            [
                MetalLbManifests.Service("web4", Service4),
                MetalLbManifests.EndpointSlice("web4", "node1", IPAddress.Parse("10.0.0.5")),
                MetalLbManifests.Service("web6", Service6),
                MetalLbManifests.EndpointSlice("web6", "node1", IPAddress.Parse("fd00::5")),
            ]);

        await router.WaitForEstablishedAsync(node.Address, SessionTimeout);
        await router.WaitForEstablishedAsync(node.Address6, SessionTimeout);
        var path4 = Assert.Single(await router.WaitForPathsAsync("203.0.113.10/32", RouteTimeout, p => p.Count > 0));
        var path6 = Assert.Single(await router.WaitForPathsAsync("2001:db8:100::10/128", RouteTimeout, p => p.Count > 0));
        lab.Log($"{path4}\n{path6}");

        Assert.Equal([node.Address], path4.NextHops);
        Assert.Equal([node.Address6], path6.NextHops);
        foreach (var path in (RouterRoute[])[path4, path6])
        {
            Assert.Equal(["64513:100", "65535:65281"], path.Communities);
            Assert.Equal(["64513:1:2"], path.LargeCommunities);
            Assert.Equal(internalSession ? [] : [SpeakerAs], path.AsPath);
            if (internalSession)
            {
                Assert.Equal(250u, path.LocalPreference);
            }
        }

        if (routerKind != RouterKind.Gobgp)
        {
            var kernel4 = await router.WaitForKernelRouteAsync("203.0.113.10/32", RouteTimeout, r => r is not null);
            Assert.Equal([node.Address], kernel4!.Gateways);
            var kernel6 = await router.WaitForKernelRouteAsync("2001:db8:100::10/128", RouteTimeout, r => r is not null);
            Assert.Equal([node.RouterInterface], kernel6!.NextHops.Select(h => h.Device));
        }

        lab.Passed();
    }

    /// <summary>
    /// One BGPPeer on the router's IPv4 link address, both families negotiated (MP-BGP, RFC 4760): the /128 travels over
    /// the IPv4 session with the node's global IPv6 address on that interface as next hop.
    /// </summary>
    [NetnsTheory]
    [InlineData(RouterKind.Bird)]
    [InlineData(RouterKind.Frr)]
    [InlineData(RouterKind.Gobgp)]
    public async Task Ipv6_route_over_an_ipv4_session(RouterKind routerKind)
    {
        await using var lab = await Lab.CreateAsync($"spk-mp-{Short(routerKind)}", 1, output.WriteLine);
        var node = lab.Nodes[0];
        var router = await StartRouterAsync(routerKind, lab, SpeakerAs, multiprotocol: true);
        await StartSpeakersAsync(
            lab,
            n => PeerDocuments(lab, n, SpeakerAs),
            [
                .. WebService(lab),
                MetalLbManifests.Service("web6", Service6),
                MetalLbManifests.EndpointSlice("web6", "node1", IPAddress.Parse("fd00::5")),
            ]);

        await router.WaitForEstablishedAsync(node.Address, SessionTimeout);
        var path4 = Assert.Single(await router.WaitForPathsAsync("203.0.113.10/32", RouteTimeout, p => p.Count > 0));
        var path6 = Assert.Single(await router.WaitForPathsAsync("2001:db8:100::10/128", RouteTimeout, p => p.Count > 0));
        lab.Log($"{path4}\n{path6}");

        Assert.Equal([node.Address], path4.NextHops);
        Assert.Equal([node.Address6], path6.NextHops);
        Assert.Equal(["64513:100"], path6.Communities);
        if (routerKind != RouterKind.Gobgp)
        {
            var kernel6 = await router.WaitForKernelRouteAsync("2001:db8:100::10/128", RouteTimeout, r => r is not null);
            Assert.Equal([node.RouterInterface], kernel6!.NextHops.Select(h => h.Device));
        }

        lab.Passed();
    }

    internal static string Short(RouterKind kind) => kind.ToString().ToLowerInvariant();
}
