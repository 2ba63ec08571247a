using System.Diagnostics;
using System.Net;
using BgpLb.Integration.Tests.Harness;
using BgpLb.Netlab;
using Xunit.Abstractions;
using static BgpLb.Integration.Tests.SpeakerLab;

namespace BgpLb.Integration.Tests;

/// <summary>
/// Config directory edits reach the routers without resetting sessions: withdrawals, Local-policy endpoints and
/// invalid edits that keep the last good configuration.
/// </summary>
[Collection(LabTestGroup.Name)]
public sealed class SpeakerChangeTests(ITestOutputHelper output)
{
    private static readonly TimeSpan ChangeTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Two nodes announce a Cluster Service (web) and a Local Service (local) with a ready endpoint on each node. Then
    /// node2's local endpoint becomes not ready (only node2 withdraws it), and web is deleted (both withdraw it).
    /// </summary>
    [NetnsTheory]
    [InlineData(RouterKind.Bird)]
    [InlineData(RouterKind.Frr)]
    public async Task Config_changes_withdraw_routes_without_resetting_sessions(RouterKind routerKind)
    {
        await using var lab = await Lab.CreateAsync($"spk-change-{SpeakerScenarioTests.Short(routerKind)}", 2, output.WriteLine);
        var (node1, node2) = (lab.Nodes[0], lab.Nodes[1]);
        var local = IPAddress.Parse("203.0.113.20");
        var router = await StartRouterAsync(routerKind, lab, SpeakerAs);
        List<string> Services(bool webPresent, bool node2Ready) =>
        [
            .. webPresent ? WebService(lab) : [],
            MetalLbManifests.Service("local", local, externalTrafficPolicy: "Local"),
            MetalLbManifests.EndpointSlice("local", "node1", IPAddress.Parse("10.0.1.1")),
            MetalLbManifests.EndpointSlice("local", "node2", IPAddress.Parse("10.0.2.1"), ready: node2Ready),
        ];
        await StartSpeakersAsync(lab, n => PeerDocuments(lab, n, SpeakerAs), Services(webPresent: true, node2Ready: true));

        string[] both = [node1.Address.ToString(), node2.Address.ToString()];
        await Wait.UntilAsync("both nodes announce web and local", SessionTimeout, async () =>
            (await PathNextHopsAsync(router, "203.0.113.10/32")).SequenceEqual(both) && (await PathNextHopsAsync(router, "203.0.113.20/32")).SequenceEqual(both));
        var incarnations = await Task.WhenAll(lab.Nodes.Select(n => SessionIncarnationAsync(router, n.Address)));

        var latency = await MeasureAsync(
            () => { foreach (var node in lab.Nodes) Rewrite(lab, node, "services.yaml", Services(webPresent: true, node2Ready: false)); },
            async () => (await PathNextHopsAsync(router, "203.0.113.20/32")).SequenceEqual([node1.Address.ToString()]));
        lab.Log($"{routerKind}: Local endpoint on node2 not ready -> node2's path withdrawn after {latency.TotalMilliseconds:F0} ms");
        Assert.Equal(both, await PathNextHopsAsync(router, "203.0.113.10/32"));

        latency = await MeasureAsync(
            () => { foreach (var node in lab.Nodes) Rewrite(lab, node, "services.yaml", Services(webPresent: false, node2Ready: false)); },
            async () => (await PathNextHopsAsync(router, "203.0.113.10/32")).Count == 0);
        lab.Log($"{routerKind}: Service web deleted -> withdrawn from the router after {latency.TotalMilliseconds:F0} ms");
        Assert.Equal([node1.Address.ToString()], await PathNextHopsAsync(router, "203.0.113.20/32"));

        Assert.Equal(incarnations, await Task.WhenAll(lab.Nodes.Select(n => SessionIncarnationAsync(router, n.Address))));
        lab.Passed();
    }

    /// <summary>An edit with holdTime 1s (below the 3 s minimum) is rejected with a log line naming the file, the object and the field.</summary>
    [NetnsTheory]
    [InlineData(RouterKind.Bird)]
    [InlineData(RouterKind.Frr)]
    public async Task Invalid_peer_edit_is_logged_and_the_last_good_session_and_routes_stay(RouterKind routerKind)
    {
        await using var lab = await Lab.CreateAsync($"spk-invalid-{SpeakerScenarioTests.Short(routerKind)}", 1, output.WriteLine);
        var node = lab.Nodes[0];
        var router = await StartRouterAsync(routerKind, lab, SpeakerAs);
        var speaker = Assert.Single(await StartSpeakersAsync(lab, n => PeerDocuments(lab, n, SpeakerAs), WebService(lab)));
        await router.WaitForEstablishedAsync(node.Address, SessionTimeout);
        await router.WaitForPathsAsync("203.0.113.10/32", RouteTimeout, p => p.Count == 1);
        var incarnation = await SessionIncarnationAsync(router, node.Address);

        Rewrite(lab, node, "peers.yaml", PeerDocuments(lab, node, SpeakerAs, holdTime: "1s"));
        var error = await Wait.ForAsync(
            "the speaker to log the invalid holdTime", ChangeTimeout,
            () => Task.FromResult(speaker.ReadLog().Split('\n').FirstOrDefault(l => l.Contains("holdTime", StringComparison.Ordinal))),
            line => line is not null);
        lab.Log($"speaker logged: {error}");
        Assert.Contains("peers.yaml", error, StringComparison.Ordinal);
        Assert.Contains("BGPPeer metallb-system/router", error, StringComparison.Ordinal);
        Assert.Contains("spec.holdTime", error, StringComparison.Ordinal);

        // Longer than the 3 s hold time: a session reset or a lost route would show within it.
        await Wait.HoldsForAsync(
            "the session and the route to stay", TimeSpan.FromSeconds(4),
            async () => (await router.GetPeerStateAsync(node.Address), await PathNextHopsAsync(router, "203.0.113.10/32")),
            s => s.Item1.Established && s.Item2.SequenceEqual([node.Address.ToString()]));
        Assert.Equal(incarnation, await SessionIncarnationAsync(router, node.Address));
        Assert.False(speaker.Process.HasExited);
        lab.Passed();
    }

    private static async Task<TimeSpan> MeasureAsync(Action change, Func<Task<bool>> reached)
    {
        var stopwatch = Stopwatch.StartNew();
        change();
        await Wait.UntilAsync("the change to reach the router", ChangeTimeout, reached);
        return stopwatch.Elapsed;
    }
}
