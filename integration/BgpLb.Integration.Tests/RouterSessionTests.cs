using BgpLb.Netlab;
using System.Net;
using System.Net.Sockets;
using BgpLb.Integration.Tests.Harness;
using Xunit.Abstractions;
using static BgpLb.Integration.Tests.SpeakerLab;

namespace BgpLb.Integration.Tests;

/// <summary>
/// Proves the harness against real daemons: a BIRD or GoBGP instance in a node namespace stands in for bgplb-speaker.
/// </summary>
[Collection(LabTestGroup.Name)]
public sealed class RouterSessionTests(ITestOutputHelper output)
{
    private static readonly AdvertisedRoute Service4 = new("203.0.113.10/32")
    {
        Communities = ["64513:100", "65535:65281"],
        LargeCommunities = ["64513:1:2"],
    };

    private static readonly AdvertisedRoute Service6 = new("2001:db8:100::10/128")
    {
        Communities = ["64513:600"],
        LargeCommunities = ["64513:6:6"],
    };

    [NetnsTheory]
    [InlineData(RouterKind.Bird, false)]
    [InlineData(RouterKind.Bird, true)]
    [InlineData(RouterKind.Frr, false)]
    [InlineData(RouterKind.Frr, true)]
    [InlineData(RouterKind.Gobgp, false)]
    [InlineData(RouterKind.Gobgp, true)]
    public async Task Ipv4_and_ipv6_sessions_carry_routes_with_communities(RouterKind routerKind, bool internalSession)
    {
        await using var lab = await Lab.CreateAsync($"sess-{routerKind.ToString().ToLowerInvariant()}-{(internalSession ? "i" : "e")}", 1, output.WriteLine);
        var node = lab.Nodes[0];
        var speakerAs = internalSession ? RouterAs : SpeakerAs;
        var router = await Router.StartAsync(routerKind, lab, lab.RouterNamespace, "router", RouterFor(lab, speakerAs));
        await Router.StartAsync(RouterKind.Bird, lab, node.Namespace, "speaker1", SpeakerFor(node, speakerAs, [Service4, Service6]));

        await router.WaitForEstablishedAsync(node.Address, SessionTimeout);
        await router.WaitForEstablishedAsync(node.Address6, SessionTimeout);
        var path4 = Assert.Single(await router.WaitForPathsAsync(Service4.Prefix, RouteTimeout, paths => paths.Count > 0));
        var path6 = Assert.Single(await router.WaitForPathsAsync(Service6.Prefix, RouteTimeout, paths => paths.Count > 0));

        Assert.Equal([node.Address], path4.NextHops);
        Assert.Equal([node.Address6], path6.NextHops);
        Assert.Equal(Service4.Communities, path4.Communities);
        Assert.Equal(Service4.LargeCommunities, path4.LargeCommunities);
        Assert.Equal(Service6.Communities, path6.Communities);
        Assert.Equal(Service6.LargeCommunities, path6.LargeCommunities);
        Assert.Equal(internalSession ? [] : [SpeakerAs], path4.AsPath);
        Assert.Equal(internalSession ? [] : [SpeakerAs], path6.AsPath);
        if (internalSession)
        {
            Assert.Equal(100u, path4.LocalPreference);
        }

        if (routerKind != RouterKind.Gobgp)
        {
            var kernel4 = await router.WaitForKernelRouteAsync(Service4.Prefix, RouteTimeout, r => r is not null);
            Assert.Equal([node.Address], kernel4!.Gateways);
            // FRR's zebra installs IPv6 routes via the peer's link-local next hop: compare the outgoing link.
            var kernel6 = await router.WaitForKernelRouteAsync(Service6.Prefix, RouteTimeout, r => r is not null);
            Assert.Equal([node.RouterInterface], kernel6!.NextHops.Select(h => h.Device));
        }

        lab.Passed();
    }

    [NetnsTheory]
    [InlineData(RouterKind.Bird)]
    [InlineData(RouterKind.Frr)]
    [InlineData(RouterKind.Gobgp)]
    public async Task Gobgp_advertiser_reaches_each_router(RouterKind routerKind)
    {
        await using var lab = await Lab.CreateAsync($"gobgp-adv-{routerKind.ToString().ToLowerInvariant()}", 1, output.WriteLine);
        var node = lab.Nodes[0];
        var router = await Router.StartAsync(routerKind, lab, lab.RouterNamespace, "router", RouterFor(lab, SpeakerAs));
        await Router.StartAsync(RouterKind.Gobgp, lab, node.Namespace, "speaker1", SpeakerFor(node, SpeakerAs, [Service4, Service6]));

        var path4 = Assert.Single(await router.WaitForPathsAsync(Service4.Prefix, SessionTimeout, paths => paths.Count > 0));
        var path6 = Assert.Single(await router.WaitForPathsAsync(Service6.Prefix, RouteTimeout, paths => paths.Count > 0));

        Assert.Equal([node.Address], path4.NextHops);
        Assert.Equal([node.Address6], path6.NextHops);
        Assert.Equal(Service4.Communities, path4.Communities);
        Assert.Equal(Service4.LargeCommunities, path4.LargeCommunities);
        Assert.Equal([SpeakerAs], path4.AsPath);
        lab.Passed();
    }

    [NetnsTheory]
    [InlineData(RouterKind.Bird)]
    [InlineData(RouterKind.Frr)]
    public async Task Two_advertisers_of_one_address_make_an_ecmp_kernel_route(RouterKind routerKind)
    {
        await using var lab = await Lab.CreateAsync($"ecmp-{routerKind.ToString().ToLowerInvariant()}", 2, output.WriteLine);
        var router = await Router.StartAsync(routerKind, lab, lab.RouterNamespace, "router", RouterFor(lab, SpeakerAs));
        foreach (var node in lab.Nodes)
        {
            await Router.StartAsync(RouterKind.Bird, lab, node.Namespace, "speaker-" + node.Role, SpeakerFor(node, SpeakerAs, [Service4, Service6]));
        }

        var route4 = await router.WaitForKernelRouteAsync(Service4.Prefix, SessionTimeout, r => r?.Gateways.Count == 2);
        var route6 = await router.WaitForKernelRouteAsync(Service6.Prefix, SessionTimeout, r => r?.Gateways.Count == 2);

        Assert.Equal(lab.Nodes.Select(n => n.Address.ToString()).Order(), route4!.Gateways.Select(g => g.ToString()).Order());
        Assert.Equal(lab.Nodes.Select(n => n.RouterInterface).Order(), route6!.NextHops.Select(h => h.Device).Order());
        lab.Passed();
    }

    [NetnsTheory]
    [InlineData(RouterKind.Bird)]
    [InlineData(RouterKind.Frr)]
    [InlineData(RouterKind.Gobgp)]
    public async Task Md5_password_must_match_for_the_session_to_establish(RouterKind routerKind)
    {
        await using var lab = await Lab.CreateAsync($"md5-{routerKind.ToString().ToLowerInvariant()}", 2, output.WriteLine);
        var (matching, mismatching) = (lab.Nodes[0], lab.Nodes[1]);
        var router = await Router.StartAsync(routerKind, lab, lab.RouterNamespace, "router", RouterFor(lab, SpeakerAs, password: "lab-secret"));
        await Router.StartAsync(RouterKind.Bird, lab, matching.Namespace, "speaker-match", SpeakerFor(matching, SpeakerAs, [Service4], password: "lab-secret"));
        await Router.StartAsync(RouterKind.Bird, lab, mismatching.Namespace, "speaker-mismatch", SpeakerFor(mismatching, SpeakerAs, [Service4], password: "wrong-secret"));

        await router.WaitForEstablishedAsync(matching.Address, SessionTimeout);
        // Both speakers retry every 1-2 s: within 6 s a session without a valid signature would have come up.
        await Wait.HoldsForAsync(
            $"session with {mismatching.Address} (wrong password) not Established",
            TimeSpan.FromSeconds(6),
            () => router.GetPeerStateAsync(mismatching.Address),
            state => !state.Established);
        Assert.Equal([matching.Address], (await router.GetRoutesAsync()).Where(r => r.Prefix == Service4.Prefix).SelectMany(r => r.NextHops));
        lab.Passed();
    }

    [NetnsTheory]
    [InlineData(RouterKind.Bird, "KILL")]
    [InlineData(RouterKind.Frr, "KILL")]
    [InlineData(RouterKind.Bird, "STOP")]
    [InlineData(RouterKind.Frr, "STOP")]
    public async Task Failed_advertiser_next_hop_is_withdrawn(RouterKind routerKind, string signal)
    {
        await using var lab = await Lab.CreateAsync($"fail-{routerKind.ToString().ToLowerInvariant()}-{signal.ToLowerInvariant()}", 2, output.WriteLine);
        var router = await Router.StartAsync(routerKind, lab, lab.RouterNamespace, "router", RouterFor(lab, SpeakerAs, holdTime: 3));
        var speakers = new List<Router>();
        foreach (var node in lab.Nodes)
        {
            speakers.Add(await Router.StartAsync(RouterKind.Bird, lab, node.Namespace, "speaker-" + node.Role, SpeakerFor(node, SpeakerAs, [Service4], holdTime: 3)));
        }

        await router.WaitForKernelRouteAsync(Service4.Prefix, SessionTimeout, r => r?.Gateways.Count == 2);
        var failedAt = DateTime.UtcNow;
        await speakers[1].BgpProcess.SignalAsync(signal);

        var survivor = await router.WaitForKernelRouteAsync(Service4.Prefix, TimeSpan.FromSeconds(8), r => r?.Gateways.Count == 1);
        var detection = DateTime.UtcNow - failedAt;
        lab.Log($"{signal}: next hop withdrawn after {detection.TotalSeconds:F2} s");
        Assert.Equal([lab.Nodes[0].Address], survivor!.Gateways);
        // A frozen speaker keeps its TCP connection open: only the 3 s hold timer (minus up to one 1 s keepalive interval
        // already elapsed) can drop it. How fast is bench/failover.sh's (-s bird -f kill / stop), not a test's.
        if (signal == "STOP")
            Assert.True(detection >= TimeSpan.FromSeconds(1.5), $"a frozen speaker was dropped after {detection}, before its hold time");

        lab.Passed();
    }

    [NetnsTheory]
    [InlineData(RouterKind.Bird)]
    [InlineData(RouterKind.Frr)]
    [InlineData(RouterKind.Gobgp)]
    public async Task Passive_router_accepts_an_active_speaker_but_never_connects_itself(RouterKind routerKind)
    {
        await using var lab = await Lab.CreateAsync($"passive-{routerKind.ToString().ToLowerInvariant()}", 2, output.WriteLine);
        var (active, passive) = (lab.Nodes[0], lab.Nodes[1]);
        var router = await Router.StartAsync(routerKind, lab, lab.RouterNamespace, "router", new RouterOptions(
            IPAddress.Parse("198.18.255.1"),
            [new BgpNeighbor(active.Address, SpeakerAs) { Passive = true }, new BgpNeighbor(passive.Address, SpeakerAs) { Passive = true }]));
        await Router.StartAsync(RouterKind.Bird, lab, active.Namespace, "speaker-active", new RouterOptions(active.Address, [new BgpNeighbor(active.RouterAddress, RouterAs)]) { LocalAs = SpeakerAs });
        await Router.StartAsync(RouterKind.Bird, lab, passive.Namespace, "speaker-passive", new RouterOptions(passive.Address, [new BgpNeighbor(passive.RouterAddress, RouterAs) { Passive = true }]) { LocalAs = SpeakerAs });

        await router.WaitForEstablishedAsync(active.Address, SessionTimeout);
        // Two passive ends never meet. A router that did connect would within its retry time: 1-2 s for BIRD and
        // FRR as configured, 5-10 s for GoBGP's first attempt.
        await Wait.HoldsForAsync(
            $"passive session with {passive.Address} not Established",
            TimeSpan.FromSeconds(routerKind == RouterKind.Gobgp ? 12 : 5),
            () => router.GetPeerStateAsync(passive.Address),
            state => !state.Established);
        lab.Passed();
    }

    [NetnsTheory]
    [InlineData(RouterKind.Bird)]
    [InlineData(RouterKind.Frr)]
    [InlineData(RouterKind.Gobgp)]
    public async Task Multihop_session_between_router_link_and_speaker_loopback(RouterKind routerKind)
    {
        await using var lab = await Lab.CreateAsync($"multihop-{routerKind.ToString().ToLowerInvariant()}", 1, output.WriteLine);
        var node = lab.Nodes[0];
        var loopback = IPAddress.Parse("198.18.200.2");
        await Lab.AddAddressAsync(node, $"{loopback}/32");
        await Lab.AddRouteAsync(lab.RouterNamespace, $"{loopback}/32", node.Address);
        var router = await Router.StartAsync(routerKind, lab, lab.RouterNamespace, "router", new RouterOptions(
            IPAddress.Parse("198.18.255.1"),
            [new BgpNeighbor(loopback, SpeakerAs) { Multihop = 2, LocalAddress = node.RouterAddress }]));
        await Router.StartAsync(RouterKind.Bird, lab, node.Namespace, "speaker", new RouterOptions(
            loopback,
            [new BgpNeighbor(node.RouterAddress, RouterAs) { Multihop = 2, LocalAddress = loopback }])
        {
            LocalAs = SpeakerAs,
            Advertise = [Service4],
        });

        await router.WaitForEstablishedAsync(loopback, SessionTimeout);
        var path = Assert.Single(await router.WaitForPathsAsync(Service4.Prefix, RouteTimeout, paths => paths.Count > 0));
        Assert.Equal([loopback], path.NextHops);
        if (routerKind != RouterKind.Gobgp)
        {
            // The next hop resolves recursively through the static route to the speaker's loopback.
            var kernel = await router.WaitForKernelRouteAsync(Service4.Prefix, RouteTimeout, r => r is not null);
            Assert.Equal([node.Address], kernel!.Gateways);
        }
        lab.Passed();
    }

    [NetnsTheory]
    [InlineData(RouterKind.Bird)]
    [InlineData(RouterKind.Frr)]
    public async Task Graceful_stop_of_an_advertiser_shows_the_cease_on_the_router(RouterKind routerKind)
    {
        await using var lab = await Lab.CreateAsync($"cease-{routerKind.ToString().ToLowerInvariant()}", 1, output.WriteLine);
        var node = lab.Nodes[0];
        var router = await Router.StartAsync(routerKind, lab, lab.RouterNamespace, "router", RouterFor(lab, SpeakerAs));
        var speaker = await Router.StartAsync(RouterKind.Bird, lab, node.Namespace, "speaker", SpeakerFor(node, SpeakerAs, [Service4]));
        await router.WaitForEstablishedAsync(node.Address, SessionTimeout);
        // Let the initial exchange settle: a BIRD that exits with unread data in its socket (the router's End-of-RIB)
        // resets the connection, and the router then reports "Connection reset by peer" instead of the Cease.
        // Not an assertion: the router's End-of-RIB is not visible in birdc, so a short settle time stands in.
        await router.WaitForPathsAsync(Service4.Prefix, RouteTimeout, paths => paths.Count > 0);
        await Task.Delay(TimeSpan.FromMilliseconds(500));

        // BIRD sends Cease/Administrative Shutdown to every peer when it stops on SIGTERM.
        await speaker.BgpProcess.SignalAsync("TERM");
        var cease = router is BirdRouter bird
            ? await bird.WaitForLogLineAsync(node.Address, "Received: Administrative shutdown", SessionTimeout)
            : (await Wait.ForAsync("session closed with a Cease", SessionTimeout, () => router.GetPeerStateAsync(node.Address),
                s => !s.Established && s.LastError is not null)).LastError!;

        lab.Log($"{routerKind} shows: {cease}");
        Assert.Contains("administrative shutdown", cease, StringComparison.OrdinalIgnoreCase);
        lab.Passed();
    }

    /// <summary>The lab router: one IPv4 and one IPv6 session per node; both sides connect.</summary>
    internal static RouterOptions RouterFor(Lab lab, uint speakerAs, string? password = null, int holdTime = 9) =>
        new(IPAddress.Parse("198.18.255.1"), [.. lab.Nodes.SelectMany(n => (IPAddress[])[n.Address, n.Address6])
            .Select(a => new BgpNeighbor(a, speakerAs) { Password = password, HoldTime = holdTime })])
        {
            LocalAs = RouterAs,
        };

    /// <summary>A daemon standing in for bgplb-speaker on a node: sessions to the router over both address families.</summary>
    internal static RouterOptions SpeakerFor(LabNode node, uint speakerAs, IReadOnlyList<AdvertisedRoute> routes, string? password = null, int holdTime = 9) =>
        new(node.Address,
        [
            new BgpNeighbor(node.RouterAddress, RouterAs) { Password = password, HoldTime = holdTime },
            new BgpNeighbor(node.RouterAddress6, RouterAs) { Password = password, HoldTime = holdTime },
        ])
        {
            LocalAs = speakerAs,
            Advertise = routes,
        };
}
