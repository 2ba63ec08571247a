using BgpLb.Integration.Tests.Harness;
using BgpLb.Netlab;
using Xunit.Abstractions;

namespace BgpLb.Integration.Tests;

/// <summary>
/// Our BFD endpoint (<c>bgplb-lab bfd-probe</c> in a node namespace) against BIRD 2's <c>protocol bfd</c> and FRR's bfdd
/// in the router namespace, over a veth link: single-hop sessions at 100 ms x 3.
/// </summary>
[Collection(LabTestGroup.Name)]
public sealed class BfdInteropTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [NetnsTheory]
    [InlineData(RouterKind.Bird)]
    [InlineData(RouterKind.Frr)]
    public async Task A_session_with_a_router_comes_up_and_each_side_detects_the_other_going_away(RouterKind kind)
    {
        await using var lab = await Lab.CreateAsync($"bfd-{kind.ToString().ToLowerInvariant()}", 1, output.WriteLine);
        var node = lab.Nodes[0];
        var router = await Router.StartAsync(kind, lab, lab.RouterNamespace, "router",
            new RouterOptions(System.Net.IPAddress.Parse("198.18.255.1"), []) { BfdNeighbors = [BfdTimers.Fast.Neighbor(node.Address, node.RouterAddress)] });
        var probe = await BfdProbe.StartAsync(lab, node.Namespace, node.Address, node.RouterAddress, BfdTimers.Fast);

        async Task UntilRouterSays(string state) =>
            await probe.WaitUntilReadyAsync($"{kind} shows the BFD session {state}", Timeout, async () => await router.GetBfdStateAsync(node.Address) == state);
        // How often the probe's session went into a state (Up may come from Down or Init).
        int Count(string state) => BfdProbe.Parse(probe.ReadOutput()).States.Count(s => s.To == state);
        async Task UntilProbeCounts(string state, int count) =>
            await probe.WaitUntilReadyAsync($"reports {state} {count} times", Timeout, () => Task.FromResult(Count(state) >= count));

        await UntilRouterSays("up");
        await UntilProbeCounts("Up", 1);
        // Both sides at 100 ms x 3 once our poll for the faster rate (after the 1 s floor while not Up) is answered.
        await router.WaitForBfdUpAsync(node.Address, BfdTimers.Fast, Timeout);

        // Frozen: the router drops the session after its detection time. Thawed, we take ours down too (on the router's
        // queued Down or our own detection, whichever we see first), and both come back up.
        await probe.SignalAsync("STOP");
        await UntilRouterSays("down");
        await probe.SignalAsync("CONT");
        await UntilProbeCounts("Down", 1);
        await UntilRouterSays("up");
        await UntilProbeCounts("Up", 2);

        // The router's session goes away: we take ours down (FRR says AdminDown; BIRD goes silent).
        await router.StopBfdAsync(node.Address);
        await UntilProbeCounts("Down", 2);
        output.WriteLine(probe.ReadOutput());
        lab.Passed();
    }
}
