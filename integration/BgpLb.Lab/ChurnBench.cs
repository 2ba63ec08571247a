using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using BgpLb.Kubernetes.Testing;

namespace BgpLb.Netlab;

/// <summary>
/// <c>bgplb-lab bench-churn</c> (bench/churn.sh): what one change costs with many Services loaded (DESIGN.md §6).
/// One speaker-node namespace <c>bgplb-churn-n1</c> and a router namespace <c>bgplb-churn-r</c> running BIRD 2, whose
/// kernel protocol installs every BGP route in that namespace's table. "At the router" means in that kernel table, as
/// seen by <see cref="RouteMonitor"/> (<c>ip monitor route</c>, each line stamped on arrival with the monotonic clock).
/// The senders take turns on the node, each loading the same N /32s (198.18.16.0 upwards) and then changing others
/// (198.19.192.0/18, never loaded):
/// <list type="bullet">
/// <item>bgplb-speaker on a config directory (file-add, file-flip, idle, file-rate), measured from the rename or
/// unlink of a file;</item>
/// <item>bgplb-speaker with --kubeconfig against the tests' fake API server (kube), measured from the moment the server
/// flushed the watch event; the server runs as <c>bgplb-lab fake-apiserver</c> inside the node's namespace, on its
/// loopback, driven over its standard input;</item>
/// <item>BIRD with static routes (bird), measured from the return of <c>birdc configure</c>;</item>
/// <item>GoBGP (gobgp), measured from the return of <c>gobgp global rib add/del</c>.</item>
/// </list>
/// CPU per change is the sender's user+system time (/proc/PID/stat) over a whole series divided by its changes.
/// </summary>
internal sealed class ChurnBench
{
    public const string TestName = "churn";
    private const string NodeName = "node1";
    private const uint RouterAs = 64512;
    private const uint SpeakerAs = 64513;
    private const int GobgpApiPort = 50051;

    private static readonly uint AddBase = Key("198.19.192.0");       // file-add: one new Service per change
    private static readonly uint FileFlipAddress = Key("198.19.200.1"); // file-flip: its own Service and slice file
    private static readonly uint RateBase = Key("198.19.208.0");      // file-rate: the pool taking turns
    private static readonly uint KubeAddBase = Key("198.19.224.0");
    private static readonly uint BirdAddBase = Key("198.19.232.0");
    private static readonly uint GobgpAddBase = Key("198.19.236.0");
    private static readonly TimeSpan ChangeTimeout = TimeSpan.FromSeconds(10);

    private readonly ChurnOptions _options;
    private readonly CancellationToken _stop;
    private readonly List<ChurnRow> _rows = [];
    private readonly List<string> _failures = [];
    private Lab _lab = null!;
    private LabNode _node = null!;
    private RouteMonitor _monitor = null!;
    private double _kubeStatusSeconds;
    private bool _warmingUp;

    private ChurnBench(ChurnOptions options, CancellationToken stop)
    {
        _options = options;
        _stop = stop;
    }

    private int N => _options.Services;

    private TimeSpan Gap => TimeSpan.FromMilliseconds(_options.GapMilliseconds);

    public static async Task<int> RunAsync(ChurnOptions options, CancellationToken stop)
    {
        var bench = new ChurnBench(options, stop);
        try
        {
            await bench.RunAsync();
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            Log("interrupted: processes killed, namespaces deleted");
            return 130;
        }

        Console.WriteLine();
        Console.Write(ChurnRow.Table(bench._rows));
        if (options.Output is { } output)
        {
            var header = File.Exists(output) ? [] : new[] { ChurnRow.Header };
            await File.AppendAllLinesAsync(output, [.. header, .. bench._rows.Select(r => r.ToTsv())], CancellationToken.None);
        }

        foreach (var failure in bench._failures)
        {
            await Console.Error.WriteLineAsync("FAILED: " + failure);
        }

        return bench._failures.Count == 0 ? 0 : 1;
    }

    private static void Log(string message) => BenchLog.Write(message);

    private async Task RunAsync()
    {
        await using var lab = await Lab.CreateAsync(TestName, 1, Log);
        _lab = lab;
        _node = lab.Nodes[0];
        await Router.StartAsync(RouterKind.Bird, lab, lab.RouterNamespace, "router",
            new RouterOptions(IPAddress.Parse("198.18.255.1"), [new BgpNeighbor(_node.Address, SpeakerAs)]) { LocalAs = RouterAs });
        using var monitor = await RouteMonitor.StartAsync(lab.RouterNamespace);
        _monitor = monitor;
        Log($"== router BIRD in {lab.RouterNamespace} (kernel protocol -> its table), node {_node.Namespace} {_node.Address}, " +
            $"ip monitor route pid {monitor.Pid}; N = {N}, series {string.Join(',', ChurnOptions.AllSeries.Where(_options.Runs))}");

        if (_options.Runs("file-add") || _options.Runs("file-flip") || _options.Runs("idle") || _options.Runs("file-rate"))
        {
            await PhaseAsync("file mode", FileModeAsync);
        }

        if (_options.Runs("kube"))
        {
            await PhaseAsync("Kubernetes mode", KubernetesModeAsync);
        }

        if (_options.Runs("bird"))
        {
            await PhaseAsync("BIRD as the sender", BirdSenderAsync);
        }

        if (_options.Runs("gobgp"))
        {
            await PhaseAsync("GoBGP as the sender", GobgpSenderAsync);
        }

        if (monitor.Overflows > 0)
        {
            Log($"note: ip monitor reported {monitor.Overflows} receive errors (bulk loads); the present set was re-read from the table after each load");
        }

        if (_failures.Count == 0 && !_options.Keep)
        {
            lab.Passed();
        }
        else
        {
            Log($"lab files kept in {lab.Directory}");
        }
    }

    private async Task PhaseAsync(string name, Func<Task> phase)
    {
        Log($"== {name}");
        try
        {
            await phase();
        }
        catch (Exception e) when (e is not OperationCanceledException || !_stop.IsCancellationRequested)
        {
            _failures.Add($"{name}: {e.GetType().Name}: {e.Message}");
            Log($"{name} failed: {e}");
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // File mode

    private async Task FileModeAsync()
    {
        var files = new ServiceFiles(Path.Combine(_lab.Directory, "config"), NodeName);
        await files.WriteLabAsync(_node, N, SpeakerAs, RouterAs, bfd: null, _stop);
        await files.WriteServicesAsync(N, _stop);
        files.WriteAtomically("flip.yaml", ServiceFiles.ServiceYaml("flip", FileFlipAddress));
        files.WriteAtomically("flip-slice.yaml", files.SliceYaml("flip", ready: true));

        var expected = ServiceFiles.Loaded(N);
        expected.Add(FileFlipAddress);
        var started = Stopwatch.GetTimestamp();
        var speaker = await SpeakerProcess.StartAsync(_lab, _node, NodeName, files.Directory, metricsPort: 7474, bgpListen: "0.0.0.0:0", logLevel: "warning");
        try
        {
            await _monitor.WaitForTableAsync(expected, speaker.Process, "bgplb-speaker (files) loaded", LoadTimeout, _stop);
            LoadRow("file: load", "bgplb", speaker.Process, started, $"start -> all {expected.Count} routes in the router's table");
            await SettleAsync(speaker.Process);
            if (_options.Runs("file-add"))
            {
                await WarmedUpAsync(count => FileAddRemoveAsync(speaker.Process, files, count), _options.Changes);
            }

            if (_options.Runs("file-flip"))
            {
                await WarmedUpAsync(count => FileFlipAsync(speaker.Process, files, count), _options.Flips);
            }

            if (_options.Runs("idle"))
            {
                await IdleAsync(speaker.Process);
            }

            if (_options.Runs("file-rate"))
            {
                await FileRateAsync(speaker.Process, files, expected);
            }
        }
        finally
        {
            await StopSenderAsync(speaker.Process);
        }
    }

    /// <summary>(a) A new file with a Service and its slice appears, then goes: one route added, one removed.</summary>
    private async Task FileAddRemoveAsync(NetnsProcess speaker, ServiceFiles files, int count)
    {
        var added = new List<double>();
        var removed = new List<double>();
        int lostAdded = 0, lostRemoved = 0;
        var cpu = speaker.CpuSeconds();
        for (var i = 0; i < count; i++)
        {
            var address = AddBase + (uint)i;
            var name = $"churn-{i}.yaml";
            var content = ServiceFiles.ServiceYaml($"churn-{i}", address) + files.SliceYaml($"churn-{i}", ready: true);
            var before = Stopwatch.GetTimestamp();
            files.WriteAtomically(name, content);
            await MeasureAsync(address, true, before, Stopwatch.GetTimestamp(), added, () => lostAdded++);
            await Task.Delay(Gap, _stop);

            before = Stopwatch.GetTimestamp();
            files.Delete(name);
            await MeasureAsync(address, false, before, Stopwatch.GetTimestamp(), removed, () => lostRemoved++);
            await Task.Delay(Gap, _stop);
        }

        var cpuSeconds = speaker.CpuSeconds() - cpu;
        var perChange = cpuSeconds * 1000 / (2 * count);
        var rss = ProcessStats.RssMiB(speaker.Pid);
        const string note = "new file (temp + rename) -> route in the router's table; file deleted -> route gone; CPU over both directions";
        AddRows(
            new ChurnRow("file: Service added", "bgplb", N, LatencyStats.Of(added, lostAdded), perChange, cpuSeconds, rss, note),
            new ChurnRow("file: Service removed", "bgplb", N, LatencyStats.Of(removed, lostRemoved), perChange, cpuSeconds, rss, ""));
    }

    /// <summary>(b) An existing Service's slice file rewritten with its one endpoint not ready, then ready again.</summary>
    private async Task FileFlipAsync(NetnsProcess speaker, ServiceFiles files, int count)
    {
        var down = new List<double>();
        var up = new List<double>();
        int lostDown = 0, lostUp = 0;
        var cpu = speaker.CpuSeconds();
        for (var i = 0; i < count; i++)
        {
            var before = Stopwatch.GetTimestamp();
            files.WriteAtomically("flip-slice.yaml", files.SliceYaml("flip", ready: false));
            await MeasureAsync(FileFlipAddress, false, before, Stopwatch.GetTimestamp(), down, () => lostDown++);
            await Task.Delay(Gap, _stop);

            before = Stopwatch.GetTimestamp();
            files.WriteAtomically("flip-slice.yaml", files.SliceYaml("flip", ready: true));
            await MeasureAsync(FileFlipAddress, true, before, Stopwatch.GetTimestamp(), up, () => lostUp++);
            await Task.Delay(Gap, _stop);
        }

        var cpuSeconds = speaker.CpuSeconds() - cpu;
        var perChange = cpuSeconds * 1000 / (2 * count);
        var rss = ProcessStats.RssMiB(speaker.Pid);
        const string note = "slice file rewritten (temp + rename) with ready: false -> route gone; ready: true -> route back";
        AddRows(
            new ChurnRow("file: slice not ready", "bgplb", N, LatencyStats.Of(down, lostDown), perChange, cpuSeconds, rss, note),
            new ChurnRow("file: slice ready", "bgplb", N, LatencyStats.Of(up, lostUp), perChange, cpuSeconds, rss, ""));
    }

    /// <summary>(d) Nothing changes: the speaker's CPU over the period, as a share of one core.</summary>
    private async Task IdleAsync(NetnsProcess speaker)
    {
        await SettleAsync(speaker);
        var cpu = speaker.CpuSeconds();
        var start = Stopwatch.GetTimestamp();
        await Task.Delay(TimeSpan.FromSeconds(_options.IdleSeconds), _stop);
        var cpuSeconds = speaker.CpuSeconds() - cpu;
        var seconds = ProcessStats.SecondsSince(start);
        var row = new ChurnRow($"file: idle {_options.IdleSeconds} s", "bgplb", N, null, null, cpuSeconds, ProcessStats.RssMiB(speaker.Pid),
            string.Create(CultureInfo.InvariantCulture, $"{cpuSeconds / seconds * 100:F3}% of one core (CPU ticks are 10 ms)"));
        _rows.Add(row);
        Report(row);
    }

    /// <summary>
    /// (c) <see cref="ChurnOptions.Rate"/> changes per second: Service files of a pool take turns, a new one added, the
    /// oldest removed, so that half the pool is present. Then the time until the router's table is right again.
    /// </summary>
    private async Task FileRateAsync(NetnsProcess speaker, ServiceFiles files, HashSet<uint> loaded)
    {
        var storm = new FileStorm(files, RateBase, _options.RatePool);
        var pool = storm.Pool;
        var present = new HashSet<uint>(loaded);
        present.UnionWith(storm.Prefill());
        await _monitor.WaitForTableAsync(present, speaker, $"the first {pool / 2} Services of the pool", TimeSpan.FromSeconds(60), _stop);
        await SettleAsync(speaker);

        var total = _options.Rate * _options.RateSeconds;
        var rss = new List<double>();
        var cpu = speaker.CpuSeconds();
        var start = Stopwatch.GetTimestamp();
        using var sampling = CancellationTokenSource.CreateLinkedTokenSource(_stop);
        var sampler = SampleRssAsync(speaker.Pid, rss, sampling.Token);
        var operations = await storm.RunAsync(_options.Rate, total, start, _stop).WaitAsync(_stop);
        var written = operations[^1].Timestamp;
        var achieved = total / ProcessStats.Milliseconds(start, operations[^1].Timestamp) * 1000;
        foreach (var (_, _, address, added) in operations)
        {
            if (added)
            {
                present.Add(address);
            }
            else
            {
                present.Remove(address);
            }
        }

        // The tail: until the table as the monitor sees it is exactly what the files say, then checked with a dump.
        var converged = await _monitor.WaitUntilAsync(p => p.SetEquals(present), TimeSpan.FromSeconds(120));
        var convergedAt = Stopwatch.GetTimestamp();
        var cpuSeconds = speaker.CpuSeconds() - cpu;
        await sampling.CancelAsync();
        await sampler;
        var events = _monitor.EventsSince(start);
        var lastEvent = events.Where(e => e.Destination - RateBase < (uint)pool).Select(e => e.Timestamp).DefaultIfEmpty(start).Max();
        var tail = converged ? Math.Max(0, ProcessStats.Milliseconds(written, lastEvent)) : ProcessStats.Milliseconds(written, convergedAt);
        var table = await RouteMonitor.DumpAsync(_lab.RouterNamespace, _monitor.Protocol);
        var correct = table.SetEquals(present);
        var latencies = MatchLatencies(operations, events, out var lost);
        var row = new ChurnRow($"file: {_options.Rate}/s for {_options.RateSeconds} s", "bgplb", N, LatencyStats.Of(latencies, lost),
            cpuSeconds * 1000 / total, cpuSeconds, rss.Count > 0 ? rss.Max() : null,
            string.Create(CultureInfo.InvariantCulture,
                $"{total} changes at {achieved:F0}/s, pool {pool}; tail after the last write {tail:F0} ms; table {(correct ? "correct" : "WRONG")} " +
                $"({table.Count} routes, expected {present.Count}); RSS min {(rss.Count > 0 ? rss.Min() : 0):F0} / max {(rss.Count > 0 ? rss.Max() : 0):F0} MiB " +
                $"over {rss.Count} samples (first {(rss.Count > 0 ? rss[0] : 0):F0}, last {(rss.Count > 0 ? rss[^1] : 0):F0}); CPU {cpuSeconds / ProcessStats.Milliseconds(start, convergedAt) * 100000:F1}% of one core"));
        _rows.Add(row);
        Report(row);
        if (!converged || !correct)
        {
            _failures.Add($"file-rate: the router's table is not what the files say ({table.Count} routes, expected {present.Count}; " +
                $"missing {present.Except(table).Count()}, extra {table.Except(present).Count()})");
        }
    }

    /// <summary>
    /// Latency of each change of a fast series: the first event of the right kind for its address after the change
    /// began (the writer may be preempted between the syscall and reading the clock: the event can then precede the
    /// change's end, by the time it was preempted), measured from the change's end. A change whose event never came (or
    /// was overtaken by the next change) counts as lost.
    /// </summary>
    private static List<double> MatchLatencies(FileChange[] operations, List<RouteEvent> events, out int lost)
    {
        var byAddress = events.GroupBy(e => e.Destination).ToDictionary(g => g.Key, g => g.ToList());
        var cursor = new Dictionary<uint, int>();
        var latencies = new List<double>();
        lost = 0;
        foreach (var (before, timestamp, address, added) in operations.Where(o => o.Timestamp != 0))
        {
            if (!byAddress.TryGetValue(address, out var list))
            {
                lost++;
                continue;
            }

            var index = cursor.GetValueOrDefault(address);
            while (index < list.Count && list[index].Timestamp < before)
            {
                index++;
            }

            if (index < list.Count && list[index].Added == added)
            {
                latencies.Add(ProcessStats.Milliseconds(timestamp, list[index].Timestamp));
                index++;
            }
            else
            {
                lost++;
                if (lost <= 5)
                {
                    Log($"unmatched: {(added ? "add" : "remove")} {RouteMonitor.Address(address)} at {timestamp}; events for it: " +
                        string.Join(", ", list.Select(e => $"{(e.Added ? "+" : "-")}{e.Timestamp}")));
                }
            }

            cursor[address] = index;
        }

        return latencies;
    }

    private static async Task SampleRssAsync(int pid, List<double> samples, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            do
            {
                samples.Add(ProcessStats.RssMiB(pid));
            }
            while (await timer.WaitForNextTickAsync(cancellationToken));
        }
        catch (OperationCanceledException)
        {
            // the series is over
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Kubernetes mode

    private async Task KubernetesModeAsync()
    {
        var kubeconfig = Path.Combine(_lab.Directory, "kubeconfig");
        using var server = await FakeApiServerProcess.StartAsync(_node.Namespace, kubeconfig, _lab.Directory);
        Log($"fake API server (bgplb-lab fake-apiserver, pid {server.Pid}) at {server.Uri} in {_node.Namespace}");
        var last = RouteMonitor.Address(ServiceFiles.LoadedBase + (uint)N - 1);
        var objects = new List<(string, JsonObject)>
        {
            ("nodes", KubeObjects.Node(NodeName)),
            ("ipaddresspools", KubeObjects.Pool("bench", $"198.18.16.0-{last}", "198.19.192.0/18")),
            ("bgppeers", KubeObjects.Peer("router", _node.RouterAddress.ToString(), SpeakerAs, RouterAs, 179)),
            ("bgpadvertisements", KubeObjects.BgpAdvertisement("bench")),
        };
        for (var i = 0; i < N; i++)
        {
            objects.Add(("services", KubeObjects.Service("default", $"svc-{i}", RouteMonitor.Address(ServiceFiles.LoadedBase + (uint)i).ToString())));
            objects.Add(("endpointslices", KubeObjects.EndpointSlice("default", $"svc-{i}", NodeName, "10.0.0.1")));
        }

        for (var i = 0; i < _options.ClusterIpServices; i++)
        {
            var service = KubeObjects.Service("default", $"cip-{i}");
            service["spec"]!["type"] = "ClusterIP";
            objects.Add(("services", service));
        }

        // The slices of the Services the series adds exist from the start: a change is then exactly one watch event.
        for (var i = 0; i < Math.Max(_options.Changes, _options.Warmup); i++)
        {
            objects.Add(("endpointslices", KubeObjects.EndpointSlice("default", $"kube-churn-{i}", NodeName, "10.0.0.1")));
        }

        var loading = Stopwatch.GetTimestamp();
        await server.ApplyAllAsync(objects);
        Log($"fake API server holds {objects.Count} objects ({N} LoadBalancer Services, {N + Math.Max(_options.Changes, _options.Warmup)} EndpointSlices, " +
            $"{_options.ClusterIpServices} ClusterIP Services) after {ProcessStats.SecondsSince(loading):F1} s");
        await server.TraceAsync("services");
        await server.TraceAsync("endpointslices");

        var started = Stopwatch.GetTimestamp();
        var speaker = await _lab.StartProcessAsync(_node.Namespace, "speaker-kube", SpeakerProcess.ResolveExecutable(),
            "--node", NodeName, "--kubeconfig", kubeconfig, "--bgp-listen", "0.0.0.0:0", "--metrics-listen", "127.0.0.1:7475", "--log-level", "warning");
        try
        {
            var expected = ServiceFiles.Loaded(N);
            await _monitor.WaitForTableAsync(expected, speaker, "bgplb-speaker (Kubernetes) loaded", LoadTimeout, _stop);
            LoadRow("kube: load", "bgplb", speaker, started, $"start -> all {expected.Count} routes in the router's table");
            // The speaker then publishes a ServiceBGPStatus per announced Service (and a nodeAssigned event): that
            // start-up work must be over before a change is measured, or its CPU would be counted as the changes'.
            await speaker.WaitUntilReadyAsync($"a ServiceBGPStatus for each of the {N} Services", LoadTimeout,
                async () => await server.CountAsync("servicebgpstatuses") >= N);
            _kubeStatusSeconds = ProcessStats.SecondsSince(started);
            LoadRow("kube: status written", "bgplb", speaker, started, $"start -> a ServiceBGPStatus for each of the {N} Services");
            await SettleAsync(speaker);
            await WarmedUpAsync(count => KubeAddRemoveAsync(speaker, server, count), _options.Changes);
            await WarmedUpAsync(count => KubeFlipAsync(speaker, server, count), _options.Flips);
        }
        finally
        {
            await StopSenderAsync(speaker);
        }
    }

    private async Task KubeAddRemoveAsync(NetnsProcess speaker, FakeApiServerProcess server, int count)
    {
        var added = new List<double>();
        var removed = new List<double>();
        int lostAdded = 0, lostRemoved = 0;
        var cpu = speaker.CpuSeconds();
        for (var i = 0; i < count; i++)
        {
            var address = KubeAddBase + (uint)i;
            var name = $"kube-churn-{i}";
            var before = Stopwatch.GetTimestamp();
            var version = await server.ApplyAsync("services", KubeObjects.Service("default", name, RouteMonitor.Address(address).ToString()));
            var sent = await server.WaitForSentAsync(e => e.Resource == "services" && e.ResourceVersion == version, before, ChangeTimeout);
            await MeasureAsync(address, true, before, sent?.Timestamp, added, () => lostAdded++);
            await Task.Delay(Gap, _stop);

            before = Stopwatch.GetTimestamp();
            await server.RemoveAsync("services", "default", name);
            sent = await server.WaitForSentAsync(e => e.Type == "DELETED" && e.Resource == "services" && e.Key == $"default/{name}", before, ChangeTimeout);
            await MeasureAsync(address, false, before, sent?.Timestamp, removed, () => lostRemoved++);
            await Task.Delay(Gap, _stop);
        }

        var cpuSeconds = speaker.CpuSeconds() - cpu;
        var perChange = cpuSeconds * 1000 / (2 * count);
        var rss = ProcessStats.RssMiB(speaker.Pid);
        var note = string.Create(CultureInfo.InvariantCulture,
            $"Service ADDED / DELETED watch event flushed by the API server -> route; {N} LB + {_options.ClusterIpServices} ClusterIP Services, {N} slices loaded; " +
            $"measured after the speaker had written all {N} ServiceBGPStatus objects ({_kubeStatusSeconds:F0} s after its start)");
        AddRows(
            new ChurnRow("kube: Service added", "bgplb", N, LatencyStats.Of(added, lostAdded), perChange, cpuSeconds, rss, note),
            new ChurnRow("kube: Service removed", "bgplb", N, LatencyStats.Of(removed, lostRemoved), perChange, cpuSeconds, rss, ""));
    }

    private async Task KubeFlipAsync(NetnsProcess speaker, FakeApiServerProcess server, int count)
    {
        var down = new List<double>();
        var up = new List<double>();
        int lostDown = 0, lostUp = 0;
        var cpu = speaker.CpuSeconds();
        var address = ServiceFiles.LoadedBase;
        for (var i = 0; i < count; i++)
        {
            foreach (var ready in (bool[])[false, true])
            {
                var slice = KubeObjects.EndpointSlice("default", "svc-0", NodeName, "10.0.0.1");
                slice["endpoints"]![0]!["conditions"]!["ready"] = ready;
                var before = Stopwatch.GetTimestamp();
                var version = await server.ApplyAsync("endpointslices", slice);
                var sent = await server.WaitForSentAsync(e => e.Resource == "endpointslices" && e.ResourceVersion == version, before, ChangeTimeout);
                await MeasureAsync(address, ready, before, sent?.Timestamp, ready ? up : down, () =>
                {
                    if (ready)
                    {
                        lostUp++;
                    }
                    else
                    {
                        lostDown++;
                    }
                });
                await Task.Delay(Gap, _stop);
            }
        }

        var cpuSeconds = speaker.CpuSeconds() - cpu;
        var perChange = cpuSeconds * 1000 / (2 * count);
        var rss = ProcessStats.RssMiB(speaker.Pid);
        const string note = "EndpointSlice MODIFIED (its endpoint ready: false / true) watch event flushed -> route gone / back";
        AddRows(
            new ChurnRow("kube: slice not ready", "bgplb", N, LatencyStats.Of(down, lostDown), perChange, cpuSeconds, rss, note),
            new ChurnRow("kube: slice ready", "bgplb", N, LatencyStats.Of(up, lostUp), perChange, cpuSeconds, rss, ""));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // BIRD and GoBGP as the sender

    private async Task BirdSenderAsync()
    {
        var configPath = Path.Combine(_lab.Directory, "sender.bird.conf");
        var control = Path.Combine(_lab.Directory, "sender.bird.ctl");
        var head = new StringBuilder();
        head.AppendLine("log stderr { warning, error, fatal };")
            .AppendLine(CultureInfo.InvariantCulture, $"router id {_node.Address};")
            .AppendLine("protocol device {}")
            .AppendLine(CultureInfo.InvariantCulture,
                $"protocol bgp uplink {{ local {_node.Address} as {SpeakerAs}; neighbor {_node.RouterAddress} as {RouterAs}; connect delay time 1; error wait time 1, 5;")
            .AppendLine("  ipv4 { import none; export where source = RTS_STATIC; next hop self; }; }")
            .AppendLine("protocol static services { ipv4;");
        for (var i = 0; i < N; i++)
        {
            head.AppendLine(CultureInfo.InvariantCulture, $"  route {RouteMonitor.Address(ServiceFiles.LoadedBase + (uint)i)}/32 blackhole;");
        }

        head.AppendLine("}");
        var fixedPart = head.ToString();
        string Config(uint? churn) => fixedPart + (churn is { } a ? $"protocol static churn {{ ipv4; route {RouteMonitor.Address(a)}/32 blackhole; }}\n" : "");
        ServiceFiles.WriteAtomically(_lab.Directory, "sender.bird.conf", Config(null));

        var started = Stopwatch.GetTimestamp();
        var bird = await _lab.StartProcessAsync(_node.Namespace, "sender.bird", "bird", "-f", "-c", configPath, "-s", control);
        try
        {
            await _monitor.WaitForTableAsync(ServiceFiles.Loaded(N), bird, "BIRD (static routes) loaded", LoadTimeout, _stop);
            LoadRow("bird: load", "bird", bird, started, $"start -> all {N} routes in the router's table");
            await SettleAsync(bird);
            async Task ConfigureAsync(uint? churn)
            {
                ServiceFiles.WriteAtomically(_lab.Directory, "sender.bird.conf", Config(churn));
                var output = (await Command.RunAsync("birdc", "-s", control, "configure")).EnsureSuccess().StandardOutput;
                if (!output.Contains("Reconfigur", StringComparison.Ordinal))
                {
                    throw new InvalidOperationException($"birdc configure: {output.ReplaceLineEndings(" ")}");
                }
            }

            await WarmedUpAsync(count => SenderSeriesAsync("bird", bird, BirdAddBase, address => ConfigureAsync(address), _ => ConfigureAsync(null),
                "static /32 added to / removed from the config file, then birdc configure (BIRD answers \"Reconfiguration in progress\")", count), _options.Changes);
        }
        finally
        {
            await StopSenderAsync(bird);
        }
    }

    private async Task GobgpSenderAsync()
    {
        var config = _lab.WriteFile("sender.gobgp.toml", $"""
            [global.config]
              as = {SpeakerAs}
              router-id = "{_node.Address}"
            """);
        var gobgpd = await _lab.StartProcessAsync(_node.Namespace, "sender.gobgpd", "gobgpd", "-f", config,
            "--api-hosts", $"127.0.0.1:{GobgpApiPort}", "--log-plain", "--pprof-disable");
        try
        {
            async Task<string> Gobgp(params string[] arguments) =>
                (await Command.InNamespaceAsync(_node.Namespace, "gobgp", ["--port", GobgpApiPort.ToString(CultureInfo.InvariantCulture), .. arguments]))
                    .EnsureSuccess().StandardOutput;

            await gobgpd.WaitUntilReadyAsync("gRPC API", TimeSpan.FromSeconds(10), async () =>
                (await Command.InNamespaceAsync(_node.Namespace, "gobgp", "--port", GobgpApiPort.ToString(CultureInfo.InvariantCulture), "global")).Succeeded);
            var mrt = Path.Combine(_lab.Directory, "sender.rib.mrt");
            WriteMrt(mrt);
            var loaded = false;
            for (var attempt = 0; attempt < 3 && !loaded; attempt++)
            {
                await Gobgp("mrt", "inject", "global", mrt);
                try
                {
                    await Wait.UntilAsync("GoBGP's RIB to hold every route", TimeSpan.FromSeconds(20), async () =>
                        (await Gobgp("global", "rib", "summary", "-a", "ipv4")).Contains($"Destination: {N},", StringComparison.Ordinal));
                    loaded = true;
                }
                catch (TimeoutException e)
                {
                    Log(e.Message);
                }
            }

            if (!loaded)
            {
                throw new InvalidOperationException("GoBGP's RIB stayed incomplete after 3 mrt inject attempts");
            }

            var started = Stopwatch.GetTimestamp();
            await Gobgp("neighbor", "add", _node.RouterAddress.ToString(), "as", RouterAs.ToString(CultureInfo.InvariantCulture));
            await _monitor.WaitForTableAsync(ServiceFiles.Loaded(N), gobgpd, "GoBGP loaded", LoadTimeout, _stop);
            LoadRow("gobgp: load", "gobgp", gobgpd, started, $"neighbour added (RIB injected from MRT before) -> all {N} routes in the router's table");
            await SettleAsync(gobgpd);
            await WarmedUpAsync(count => SenderSeriesAsync("gobgp", gobgpd, GobgpAddBase,
                address => Gobgp("global", "rib", "add", "-a", "ipv4", $"{RouteMonitor.Address(address)}/32"),
                address => Gobgp("global", "rib", "del", "-a", "ipv4", $"{RouteMonitor.Address(address)}/32"),
                "ip netns exec NODE gobgp global rib add / del (CPU: gobgpd only, not the CLI)", count), _options.Changes);
        }
        finally
        {
            await StopSenderAsync(gobgpd);
        }
    }

    /// <summary>
    /// One route added then removed, <see cref="ChurnOptions.Changes"/> times, each by a command that
    /// <paramref name="add"/> / <paramref name="remove"/> run to completion. Latency is from the command's start: the
    /// route often reaches the router before the command has exited (its return is reported in the note).
    /// </summary>
    private async Task SenderSeriesAsync(string sender, NetnsProcess process, uint addBase, Func<uint, Task> add, Func<uint, Task> remove, string note, int count)
    {
        var added = new List<double>();
        var removed = new List<double>();
        var fromReturn = new List<double>();
        var commands = new List<double>();
        int lostAdded = 0, lostRemoved = 0;
        var cpu = process.CpuSeconds();
        for (var i = 0; i < count; i++)
        {
            var address = addBase + (uint)i;
            foreach (var adding in (bool[])[true, false])
            {
                var before = Stopwatch.GetTimestamp();
                await (adding ? add(address) : remove(address));
                var returned = Stopwatch.GetTimestamp();
                commands.Add(ProcessStats.Milliseconds(before, returned));
                var measured = (adding ? added : removed).Count;
                await MeasureAsync(address, adding, before, before, adding ? added : removed, () =>
                {
                    if (adding)
                    {
                        lostAdded++;
                    }
                    else
                    {
                        lostRemoved++;
                    }
                });
                var latencies = adding ? added : removed;
                if (latencies.Count > measured)
                {
                    fromReturn.Add(latencies[^1] - ProcessStats.Milliseconds(before, returned));
                }

                await Task.Delay(Gap, _stop);
            }
        }

        var cpuSeconds = process.CpuSeconds() - cpu;
        var perChange = cpuSeconds * 1000 / (2 * count);
        var rss = ProcessStats.RssMiB(process.Pid);
        var returns = LatencyStats.Of(fromReturn, 0);
        var commandStats = LatencyStats.Of(commands, 0);
        var fullNote = string.Create(CultureInfo.InvariantCulture,
            $"{note}; latency from the command's start; the command ran {commandStats.P50:F1} ms p50 ({commandStats.P99:F1} p99); " +
            $"from its return: p50 {returns.P50:F1} ms, p99 {returns.P99:F1} ms (both directions)");
        AddRows(
            new ChurnRow($"{sender}: route added", sender, N, LatencyStats.Of(added, lostAdded), perChange, cpuSeconds, rss, fullNote),
            new ChurnRow($"{sender}: route removed", sender, N, LatencyStats.Of(removed, lostRemoved), perChange, cpuSeconds, rss, ""));
    }

    /// <summary>
    /// GoBGP's RIB as an MRT TABLE_DUMP_V2 file (as bench/router-senders.sh builds it): the N loaded prefixes, next hop
    /// the node. `gobgp mrt inject` (3.10) exits before its gRPC stream drains and loses the last few hundred records,
    /// so the first prefixes are repeated after the last (an identical path again: harmless).
    /// </summary>
    private void WriteMrt(string path)
    {
        var nextHop = _node.Address.GetAddressBytes();
        using var file = new BufferedStream(File.Create(path));
        void Record(ushort subtype, byte[] body)
        {
            Span<byte> header = stackalloc byte[12];
            BinaryPrimitives.WriteUInt32BigEndian(header, 0);
            BinaryPrimitives.WriteUInt16BigEndian(header[4..], 13); // TABLE_DUMP_V2
            BinaryPrimitives.WriteUInt16BigEndian(header[6..], subtype);
            BinaryPrimitives.WriteUInt32BigEndian(header[8..], (uint)body.Length);
            file.Write(header);
            file.Write(body);
        }

        // PEER_INDEX_TABLE: collector id, empty view name, one peer (type 2: IPv4 address, 4-byte AS).
        var peers = new byte[4 + 2 + 2 + 1 + 4 + 4 + 4];
        nextHop.CopyTo(peers, 0);
        BinaryPrimitives.WriteUInt16BigEndian(peers.AsSpan(6), 1);
        peers[8] = 2;
        nextHop.CopyTo(peers, 9);
        nextHop.CopyTo(peers, 13);
        BinaryPrimitives.WriteUInt32BigEndian(peers.AsSpan(17), SpeakerAs);
        Record(1, peers);

        // ORIGIN IGP, empty AS_PATH (GoBGP prepends its AS towards the eBGP router), NEXT_HOP.
        byte[] attributes = [0x40, 1, 1, 0, 0x40, 2, 0, 0x40, 3, 4, .. nextHop];
        var entry = new byte[8 + attributes.Length];
        BinaryPrimitives.WriteUInt16BigEndian(entry.AsSpan(6), (ushort)attributes.Length);
        attributes.CopyTo(entry, 8);
        for (var sequence = 0; sequence < N + Math.Min(N, 5000); sequence++)
        {
            var body = new byte[4 + 1 + 4 + 2 + entry.Length];
            BinaryPrimitives.WriteUInt32BigEndian(body, (uint)sequence);
            body[4] = 32;
            BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(5), ServiceFiles.LoadedBase + (uint)(sequence % N));
            BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(9), 1);
            entry.CopyTo(body, 11);
            Record(2, body); // RIB_IPV4_UNICAST
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Shared

    /// <summary>
    /// Runs a series <see cref="ChurnOptions.Warmup"/> times unmeasured (the JIT's second tier compiles a method after
    /// 30 calls: until then the first changes cost several times more CPU), then <paramref name="count"/> times measured.
    /// </summary>
    private async Task WarmedUpAsync(Func<int, Task> series, int count)
    {
        if (_options.Warmup > 0)
        {
            _warmingUp = true;
            try
            {
                await series(_options.Warmup);
            }
            finally
            {
                _warmingUp = false;
            }
        }

        await series(count);
    }

    /// <summary>A sender's start-up: the time until its routes were in the router's table, its CPU and RSS then.</summary>
    private void LoadRow(string series, string sender, NetnsProcess process, long started, string what) =>
        AddRows(new ChurnRow(series, sender, N, null, null, process.CpuSeconds(), ProcessStats.RssMiB(process.Pid),
            string.Create(CultureInfo.InvariantCulture, $"{what}: {ProcessStats.SecondsSince(started):F1} s (CPU and RSS then)")));

    /// <summary>Records the rows of a series (none while warming up).</summary>
    private void AddRows(params ChurnRow[] rows)
    {
        if (_warmingUp)
        {
            return;
        }

        _rows.AddRange(rows);
        Report(rows);
        foreach (var row in rows.Where(r => r.Latency is { Lost: > 0 }))
        {
            _failures.Add($"{row.Series}: {row.Latency!.Lost} changes never reached the router's table within {ChangeTimeout.TotalSeconds} s");
        }
    }

    private TimeSpan LoadTimeout => TimeSpan.FromSeconds(120 + (N / 1000));

    private static uint Key(string address) => RouteMonitor.Key(IPAddress.Parse(address));

    /// <summary>
    /// Waits for the route event of one change. <paramref name="from"/> is when the change was made (the file renamed,
    /// the command returned, the watch event sent), null if that was never seen (then the change counts as lost).
    /// </summary>
    private async Task MeasureAsync(uint address, bool added, long notBefore, long? from, List<double> latencies, Action lost)
    {
        var at = await _monitor.WaitForAsync(address, added, notBefore, ChangeTimeout);
        if (at is { } routed && from is { } made)
        {
            latencies.Add(ProcessStats.Milliseconds(made, routed));
        }
        else
        {
            lost();
            Log($"{RouteMonitor.Address(address)}: no route {(added ? "added" : "removed")}{(from is null ? " (the change was never sent)" : "")} within {ChangeTimeout.TotalSeconds} s");
        }
    }

    /// <summary>Waits until the process's start-up work is done (<see cref="ProcessStats.SettleAsync"/>).</summary>
    private async Task SettleAsync(NetnsProcess process)
    {
        if (!await ProcessStats.SettleAsync(process, _stop))
        {
            Log($"{process.Name} still busy after 2 minutes; measuring anyway");
        }
    }

    /// <summary>SIGTERM (SIGKILL after 15 s), then waits until the router has dropped every route of ours.</summary>
    private async Task StopSenderAsync(NetnsProcess process)
    {
        if (!process.HasExited)
        {
            await process.SignalAsync("TERM");
            try
            {
                await process.WaitForExitAsync(TimeSpan.FromSeconds(15));
            }
            catch (TimeoutException)
            {
                await process.SignalAsync("KILL");
                await process.WaitForExitAsync(TimeSpan.FromSeconds(5));
            }
        }

        await _monitor.WaitForTableAsync([], null, $"the routes of {process.Name} withdrawn", TimeSpan.FromSeconds(120), _stop);
    }

    private static void Report(params ChurnRow[] rows)
    {
        foreach (var row in rows)
        {
            Log($"   {row.Series}: " + (row.Latency is { } l
                ? string.Create(CultureInfo.InvariantCulture, $"{l.Count} changes, p50 {l.P50:F1} ms, p99 {l.P99:F1} ms, max {l.Max:F1} ms, lost {l.Lost}; ")
                : "") + $"CPU/change {ChurnRow.Format(row.CpuPerChangeMs, 2)} ms, CPU {ChurnRow.Format(row.CpuSeconds, 2)} s, RSS {ChurnRow.Format(row.RssMiB, 0)} MiB {row.Note}");
        }
    }
}
