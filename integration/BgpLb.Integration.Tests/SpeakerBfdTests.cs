using System.Net;
using BgpLb.Integration.Tests.Harness;
using BgpLb.Netlab;
using Xunit.Abstractions;
using static BgpLb.Integration.Tests.SpeakerLab;

namespace BgpLb.Integration.Tests;

/// <summary>
/// Speakers whose BGPPeer names a BFDProfile (100 ms x 3) against BIRD (<c>bfd on</c>) and FRR (<c>neighbor X bfd</c>, bfdd).
/// The BGP hold time is 30 s, so a next hop that goes within the waits here went because of BFD.
/// </summary>
[Collection(LabTestGroup.Name)]
public sealed class SpeakerBfdTests(ITestOutputHelper output)
{
    private const string Prefix = "203.0.113.10/32";
    private static readonly TimeSpan BfdTimeout = TimeSpan.FromSeconds(10);

    /// <param name="minimumTtl">For multi-hop: FRR sends BFD with TTL 255 (MetalLB's default minimum 254 fits), BIRD with 64.</param>
    private static List<string> PeerDocumentsWithBfd(Lab lab, LabNode node, bool multihop = false, int? minimumTtl = null) =>
    [
        MetalLbManifests.Node(NodeName(lab, node), node.Address),
        MetalLbManifests.IpAddressPool("pool", "203.0.113.0/24"),
        BfdTimers.Fast.Profile("fast", minimumTtl),
        MetalLbManifests.BgpPeer("router", SpeakerAs, RouterAs, node.RouterAddress, holdTime: "30s", ebgpMultiHop: multihop, bfdProfile: "fast"),
        MetalLbManifests.BgpAdvertisement("adv", ["pool"]),
    ];

    private static async Task<(Router Router, List<SpeakerProcess> Speakers)> StartAsync(Lab lab, RouterKind kind, bool multihop = false)
    {
        var router = await Router.StartAsync(kind, lab, lab.RouterNamespace, "router",
            lab.RouterOptionsFor(SpeakerAs, holdTime: 30, bfd: BfdTimers.Fast, multihop: multihop));
        int? minimumTtl = multihop && kind == RouterKind.Bird ? 64 : null;
        var speakers = await StartSpeakersAsync(lab, n => PeerDocumentsWithBfd(lab, n, multihop, minimumTtl), WebService(lab));
        // BIRD resolves a multihop session's next hop recursively and installs the route without a plain gateway.
        await router.WaitForKernelRouteAsync(Prefix, SessionTimeout, r => multihop ? r is not null : r?.Gateways.Count == lab.Nodes.Count);
        foreach (var node in lab.Nodes)
        {
            // Both ends at 100 ms x 3 once the speaker's poll for the fast rate (after the 1 s floor while not Up) is answered.
            await router.WaitForBfdUpAsync(node.Address, BfdTimers.Fast, SessionTimeout);
        }
        return (router, speakers);
    }

    /// <summary>The speaker's BFD sessions as its /metrics shows them (MetalLB's names).</summary>
    private static async Task<string> BfdMetricsAsync(SpeakerProcess speaker) =>
        string.Join('\n', (await speaker.GetAsync("/metrics")).StandardOutput.Split('\n').Where(l => l.StartsWith("metallb_bfd_", StringComparison.Ordinal)));

    [NetnsTheory]
    [InlineData(RouterKind.Bird, "STOP")]
    [InlineData(RouterKind.Frr, "STOP")]
    [InlineData(RouterKind.Bird, "LINK")]
    [InlineData(RouterKind.Frr, "LINK")]
    [InlineData(RouterKind.Bird, "KILL")]
    [InlineData(RouterKind.Frr, "KILL")]
    public async Task A_failed_speaker_loses_its_next_hop_through_bfd_and_the_other_stays(RouterKind kind, string failure)
    {
        await using var lab = await Lab.CreateAsync($"spk-bfd-{SpeakerScenarioTests.Short(kind)}-{failure.ToLowerInvariant()}", 2, output.WriteLine);
        var (router, speakers) = await StartAsync(lab, kind);
        var (failed, survivor) = (lab.Nodes[1], lab.Nodes[0]);
        var metrics = await BfdMetricsAsync(speakers[1]);
        lab.Log(metrics);
        Assert.Contains($"metallb_bfd_session_up{{peer=\"{failed.RouterAddress}\"}} 1", metrics, StringComparison.Ordinal);
        Assert.Matches($"metallb_bfd_control_packet_input{{peer=\"{Regex(failed.RouterAddress)}\"}} [1-9]", metrics);

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        switch (failure)
        {
            case "LINK":
                (await Command.RunAsync("ip", "-n", failed.Namespace, "link", "set", failed.Interface, "down")).EnsureSuccess();
                break;
            default:
                await speakers[1].Process.SignalAsync(failure);
                break;
        }
        var route = await router.WaitForKernelRouteAsync(Prefix, BfdTimeout, r => r?.Gateways.Count == 1);
        lab.Log($"{kind}: {failure} -> next hop gone after {stopwatch.Elapsed.TotalSeconds:F2} s (BGP hold time 30 s)");
        Assert.Equal([survivor.Address], route!.Gateways);
        if (failure == "STOP")
        {
            var state = await router.GetBfdStateAsync(failed.Address);
            Assert.Equal("down", state);
            // Thawed, the speaker sees the router's Down, closes BGP with Cease/BFD Down, and both come back.
            await speakers[1].Process.SignalAsync("CONT");
            await router.WaitForKernelRouteAsync(Prefix, SessionTimeout, r => r?.Gateways.Count == 2);
            Assert.Contains("BFD session down", speakers[1].ReadLog(), StringComparison.Ordinal);
        }
        Assert.Equal("up", await router.GetBfdStateAsync(survivor.Address));
        lab.Passed();
    }

    /// <summary>
    /// The router's BFD goes silent (BIRD: <c>disable bfd1</c>; FRR: bfdd frozen): the speaker detects it, closes BGP
    /// with Cease/BFD Down (RFC 9384; BIRD 2.0 logs it as "Unknown error 6.10", FRR names it) and reconnects. An
    /// AdminDown from the router (FRR: peer shutdown) takes the speaker's BFD down and leaves BGP up (RFC 5882 §3.2).
    /// </summary>
    [NetnsTheory]
    [InlineData(RouterKind.Bird)]
    [InlineData(RouterKind.Frr)]
    public async Task The_speaker_detects_a_silent_router_and_closes_bgp_with_cease_bfd_down(RouterKind kind)
    {
        await using var lab = await Lab.CreateAsync($"spk-bfd-{SpeakerScenarioTests.Short(kind)}-silent", 1, output.WriteLine);
        var (router, speakers) = await StartAsync(lab, kind);
        var node = lab.Nodes[0];
        var speaker = speakers[0];
        var before = await SessionIncarnationAsync(router, node.Address);

        // A Cease/BFD Down from before the freeze does not count: FRR's bfdd may signal Down once while bgpd resolves a
        // connection collision at start.
        const string BfdCease = "NOTIFICATION sent 6/10 Cease/BfdDown";
        var ceasesBefore = speaker.ReadLog().Split(BfdCease).Length;

        // vtysh waits for every daemon, so nothing asks FRR anything while its bfdd is frozen.
        var bfdd = (router as FrrRouter)?.Processes.Single(p => p.Name.EndsWith(".bfdd", StringComparison.Ordinal));
        if (bfdd is null)
            await router.StopBfdAsync(node.Address);
        else
            await bfdd.SignalAsync("STOP");
        await Wait.ForAsync("the speaker to close BGP with Cease/BFD Down", BfdTimeout, () => Task.FromResult(speaker.ReadLog()),
            log => log.Split(BfdCease).Length > ceasesBefore);
        if (bfdd is not null)
            await bfdd.SignalAsync("CONT");
        if (router is BirdRouter bird)
        {
            await bird.WaitForLogLineAsync(node.Address, "Received: Unknown error 6.10", BfdTimeout);
        }
        else
        {
            var state = await Wait.ForAsync("FRR to show the Cease", BfdTimeout, () => router.GetPeerStateAsync(node.Address),
                s => s.LastError?.Contains("BFD", StringComparison.OrdinalIgnoreCase) == true);
            lab.Log($"{kind} shows: {state}");
        }
        // The kernel route alone may still be the one from before the Cease (zebra withdraws it a moment later).
        await Wait.ForAsync("the session up again as a new incarnation", SessionTimeout, () => SessionIncarnationAsync(router, node.Address),
            s => s != before && s.Established);
        await router.WaitForKernelRouteAsync(Prefix, SessionTimeout, r => r?.Gateways.Count == 1);

        if (router is FrrRouter)
        {
            await Wait.ForAsync("BFD up again", SessionTimeout, () => router.GetBfdStateAsync(node.Address), s => s == "up");
            var incarnation = await SessionIncarnationAsync(router, node.Address);
            await router.StopBfdAsync(node.Address);
            await Wait.ForAsync("the speaker's BFD session down", BfdTimeout, () => BfdMetricsAsync(speaker),
                m => m.Contains($"metallb_bfd_session_up{{peer=\"{node.RouterAddress}\"}} 0", StringComparison.Ordinal));
            // The session that carries the next route change is the one from before the AdminDown.
            Rewrite(lab, node, "services.yaml", [.. WebService(lab), MetalLbManifests.Service("second", IPAddress.Parse("203.0.113.11")),
                MetalLbManifests.EndpointSlice("second", NodeName(lab, node), IPAddress.Parse("10.0.0.6"))]);
            await router.WaitForKernelRouteAsync("203.0.113.11/32", RouteTimeout, r => r is not null);
            Assert.Equal(incarnation, await SessionIncarnationAsync(router, node.Address));
        }
        lab.Passed();
    }

    [NetnsTheory]
    [InlineData(RouterKind.Bird)]
    [InlineData(RouterKind.Frr)]
    public async Task An_ebgp_multihop_peer_runs_multihop_bfd_and_a_frozen_speaker_is_dropped(RouterKind kind)
    {
        await using var lab = await Lab.CreateAsync($"spk-bfd-{SpeakerScenarioTests.Short(kind)}-mh", 1, output.WriteLine);
        var (router, speakers) = await StartAsync(lab, kind, multihop: true);
        Assert.Contains("multi-hop session", speakers[0].ReadLog(), StringComparison.Ordinal);
        await speakers[0].Process.SignalAsync("STOP");
        await router.WaitForKernelRouteAsync(Prefix, BfdTimeout, r => r is null);
        Assert.Equal("down", await router.GetBfdStateAsync(lab.Nodes[0].Address));
        await speakers[0].Process.SignalAsync("CONT");
        lab.Passed();
    }

    [NetnsTheory]
    [InlineData(RouterKind.Bird)]
    [InlineData(RouterKind.Frr)]
    public async Task An_ipv6_peer_runs_bfd_over_ipv6_and_a_frozen_speaker_is_dropped(RouterKind kind)
    {
        await using var lab = await Lab.CreateAsync($"spk-bfd-{SpeakerScenarioTests.Short(kind)}-v6", 1, output.WriteLine);
        var node = lab.Nodes[0];
        var router = await Router.StartAsync(kind, lab, lab.RouterNamespace, "router", new RouterOptions(IPAddress.Parse("198.18.255.1"),
            [new BgpNeighbor(node.Address6, SpeakerAs) { HoldTime = 30, Bfd = true }])
        {
            LocalAs = RouterAs,
            BfdNeighbors = [BfdTimers.Fast.Neighbor(node.Address6, node.RouterAddress6)],
        });
        var speaker = Assert.Single(await StartSpeakersAsync(lab, n =>
        [
            MetalLbManifests.Node(NodeName(lab, n), n.Address),
            MetalLbManifests.IpAddressPool("pool", "2001:db8:100::/64"),
            BfdTimers.Fast.Profile("fast"),
            MetalLbManifests.BgpPeer("router6", SpeakerAs, RouterAs, n.RouterAddress6, holdTime: "30s", bfdProfile: "fast"),
            MetalLbManifests.BgpAdvertisement("adv", ["pool"]),
        ], [MetalLbManifests.Service("web6", Service6), MetalLbManifests.EndpointSlice("web6", NodeName(lab, node), IPAddress.Parse("fd00::5"))]));

        const string prefix = "2001:db8:100::10/128";
        await router.WaitForKernelRouteAsync(prefix, SessionTimeout, r => r is not null);
        await router.WaitForBfdUpAsync(node.Address6, BfdTimers.Fast, SessionTimeout);
        await speaker.Process.SignalAsync("STOP");
        await router.WaitForKernelRouteAsync(prefix, BfdTimeout, r => r is null);
        Assert.Equal("down", await router.GetBfdStateAsync(node.Address6));
        await speaker.Process.SignalAsync("CONT");
        lab.Passed();
    }

    private static string Regex(IPAddress address) => System.Text.RegularExpressions.Regex.Escape(address.ToString());
}
