using System.Diagnostics;
using System.Net;
using BgpLb.Integration.Tests.Harness;
using BgpLb.Netlab;
using Xunit.Abstractions;
using static BgpLb.Integration.Tests.SpeakerLab;

namespace BgpLb.Integration.Tests;

/// <summary>
/// Several speakers announcing one address (ECMP in the router's kernel), speakers that die or stop, TCP MD5 and
/// router restarts.
/// </summary>
[Collection(LabTestGroup.Name)]
public sealed class SpeakerFailureTests(ITestOutputHelper output)
{
    [NetnsTheory]
    [InlineData(RouterKind.Bird, 2)]
    [InlineData(RouterKind.Bird, 3)]
    [InlineData(RouterKind.Frr, 2)]
    [InlineData(RouterKind.Frr, 3)]
    public async Task Speakers_announcing_one_address_make_an_ecmp_kernel_route(RouterKind routerKind, int nodeCount)
    {
        await using var lab = await Lab.CreateAsync($"spk-ecmp-{SpeakerScenarioTests.Short(routerKind)}-{nodeCount}", nodeCount, output.WriteLine);
        var router = await StartRouterAsync(routerKind, lab, SpeakerAs);
        await StartSpeakersAsync(lab, n => PeerDocuments(lab, n, SpeakerAs), WebService(lab));

        var route = await router.WaitForKernelRouteAsync("203.0.113.10/32", SessionTimeout, r => r?.Gateways.Count == nodeCount);
        lab.Log($"{routerKind}: {route}");
        Assert.Equal(lab.Nodes.Select(n => n.Address.ToString()).Order(), route!.Gateways.Select(g => g.ToString()).Order());
        lab.Passed();
    }

    /// <summary>
    /// A failed speaker's next hop goes, the other speakers' next hops stay. SIGKILL: the kernel closes the killed
    /// process's socket, so the router sees the session end at once. SIGSTOP: the connection stays open and only the
    /// router's 3 s hold timer (minus up to one 1 s keepalive interval already elapsed) ends it.
    /// </summary>
    [NetnsTheory]
    [InlineData(RouterKind.Bird, "KILL")]
    [InlineData(RouterKind.Frr, "KILL")]
    [InlineData(RouterKind.Bird, "STOP")]
    [InlineData(RouterKind.Frr, "STOP")]
    public async Task Failed_speaker_loses_its_next_hop_and_the_others_stay(RouterKind routerKind, string signal)
    {
        await using var lab = await Lab.CreateAsync($"spk-fail-{SpeakerScenarioTests.Short(routerKind)}-{signal.ToLowerInvariant()}", 3, output.WriteLine);
        var router = await StartRouterAsync(routerKind, lab, SpeakerAs, holdTime: 3);
        var speakers = await StartSpeakersAsync(lab, n => PeerDocuments(lab, n, SpeakerAs), WebService(lab));
        await router.WaitForKernelRouteAsync("203.0.113.10/32", SessionTimeout, r => r?.Gateways.Count == 3);

        var stopwatch = Stopwatch.StartNew();
        await speakers[1].Process.SignalAsync(signal);
        var route = await router.WaitForKernelRouteAsync("203.0.113.10/32", TimeSpan.FromSeconds(8), r => r?.Gateways.Count == 2);
        var detection = stopwatch.Elapsed;
        lab.Log($"{routerKind}: SIG{signal} -> next hop withdrawn after {detection.TotalSeconds:F2} s");

        Assert.Equal(new[] { lab.Nodes[0], lab.Nodes[2] }.Select(n => n.Address.ToString()).Order(), route!.Gateways.Select(g => g.ToString()).Order());
        // A frozen speaker can only be found out by the hold timer (3 s, minus up to one keepalive interval already
        // elapsed). How fast a failure is detected is bench/failover.sh's (-f kill / stop), not a test's: load only slows it.
        if (signal == "STOP")
            Assert.True(detection >= TimeSpan.FromSeconds(1.5), $"a frozen speaker was dropped after {detection}, before its hold time");
        // The survivors' sessions keep going past another hold time.
        await Wait.HoldsForAsync(
            "the other two next hops to stay", TimeSpan.FromSeconds(4),
            () => router.GetKernelRoutesAsync(System.Net.Sockets.AddressFamily.InterNetwork),
            routes => routes.FirstOrDefault(r => r.Destination == "203.0.113.10/32")?.Gateways.Count == 2);
        lab.Passed();
    }

    [NetnsTheory]
    [InlineData(RouterKind.Bird)]
    [InlineData(RouterKind.Frr)]
    public async Task Terminated_speaker_exits_0_after_a_cease_administrative_shutdown(RouterKind routerKind)
    {
        await using var lab = await Lab.CreateAsync($"spk-term-{SpeakerScenarioTests.Short(routerKind)}", 1, output.WriteLine);
        var node = lab.Nodes[0];
        var router = await StartRouterAsync(routerKind, lab, SpeakerAs);
        var speaker = Assert.Single(await StartSpeakersAsync(lab, n => PeerDocuments(lab, n, SpeakerAs), WebService(lab)));
        await router.WaitForEstablishedAsync(node.Address, SessionTimeout);
        await router.WaitForPathsAsync("203.0.113.10/32", RouteTimeout, p => p.Count == 1);

        Assert.Equal(0, await speaker.TerminateAsync(TimeSpan.FromSeconds(10)));
        if (router is BirdRouter bird)
        {
            var line = await bird.WaitForLogLineAsync(node.Address, "Received: Administrative shutdown", SessionTimeout);
            lab.Log($"BIRD logged: {line}");
            Assert.Contains("\"bgplb speaker shutting down\"", line, StringComparison.Ordinal);
        }
        else
        {
            var state = await Wait.ForAsync(
                "session closed with a Cease", SessionTimeout, () => router.GetPeerStateAsync(node.Address), s => !s.Established && s.LastError is not null);
            lab.Log($"FRR shows: {state}");
            Assert.Contains("Cease/Administrative Shutdown", state.LastError, StringComparison.Ordinal);
            // The RFC 9003 shutdown communication (lastShutdownDescription).
            Assert.Contains("bgplb speaker shutting down", await ((FrrRouter)router).VtyshAsync($"show bgp neighbors {node.Address} json"), StringComparison.Ordinal);
        }
        await router.WaitForPathsAsync("203.0.113.10/32", RouteTimeout, p => p.Count == 0);
        lab.Passed();
    }

    /// <summary>
    /// Node 1's BGPPeer has the router's password, node 2's another one; the password is given inline or through a
    /// kubernetes.io/basic-auth Secret (passwordSecret).
    /// </summary>
    [NetnsTheory]
    [InlineData(RouterKind.Bird, false)]
    [InlineData(RouterKind.Bird, true)]
    [InlineData(RouterKind.Frr, false)]
    [InlineData(RouterKind.Frr, true)]
    public async Task Md5_password_must_match_for_the_session_and_routes(RouterKind routerKind, bool fromSecret)
    {
        await using var lab = await Lab.CreateAsync($"spk-md5-{SpeakerScenarioTests.Short(routerKind)}-{(fromSecret ? "s" : "p")}", 2, output.WriteLine);
        var (matching, mismatching) = (lab.Nodes[0], lab.Nodes[1]);
        var router = await StartRouterAsync(routerKind, lab, SpeakerAs, password: "lab-secret");
        await StartSpeakersAsync(lab, n =>
        {
            var password = n == matching ? "lab-secret" : "wrong-secret";
            return fromSecret
                ? [.. PeerDocuments(lab, n, SpeakerAs, passwordSecret: "bgp-md5"), MetalLbManifests.PasswordSecret("bgp-md5", password)]
                : PeerDocuments(lab, n, SpeakerAs, password: password);
        }, WebService(lab));

        await router.WaitForEstablishedAsync(matching.Address, SessionTimeout);
        await router.WaitForPathsAsync("203.0.113.10/32", RouteTimeout, p => p.Count == 1);
        // Both ends retry within 1-2 s: a session without a valid signature would come up within 6 s.
        await Wait.HoldsForAsync(
            $"session with {mismatching.Address} (wrong password) not Established", TimeSpan.FromSeconds(6),
            () => router.GetPeerStateAsync(mismatching.Address), state => !state.Established);
        Assert.Equal([matching.Address.ToString()], await PathNextHopsAsync(router, "203.0.113.10/32"));
        lab.Passed();
    }

    /// <summary>The router dies and starts again with the same config; the speaker, untouched, reconnects and re-announces.</summary>
    [NetnsFact]
    public async Task Speaker_recovers_from_a_router_restart_by_itself()
    {
        await using var lab = await Lab.CreateAsync("spk-rtr-restart", 1, output.WriteLine);
        var node = lab.Nodes[0];
        var router = await StartRouterAsync(RouterKind.Bird, lab, SpeakerAs);
        var speaker = Assert.Single(await StartSpeakersAsync(lab, n => PeerDocuments(lab, n, SpeakerAs), WebService(lab)));
        await router.WaitForKernelRouteAsync("203.0.113.10/32", SessionTimeout, r => r is not null);

        await router.BgpProcess.SignalAsync("KILL");
        await router.BgpProcess.WaitForExitAsync(TimeSpan.FromSeconds(5));
        var stopwatch = Stopwatch.StartNew();
        var restarted = await Router.StartAsync(RouterKind.Bird, lab, lab.RouterNamespace, "router-again", router.Options);

        await restarted.WaitForEstablishedAsync(node.Address, SessionTimeout);
        var established = stopwatch.Elapsed;
        var path = Assert.Single(await restarted.WaitForPathsAsync("203.0.113.10/32", RouteTimeout, p => p.Count > 0));
        lab.Log($"router restarted: Established after {established.TotalSeconds:F2} s, route back after {stopwatch.Elapsed.TotalSeconds:F2} s");
        Assert.Equal([node.Address], path.NextHops);
        var route = await restarted.WaitForKernelRouteAsync("203.0.113.10/32", RouteTimeout, r => r is not null);
        Assert.Equal([node.Address], route!.Gateways);
        Assert.False(speaker.Process.HasExited);
        lab.Passed();
    }
}
