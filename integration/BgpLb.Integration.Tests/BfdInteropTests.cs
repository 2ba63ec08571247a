using BgpLb.Integration.Tests.Harness;
using BgpLb.Netlab;
using Xunit.Abstractions;

namespace BgpLb.Integration.Tests;

/// <summary>
/// Our BFD endpoint (<c>bgplb-lab bfd-probe</c> in a node namespace) against BIRD 2's <c>protocol bfd</c> in the router
/// namespace, over a veth link: single-hop sessions at 100 ms x 3.
/// </summary>
[Collection(LabTestGroup.Name)]
public sealed class BfdInteropTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [NetnsFact]
    public async Task A_session_with_BIRD_comes_up_and_each_side_detects_the_other_going_away()
    {
        await using var lab = await Lab.CreateAsync("bfd-bird", 1, output.WriteLine);
        var node = lab.Nodes[0];
        var router = (BirdRouter)await Router.StartAsync(RouterKind.Bird, lab, lab.RouterNamespace, "router",
            new RouterOptions(System.Net.IPAddress.Parse("198.18.255.1"), []) { BfdNeighbors = [new BfdNeighbor(node.Address, node.RouterAddress)] });
        var probe = await lab.StartProcessAsync(node.Namespace, "bfd-probe", "dotnet", typeof(BfdProbe).Assembly.Location, "bfd-probe",
            "--local", node.Address.ToString(), "--remote", node.RouterAddress.ToString(), "--tx", "100", "--rx", "100");

        async Task UntilBirdSays(string state) =>
            await probe.WaitUntilReadyAsync($"BIRD shows the BFD session {state}", Timeout, async () => await router.GetBfdStateAsync(node.Address) == state);
        int Count(string transition) => probe.ReadOutput().Split('\n').Count(l => l.StartsWith("state " + transition, StringComparison.Ordinal));
        async Task UntilProbeCounts(string transition, int count) =>
            await probe.WaitUntilReadyAsync($"reports '{transition}' {count} times", Timeout, () => Task.FromResult(Count(transition) >= count));

        await UntilBirdSays("Up");
        await UntilProbeCounts("Down Up", 1);

        // Frozen: BIRD drops the session after its detection time. Thawed, we take ours down too (on BIRD's queued Down
        // or our own detection, whichever we see first), and both come back up.
        await probe.SignalAsync("STOP");
        await UntilBirdSays("Down");
        await probe.SignalAsync("CONT");
        await UntilProbeCounts("Up Down", 1);
        await UntilBirdSays("Up");
        await UntilProbeCounts("Down Up", 2);

        // BIRD's BFD goes away: we take the session down (AdminDown if BIRD says so, else by detection).
        await router.BirdcAsync("disable", "bfd1");
        await UntilProbeCounts("Up Down", 2);
        output.WriteLine(probe.ReadOutput());
        lab.Passed();
    }
}
