using System.Diagnostics;
using System.Net;
using System.Text.Json;
using BgpLb.Integration.Tests.Harness;
using BgpLb.Netlab;
using Xunit.Abstractions;
using static BgpLb.Integration.Tests.SpeakerLab;

namespace BgpLb.Integration.Tests;

/// <summary>
/// RFC 4724 with bgplb-speaker as the restarting speaker: two nodes announce one address (ECMP at the router), a client
/// behind the router pings it at about 110 packets/s, and the speaker of the node the client's flow reaches is stopped with
/// SIGTERM and started again.
/// </summary>
[Collection(LabTestGroup.Name)]
public sealed class GracefulRestartTests(ITestOutputHelper output)
{
    private const string Prefix = "203.0.113.10/32";
    private const int PingCount = 1500;

    /// <summary>The router keeps the speaker's next hop as stale, the node keeps answering, and the new process ends the restart with End-of-RIB.</summary>
    [NetnsTheory]
    [InlineData(RouterKind.Bird)]
    [InlineData(RouterKind.Frr)]
    public Task Speaker_restart_with_graceful_restart_keeps_the_next_hop_and_every_packet(RouterKind routerKind) => RestartAsync(routerKind, gracefulRestart: true);

    /// <summary>
    /// The same with BFD (100 ms x 3) on the session: the stopping speaker says AdminDown, which the router must not take
    /// for a failure (RFC 5882 §3.2), and the new process's BFD comes up again after its BGP session.
    /// </summary>
    [NetnsTheory]
    [InlineData(RouterKind.Bird)]
    [InlineData(RouterKind.Frr)]
    public Task Speaker_restart_with_graceful_restart_and_bfd_keeps_every_packet(RouterKind routerKind) => RestartAsync(routerKind, gracefulRestart: true, bfd: true);

    /// <summary>The contrast: a Cease, and the router withdraws the next hop until the speaker is back (the other node takes the flow meanwhile).</summary>
    [NetnsTheory]
    [InlineData(RouterKind.Bird)]
    [InlineData(RouterKind.Frr)]
    public Task Speaker_restart_without_graceful_restart_withdraws_the_next_hop(RouterKind routerKind) => RestartAsync(routerKind, gracefulRestart: false);

    private async Task RestartAsync(RouterKind routerKind, bool gracefulRestart, bool bfd = false)
    {
        await using var lab = await Lab.CreateAsync(
            $"spk-gr-{SpeakerScenarioTests.Short(routerKind)}-{(gracefulRestart ? "on" : "off")}{(bfd ? "-bfd" : "")}", 2, output.WriteLine);
        var client = await lab.AddClientAsync();
        foreach (var node in lab.Nodes)
        {
            // The data plane the speaker leaves behind: the node answers for the service address itself.
            await Lab.AddAddressAsync(node, Prefix);
        }

        // Hash on addresses only, so that every echo request of the client takes the same next hop, and `ip route get` says which.
        (await Command.InNamespaceAsync(lab.RouterNamespace, "sysctl", "-q", "-w", "net.ipv4.fib_multipath_hash_policy=0")).EnsureSuccess();
        var routerOptions = lab.RouterOptionsFor(SpeakerAs, bfd: bfd ? BfdTimers.Fast : null);
        if (bfd)
        {
            // BIRD 2.0 takes the stopping speaker's BFD AdminDown for a failure and ends the session (RFC 5882 §3.2 says it
            // should not); with `bfd graceful` a BFD Down starts graceful restart instead. FRR needs nothing.
            routerOptions = routerOptions with { Neighbors = [.. routerOptions.Neighbors.Select(n => n with { BfdGraceful = routerKind == RouterKind.Bird })] };
        }
        var router = await Router.StartAsync(routerKind, lab, lab.RouterNamespace, "router", routerOptions);
        var speakers = await StartSpeakersAsync(lab, n => PeerDocuments(lab, n, SpeakerAs, gracefulRestart: gracefulRestart, bfd: bfd), WebService(lab));
        await router.WaitForKernelRouteAsync(Prefix, SessionTimeout, r => r?.Gateways.Count == 2);
        if (bfd)
        {
            foreach (var node in lab.Nodes)
                await Wait.ForAsync($"BFD with {node.Address} up", SessionTimeout, () => router.GetBfdStateAsync(node.Address), s => s == "up");
        }
        var index = await FlowNodeAsync(lab, client);
        var (restarting, other) = (lab.Nodes[index], lab.Nodes[1 - index]);
        lab.Log($"the client's flow goes to {restarting.Role} ({restarting.Address}): its speaker restarts");

        using var watch = await KernelRouteWatch.StartAsync(lab.RouterNamespace, Service4.ToString());
        var (echosRestarting, echosOther) = (await Lab.IcmpEchosReceivedAsync(restarting.Namespace), await Lab.IcmpEchosReceivedAsync(other.Namespace));
        // 9.9 ms: iputils ping (20221126) here sends every 9 ms below a 10 ms interval but only every ~16 ms at 10 ms.
        var ping = await lab.StartPingAsync(client.Namespace, Service4, PingCount, TimeSpan.FromMilliseconds(9.9));
        await Wait.UntilAsync("the first echo requests to reach " + restarting.Role, TimeSpan.FromSeconds(5),
            async () => await Lab.IcmpEchosReceivedAsync(restarting.Namespace) > echosRestarting);

        var clock = Stopwatch.StartNew();
        Assert.Equal(0, await speakers[index].TerminateAsync(TimeSpan.FromSeconds(10)));
        var stopped = clock.Elapsed;
        Assert.Equal(gracefulRestart, speakers[index].ReadLog().Contains("closed without NOTIFICATION for graceful restart", StringComparison.Ordinal));
        var down = await Wait.ForAsync("the router to see the session end", TimeSpan.FromSeconds(10),
            () => router.GetPeerStateAsync(restarting.Address), s => !s.Established);
        if (gracefulRestart)
        {
            // The router is a helper now: our routes are stale, and kept until we are back or the restart time is over.
            await Wait.UntilAsync($"{routerKind} to keep the routes of {restarting.Address} as stale", TimeSpan.FromSeconds(5),
                () => KeepsStaleRoutesAsync(router, restarting.Address));
        }
        else
        {
            await router.WaitForKernelRouteAsync(Prefix, TimeSpan.FromSeconds(5), r => r?.Gateways.Count == 1);
        }

        lab.Log($"SIGTERM -> exit {stopped.TotalSeconds:F2} s; router: {down}");
        await SpeakerProcess.StartAsync(lab, restarting.Namespace, $"speaker-{restarting.Role}-again", NodeName(lab, restarting), ConfigDirectory(lab, restarting));
        var recovered = await WaitForRecoveryAsync(router, restarting.Address, gracefulRestart);
        if (bfd)
            await Wait.ForAsync($"BFD with {restarting.Address} up again", SessionTimeout, () => router.GetBfdStateAsync(restarting.Address), s => s == "up");
        await router.WaitForKernelRouteAsync(Prefix, RouteTimeout, r => r?.Gateways.Count == 2);
        var back = clock.Elapsed;
        Assert.False(ping.HasExited, $"ping ended before the speaker was back ({back.TotalSeconds:F2} s): raise {nameof(PingCount)}");

        // ping's pace stretches on a loaded machine (seen: 1,500 echos at 9.9 ms taking over 30 s): this waits for its end.
        await ping.WaitForExitAsync(TimeSpan.FromMinutes(3));
        var result = Lab.PingSummary(ping);
        var answeredRestarting = await Lab.IcmpEchosReceivedAsync(restarting.Namespace) - echosRestarting;
        var answeredOther = await Lab.IcmpEchosReceivedAsync(other.Namespace) - echosOther;
        var changes = watch.Changes();
        var withdrawn = changes.Where(c => c.Deleted || !c.Gateways.Contains(restarting.Address)).ToList();
        lab.Log($"{routerKind}, graceful restart {(gracefulRestart ? "on" : "off")}: speaker back after {back.TotalSeconds:F2} s ({recovered}); "
            + $"ping {result}; echo requests at {restarting.Role} {answeredRestarting}, at {other.Role} {answeredOther}; "
            + $"kernel route changes at the router: {(changes.Count == 0 ? "none" : "\n  " + string.Join("\n  ", changes))}");

        Assert.Equal(PingCount, result.Transmitted);
        if (gracefulRestart)
        {
            Assert.Equal(result.Transmitted, result.Received);
            Assert.Equal((result.Transmitted, 0L), (answeredRestarting, answeredOther));
            Assert.Empty(withdrawn);
        }
        else
        {
            Assert.NotEmpty(withdrawn);
            Assert.True(answeredOther > 0, "without graceful restart the router moves the flow to the other node while the speaker is away");
        }

        lab.Passed();
    }

    /// <summary>The index of the node whose next hop the router picks for the client's echo requests.</summary>
    private static async Task<int> FlowNodeAsync(Lab lab, LabClient client)
    {
        var route = (await Command.RunAsync("ip", "-n", lab.RouterNamespace, "route", "get", Service4.ToString(), "from", client.Address.ToString(),
            "iif", client.RouterInterface)).EnsureSuccess().StandardOutput;
        var words = route.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var via = IPAddress.Parse(words[Array.IndexOf(words, "via") + 1]);
        return lab.Nodes.ToList().FindIndex(n => n.Address.Equals(via));
    }

    /// <summary>Whether the router, after the session ended, keeps the neighbour's routes as stale (RFC 4724 helper).</summary>
    private static async Task<bool> KeepsStaleRoutesAsync(Router router, IPAddress neighbour) => router switch
    {
        BirdRouter bird => (await bird.BirdcAsync("show", "protocols", "all", BirdRouter.ProtocolName(neighbour)))
            .Contains("Neighbor graceful restart active", StringComparison.Ordinal),
        FrrRouter frr => (await frr.VtyshAsync($"show bgp ipv4 unicast {Prefix} json")).Contains("\"stale\":true", StringComparison.Ordinal),
        _ => throw new NotSupportedException(router.Kind.ToString()),
    };

    /// <summary>
    /// Waits until the new session is Established and the router has left graceful restart for the neighbour, and checks
    /// what it received: with graceful restart the Restart State bit (the first session of the new process) and the
    /// Forwarding State bit for IPv4, and our End-of-RIB. BIRD ends the neighbour's graceful restart when the End-of-RIB
    /// comes (with F set it keeps the stale routes until then); FRR shows the End-of-RIB it received and the stale flag.
    /// </summary>
    private static async Task<string> WaitForRecoveryAsync(Router router, IPAddress neighbour, bool gracefulRestart)
    {
        switch (router)
        {
            case BirdRouter bird:
                var protocol = await Wait.ForAsync("BIRD to end the neighbour's graceful restart on our End-of-RIB", RouteTimeout,
                    () => bird.BirdcAsync("show", "protocols", "all", BirdRouter.ProtocolName(neighbour)),
                    s => s.Contains("BGP state:          Established", StringComparison.Ordinal)
                        && !s.Contains("Neighbor graceful restart active", StringComparison.Ordinal));
                Assert.Equal(gracefulRestart, protocol.Contains("Restart recovery", StringComparison.Ordinal));
                Assert.Equal(gracefulRestart, protocol.Contains("AF preserved: ipv4 ipv6", StringComparison.Ordinal));
                return gracefulRestart ? "BIRD: Restart recovery, AF preserved: ipv4 ipv6, graceful restart done" : "BIRD: Established";
            case FrrRouter frr:
                var info = await Wait.ForAsync("FRR to receive our End-of-RIB and clear the stale flag", RouteTimeout, async () =>
                    {
                        using var neighbours = JsonDocument.Parse(await frr.VtyshAsync($"show bgp neighbors {neighbour} json"));
                        var peer = neighbours.RootElement.GetProperty(neighbour.ToString());
                        var gr = peer.GetProperty("gracefulRestartInfo");
                        var stale = (await frr.VtyshAsync($"show bgp ipv4 unicast {Prefix} json")).Contains("\"stale\":true", StringComparison.Ordinal);
                        return (Established: peer.GetProperty("bgpState").GetString() == "Established",
                            EndOfRib: gr.GetProperty("endOfRibRecv").TryGetProperty("ipv4Unicast", out var eor) && eor.GetBoolean(),
                            RBit: gr.GetProperty("rBit").GetBoolean(),
                            FBit: gr.TryGetProperty("ipv4Unicast", out var v4) && v4.GetProperty("fBit").GetBoolean(),
                            Stale: stale);
                    },
                    i => i.Established && i.EndOfRib && !i.Stale);
                Assert.Equal((gracefulRestart, gracefulRestart), (info.RBit, info.FBit));
                return $"FRR: End-of-RIB received, R bit {info.RBit}, F bit {info.FBit}";
            default:
                throw new NotSupportedException(router.Kind.ToString());
        }
    }
}
