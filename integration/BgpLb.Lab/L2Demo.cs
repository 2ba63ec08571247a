using System.Diagnostics;
using System.Globalization;

namespace BgpLb.Netlab;

/// <summary>
/// <c>bgplb-lab demo-l2</c> (./demo.sh l2) and <c>bgplb-lab bench-l2-failover N</c> (bench/l2-failover.sh): three
/// bgplb-speaker nodes and a client on one bridge (<see cref="L2Lab"/>) with a config directory such as examples/l2.
/// Failover is measured as bench/l2-failover.sh always did: SIGKILL to the owner, then poll the client's neighbour
/// entry every 5 ms until it carries another MAC (learned from the new owner's gratuitous ARP).
/// </summary>
internal static class L2Demo
{
    public const string ServiceAddress = "203.0.113.10";
    private const int SpeakerCount = 3;

    /// <summary>The owner finished its gratuitous burst and the client's neighbour lock time (1 s) has passed.</summary>
    private static readonly TimeSpan SteadyState = TimeSpan.FromSeconds(6);

    private sealed record Failover(L2Node Owner, L2Node NewOwner, string NewNeighbour, TimeSpan Elapsed);

    public static async Task<int> DemoAsync(string configDirectory, CancellationToken stop)
    {
        Console.WriteLine($"== L2 lab: a bridge namespace, a client (198.18.20.1) and {SpeakerCount} speaker nodes on br0, config {configDirectory}");
        try
        {
            await using var lab = await L2Lab.CreateAsync(SpeakerCount, output: Console.WriteLine);
            await ShowAsync(lab, configDirectory, stop).WaitAsync(stop);
            Console.WriteLine("== tearing down: speakers killed by PID, namespaces deleted");
            lab.Passed();
            return 0;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            Console.WriteLine("== interrupted: speakers killed, namespaces deleted");
            return 130;
        }
    }

    private static async Task ShowAsync(L2Lab lab, string configDirectory, CancellationToken stop)
    {
        await lab.StartSpeakersAsync(configDirectory, logLevel: "information");
        foreach (var node in lab.Nodes)
        {
            Console.WriteLine($"   {node.NodeName}: {lab.SpeakerOf(node)} in {node.Namespace}, eth0 {node.InternalIP} MAC {node.Mac}");
        }

        Console.WriteLine($"== client: arping {ServiceAddress}");
        var answers = await Wait.ForAsync($"an ARP answer for {ServiceAddress}", TimeSpan.FromSeconds(15),
            () => lab.ArpingAsync(L2Lab.ClientRole, "eth0", ServiceAddress), macs => macs.Count > 0);
        foreach (var mac in answers)
        {
            Console.WriteLine($"   reply from {mac} ({lab.NodeWithMac(mac)?.NodeName ?? "not a speaker node"})");
        }

        var owner = lab.NodeWithMac(answers[0]) ?? throw new InvalidOperationException($"{answers[0]} answered for {ServiceAddress}, which is no speaker node");
        Console.WriteLine($"== {owner.NodeName} owns {ServiceAddress} (elected: MetalLB's sha256(node#address) order among the live speakers)");
        stop.ThrowIfCancellationRequested();

        var failover = await MeasureFailoverAsync(lab, Console.WriteLine);
        Console.WriteLine($"== client neighbour entry now: {failover.NewNeighbour}  -> {failover.NewOwner.NodeName}");
        Console.WriteLine($"== failover {failover.Owner.NodeName} -> {failover.NewOwner.NodeName}: {Seconds(failover.Elapsed)} s from SIGKILL to the client's new neighbour entry");
        var after = await lab.ArpingAsync(L2Lab.ClientRole, "eth0", ServiceAddress);
        Console.WriteLine($"== client: arping {ServiceAddress}: {string.Join(", ", after.Distinct().Select(mac => $"{mac} ({lab.NodeWithMac(mac)?.NodeName})"))}");
    }

    public static async Task<int> BenchAsync(string configDirectory, int runs, CancellationToken stop)
    {
        var results = new List<TimeSpan>();
        for (var run = 1; run <= runs; run++)
        {
            try
            {
                await using var lab = await L2Lab.CreateAsync(SpeakerCount);
                var failover = await MeasureRunAsync(lab, configDirectory).WaitAsync(stop);
                Console.WriteLine($"run {run}: owner {failover.Owner.NodeName} ({failover.Owner.Mac}) killed, client sees {failover.NewOwner.Mac} ({failover.NewOwner.NodeName}) after {Seconds(failover.Elapsed)}s");
                results.Add(failover.Elapsed);
                lab.Passed();
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                Console.WriteLine("interrupted: lab torn down");
                return 130;
            }
        }

        results.Sort();
        var median = runs % 2 == 1 ? results[runs / 2] : (results[(runs / 2) - 1] + results[runs / 2]) / 2;
        Console.WriteLine($"median failover: {Seconds(median)}s over {runs} runs");
        return 0;
    }

    private static async Task<Failover> MeasureRunAsync(L2Lab lab, string configDirectory)
    {
        await lab.StartSpeakersAsync(configDirectory, logLevel: "information");
        return await MeasureFailoverAsync(lab, _ => { });
    }

    /// <summary>
    /// The client's kernel resolves the address; in steady state the owner gets SIGKILL; the time until the client's
    /// neighbour entry carries another speaker's MAC.
    /// </summary>
    private static async Task<Failover> MeasureFailoverAsync(L2Lab lab, Action<string> say)
    {
        var ownerMac = await Wait.ForAsync($"the client's neighbour entry for {ServiceAddress}", TimeSpan.FromSeconds(10), async () =>
        {
            await lab.ResolveFromClientAsync(ServiceAddress);
            return await lab.ClientNeighbourAsync(ServiceAddress);
        }, mac => mac is not null);
        var owner = lab.NodeWithMac(ownerMac) ?? throw new InvalidOperationException($"the client resolved {ServiceAddress} to {ownerMac}, no speaker node");
        say($"== client neighbour entry: {await NeighbourLineAsync(lab)}  -> {owner.NodeName}");
        say($"== waiting {SteadyState.TotalSeconds} s for steady state (the owner's gratuitous ARP burst is over, the neighbour lock time has passed)");
        await Task.Delay(SteadyState);

        var speaker = lab.SpeakerOf(owner);
        say($"== kill -9 {owner.NodeName} ({speaker})");
        var clock = Stopwatch.StartNew();
        await speaker.KillAsync();
        var newMac = await Wait.ForAsync("the client's neighbour entry to move to another node", TimeSpan.FromSeconds(10),
            () => lab.ClientNeighbourAsync(ServiceAddress), mac => mac is not null && mac != ownerMac, pollInterval: TimeSpan.FromMilliseconds(5));
        var elapsed = clock.Elapsed;
        var newOwner = lab.NodeWithMac(newMac) ?? throw new InvalidOperationException($"the client's entry moved to {newMac}, no speaker node");
        return new Failover(owner, newOwner, await NeighbourLineAsync(lab), elapsed);
    }

    private static async Task<string> NeighbourLineAsync(L2Lab lab) =>
        (await Command.RunAsync("ip", "-n", lab.ClientNamespace, "neigh", "show", ServiceAddress, "dev", "eth0")).EnsureSuccess().StandardOutput.Trim();

    private static string Seconds(TimeSpan elapsed) => elapsed.TotalSeconds.ToString("F3", CultureInfo.InvariantCulture);
}
