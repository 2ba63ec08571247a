using System.Globalization;
using System.Net;
using System.Net.Sockets;
using BgpLb.Netlab;

// bgplb-lab: the lab demos of README. "demo" (./demo.sh): one BIRD router, two speaker nodes running bgplb-speaker on
// examples/bgp, the router's table with an ECMP route per Service. "demo-l2" (./demo.sh l2): three speaker nodes and
// a client on one bridge with examples/l2, the owner of the address is killed and the client follows the new one.
// "demo-topology FILE" (./demo.sh --topology FILE): a containerlab topology file run in namespaces (TopologyDemo).
// "bench-l2-failover N" (bench/l2-failover.sh): that failover N times and the median. "bench-churn" (bench/churn.sh):
// the cost of one change with many Services loaded (ChurnBench). "bench-failover" (bench/failover.sh): how fast a
// router drops a failed speaker's next hop (FailoverBench). "bench-bfd-jitter" (bench/bfd-jitter.sh): the speaker's BFD
// intervals while it is busy (BfdJitterBench). "bench-soak" (bench/soak.sh): the speaker's memory, threads and files
// through a thousand session flaps (SoakBench). "fake-apiserver": the tests' fake kube-apiserver as a process, for
// bench-churn to run inside a namespace. "bfd-probe": one BFD session of ours inside a namespace, optionally recording
// every packet's arrival. Everything is torn down on exit, also on Ctrl+C and SIGTERM.
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
using var terminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(
    System.Runtime.InteropServices.PosixSignal.SIGTERM, context => { context.Cancel = true; stop.Cancel(); });
switch (args)
{
    case ["bench-churn", ..]:
        return await RunBenchAsync(args, ChurnOptions.Parse, ChurnOptions.Usage, o => ChurnBench.RunAsync(o, stop.Token));
    case ["bench-failover", ..]:
        return await RunBenchAsync(args, FailoverOptions.Parse, FailoverOptions.Usage, o => FailoverBench.RunAsync(o, stop.Token));
    case ["bench-bfd-jitter", ..]:
        return await RunBenchAsync(args, BfdJitterOptions.Parse, BfdJitterOptions.Usage, o => BfdJitterBench.RunAsync(o, stop.Token));
    case ["bench-soak", ..]:
        return await RunBenchAsync(args, SoakOptions.Parse, SoakOptions.Usage, o => SoakBench.RunAsync(o, stop.Token));
    case ["fake-apiserver", ..]:
        return await FakeApiServerHost.RunAsync(args[1..]);
    case ["bfd-probe", ..]:
        return await BfdProbe.RunAsync(args[1..], stop.Token);
    case ["demo", ..]:
        break;
    case ["demo-topology", var topologyFile, ..]:
        return await TopologyDemo.RunAsync(topologyFile, args.Contains("--keep"), stop.Token);
    case ["demo-l2", ..]:
        return await L2Demo.DemoAsync(L2Examples(), stop.Token);
    case ["bench-l2-failover"]:
        return await L2Demo.BenchAsync(L2Examples(), 5, stop.Token);
    case ["bench-l2-failover", var count, ..] when int.TryParse(count, CultureInfo.InvariantCulture, out var runs) && runs > 0:
        return await L2Demo.BenchAsync(L2Examples(), runs, stop.Token);
    default:
        await Console.Error.WriteLineAsync("usage: bgplb-lab demo [--examples DIR] [--log-level LEVEL] [--keep]\n       bgplb-lab demo-l2 [--examples DIR]\n       bgplb-lab demo-topology FILE.clab.yml [--keep]\n       bgplb-lab bench-l2-failover [RUNS=5] [--examples DIR]\n       bgplb-lab bench-churn [--services N] [--series LIST] ... (bgplb-lab bench-churn --help)\n       bgplb-lab bench-failover [--runs N] [--speakers LIST] [--routers LIST] [--failures LIST] [--detections LIST] ... (bgplb-lab bench-failover --help)\n       bgplb-lab bench-bfd-jitter [--services N] [--idle-seconds S] [--storm-seconds S] [--rate N] ... (bgplb-lab bench-bfd-jitter --help)\n       bgplb-lab bench-soak [--flaps N] [--sample-every N] [--routers LIST]\n       bgplb-lab fake-apiserver --kubeconfig FILE\n       bgplb-lab bfd-probe --local ADDR --remote ADDR [--tx MS] [--rx MS] [--multiplier N] [--record]");
        return 2;
}

var examples = ArgValue("--examples") ?? Path.Combine(BuiltExecutable.RepositoryRoot(), "examples", "bgp");
var keep = args.Contains("--keep");

Console.WriteLine($"== lab: router namespace + 2 node namespaces, BIRD {RouterAs} <-> bgplb-speaker {SpeakerAs}, config {examples}");
await using var lab = await Lab.CreateAsync("demo", 2, Console.WriteLine);
var neighbours = lab.Nodes.Select(n => new BgpNeighbor(n.Address, SpeakerAs) { HoldTime = 9 }).ToArray();
var router = await Router.StartAsync(RouterKind.Bird, lab, lab.RouterNamespace, "bird",
    new RouterOptions(IPAddress.Parse("198.18.255.1"), neighbours) { LocalAs = RouterAs });

string[] nodeNames = ["node-a", "node-b"];
var speakers = new List<SpeakerProcess>();
for (var i = 0; i < lab.Nodes.Count; i++)
{
    var speaker = await SpeakerProcess.StartAsync(lab, lab.Nodes[i], nodeNames[i], examples, metricsPort: 7474, logLevel: ArgValue("--log-level") ?? "information");
    speakers.Add(speaker);
    Console.WriteLine($"   {nodeNames[i]}: {speaker} in {lab.Nodes[i].Namespace}, address {lab.Nodes[i].Address}, logs in {lab.Directory}");
}

foreach (var node in lab.Nodes)
{
    await router.WaitForEstablishedAsync(node.Address, TimeSpan.FromSeconds(30));
    Console.WriteLine($"== BGP session with {node.Address} Established");
}

// "web" (ETP Cluster, endpoints on both nodes) gets both next hops; "api" (ETP Local, endpoint on node-a) one.
await router.WaitForKernelRouteAsync("203.0.113.1/32", TimeSpan.FromSeconds(30), r => r?.NextHops.Count == 2);
await router.WaitForKernelRouteAsync("203.0.113.2/32", TimeSpan.FromSeconds(30), r => r?.NextHops.Count == 1);

Console.WriteLine("== router: birdc show route all");
Console.WriteLine(await ((BirdRouter)router).BirdcAsync("show route all"));
Console.WriteLine($"== router namespace kernel table (ip route show proto bird)");
foreach (var route in await router.GetKernelRoutesAsync(AddressFamily.InterNetwork))
{
    if (route.Protocol == "bird") Console.WriteLine($"   {route}");
}

if (keep)
{
    Console.WriteLine($"== lab is up; try: ip netns exec {lab.RouterNamespace} birdc -s {((BirdRouter)router).ControlSocket} show route. Ctrl+C tears it down.");
    try { await Task.Delay(Timeout.Infinite, stop.Token); } catch (OperationCanceledException) { }
}

Console.WriteLine("== tearing down: SIGTERM to the speakers (Cease/Administrative Shutdown), then the namespaces go");
foreach (var speaker in speakers)
{
    Console.WriteLine($"   {speaker} exited with {await speaker.TerminateAsync(TimeSpan.FromSeconds(10))}");
}
lab.Passed();
return 0;

string? ArgValue(string name)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
}

// A benchmark: its options (after the command) parsed, exit 2 with the reason and the usage when they are wrong.
static async Task<int> RunBenchAsync<TOptions>(string[] arguments, Func<IReadOnlyList<string>, TOptions> parse, string usage, Func<TOptions, Task<int>> run)
{
    if (arguments.Contains("--help"))
    {
        Console.WriteLine(usage);
        return 0;
    }

    TOptions options;
    try
    {
        options = parse(arguments[1..]);
    }
    catch (ArgumentException e)
    {
        await Console.Error.WriteLineAsync($"bgplb-lab {arguments[0]}: {e.Message}\n{usage}");
        return 2;
    }

    return await run(options);
}

string L2Examples() => ArgValue("--examples") ?? Path.Combine(BuiltExecutable.RepositoryRoot(), "examples", "l2");


internal static partial class Program
{
    private const uint RouterAs = 64512;
    private const uint SpeakerAs = 64513;
}
