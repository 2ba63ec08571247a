using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;

namespace BgpLb.Netlab;

/// <summary>The command line of <c>bgplb-lab bench-failover</c>.</summary>
internal sealed record FailoverOptions
{
    public const string Usage = """
        usage: bgplb-lab bench-failover [--runs N] [--speakers LIST] [--routers LIST] [--failures LIST] [--detections LIST] [--output FILE.tsv] [--keep]
          --runs N            failovers per cell, default 5 (the table shows the median, min and max)
          --speakers LIST     bgplb (bgplb-speaker), bird (BIRD 2 advertising the /32 from a static route); default both
          --routers LIST      bird, frr; default both
          --failures LIST     kill (kill -9), stop (SIGSTOP), link (ip link set uplink down on the node), term (SIGTERM); default all
          --detections LIST   hold3, hold9 (BGP hold time, no BFD), bfd300, bfd100 (BFD 300 / 100 ms x 3, hold time 30 s); default all
          --output FILE       append one row per failover to FILE (tab-separated)
          --keep              keep the lab directories (configs, logs) even when everything passed
        """;

    public static readonly IReadOnlyList<string> AllSpeakers = ["bgplb", "bird"];
    public static readonly IReadOnlyList<string> AllRouters = ["bird", "frr"];

    public int Runs { get; init; } = 5;

    public IReadOnlyList<string> Speakers { get; init; } = AllSpeakers;

    public IReadOnlyList<string> Routers { get; init; } = AllRouters;

    public IReadOnlyList<string> Failures { get; init; } = FailoverBench.Failures.Keys.ToList();

    public IReadOnlyList<string> Detections { get; init; } = FailoverBench.Detections.Keys.ToList();

    public string? Output { get; init; }

    public bool Keep { get; init; }

    public static FailoverOptions Parse(IReadOnlyList<string> args)
    {
        var options = new FailoverOptions();
        foreach (var (name, value) in BenchArguments.Options(args, "--keep"))
        {
            options = name switch
            {
                "--keep" => options with { Keep = true },
                "--runs" => options with { Runs = BenchArguments.Number(name, value, 1, 100) },
                "--speakers" => options with { Speakers = BenchArguments.List(name, value, AllSpeakers) },
                "--routers" => options with { Routers = BenchArguments.List(name, value, AllRouters) },
                "--failures" => options with { Failures = BenchArguments.List(name, value, [.. FailoverBench.Failures.Keys]) },
                "--detections" => options with { Detections = BenchArguments.List(name, value, [.. FailoverBench.Detections.Keys]) },
                "--output" => options with { Output = value },
                _ => throw new ArgumentException($"unknown option {name}"),
            };
        }

        return options;
    }
}

/// <summary>
/// <c>bgplb-lab bench-failover</c> (bench/failover.sh): seconds from a speaker's failure until the router's kernel has
/// dropped its next hop. One speaker node announces 203.0.113.10/32 to the lab router (BIRD or FRR, installing BGP routes
/// in its namespace's kernel table); the failure is made, and <see cref="RouteMonitor"/> (<c>ip monitor route link</c>,
/// each line stamped with the monotonic clock on arrival) sees the /32 leave the table (FRR's route over a nexthop
/// object that the kernel flushes with its link leaves at that link event); the time is measured from a
/// <see cref="Stopwatch"/> timestamp taken right before the failure is caused (so it includes starting <c>kill</c> or
/// <c>ip</c>, a few ms). Speakers: bgplb-speaker, or BIRD as the reference (<c>bfd on</c> towards the router and a
/// <c>protocol bfd</c>, the /32 from a static route). One lab per (router, speaker, detection), reused for every
/// failure and run: after each failover the speaker is brought back (SIGCONT, a new process, link up) and the next run
/// starts once the route is back, the session Established and (with BFD) BFD up at the detection's timers.
/// </summary>
internal sealed class FailoverBench
{
    public const string TestName = "failover";
    private const uint RouterAs = 64512;
    private const uint SpeakerAs = 64513;
    private const string NodeName = "node1";
    private const string Prefix = "203.0.113.10/32";
    private static readonly uint Service = RouteMonitor.Key(IPAddress.Parse("203.0.113.10"));
    private static readonly TimeSpan RestoreTimeout = TimeSpan.FromSeconds(60);

    /// <summary>With BFD or after a link was down, how long the route must stay after a restore before the next failure (see <see cref="ReadyAsync"/>).</summary>
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(3);

    /// <summary>The failures, by option name: how the table names them.</summary>
    public static readonly IReadOnlyDictionary<string, string> Failures = new OrderedDictionary<string, string>
    {
        ["kill"] = "kill -9",
        ["stop"] = "SIGSTOP",
        ["link"] = "link down",
        ["term"] = "SIGTERM",
    };

    /// <summary>The detections, by option name.</summary>
    public static readonly IReadOnlyDictionary<string, Detection> Detections = new OrderedDictionary<string, Detection>
    {
        ["hold3"] = new(3, null),
        ["hold9"] = new(9, null),
        ["bfd300"] = new(30, new BfdTimers(300, 300, 3)),
        ["bfd100"] = new(30, BfdTimers.Fast),
    };

    private readonly FailoverOptions _options;
    private readonly CancellationToken _stop;
    private readonly List<Sample> _samples = [];
    private readonly List<string> _failures = [];

    private FailoverBench(FailoverOptions options, CancellationToken stop)
    {
        _options = options;
        _stop = stop;
    }

    /// <summary>How a failure is detected: the BGP hold time (s) on both sides, and BFD with these timers or none.</summary>
    public sealed record Detection(int HoldTime, BfdTimers? Bfd)
    {
        public override string ToString() => Bfd is null ? $"hold {HoldTime} s" : $"BFD {Bfd}";
    }

    /// <summary>
    /// One failover: seconds until the next hop was gone (null when it stayed for the hold time and 10 s more), and how
    /// often the route went again after the restore before it stayed (<see cref="ReadyAsync"/>).
    /// </summary>
    private sealed record Sample(string Router, string Speaker, string Detection, string Failure, int Run, double? Seconds, int Flaps)
    {
        public const string Header = "router\tspeaker\tdetection\tfailure\trun\tseconds\tflaps_after_restore";

        public string ToTsv() => string.Join('\t', Router, Speaker, Detection, Failure, Run.ToString(CultureInfo.InvariantCulture),
            Seconds?.ToString("F4", CultureInfo.InvariantCulture) ?? "timeout", Flaps.ToString(CultureInfo.InvariantCulture));
    }

    public static async Task<int> RunAsync(FailoverOptions options, CancellationToken stop)
    {
        var bench = new FailoverBench(options, stop);
        try
        {
            foreach (var router in options.Routers)
            {
                foreach (var speaker in options.Speakers)
                {
                    foreach (var detection in options.Detections)
                    {
                        await bench.CellAsync(router, speaker, detection);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            BenchLog.Write("interrupted: processes killed, namespaces deleted");
            return 130;
        }

        Console.WriteLine();
        Console.Write(bench.Table());
        if (options.Output is { } output)
        {
            var header = File.Exists(output) ? [] : new[] { Sample.Header };
            await File.AppendAllLinesAsync(output, [.. header, .. bench._samples.Select(s => s.ToTsv())], CancellationToken.None);
        }

        foreach (var failure in bench._failures)
        {
            await Console.Error.WriteLineAsync("FAILED: " + failure);
        }

        return bench._failures.Count == 0 ? 0 : 1;
    }

    /// <summary>One lab: every failure, <see cref="FailoverOptions.Runs"/> times. A cell that fails is reported and the others go on.</summary>
    private async Task CellAsync(string routerName, string speakerName, string detectionName)
    {
        var cell = $"{routerName} router, {speakerName} speaker, {detectionName}";
        var detection = Detections[detectionName];
        BenchLog.Write($"== {cell}: {detection}");
        var failuresBefore = _failures.Count;
        await using var lab = await Lab.CreateAsync(TestName, 1, BenchLog.Write);
        try
        {
            var node = lab.Nodes[0];
            var routerKind = routerName == "frr" ? RouterKind.Frr : RouterKind.Bird;
            var router = await Router.StartAsync(routerKind, lab, lab.RouterNamespace, "router",
                lab.RouterOptionsFor(SpeakerAs, holdTime: detection.HoldTime, bfd: detection.Bfd));
            // BIRD's kernel protocol installs its routes as "proto bird", FRR's zebra as "proto bgp".
            using var monitor = await RouteMonitor.StartAsync(lab.RouterNamespace, routerKind == RouterKind.Frr ? "bgp" : "bird");
            var speaker = new FailingSpeaker(speakerName, lab, node, detection);
            await speaker.StartAsync();
            if (await ReadyAsync(router, monitor, node, detection, settle: detection.Bfd is not null) is > 0 and var startFlaps)
            {
                BenchLog.Write($"   after the first start the route went {startFlaps} times before it stayed");
            }

            foreach (var failure in _options.Failures)
            {
                for (var run = 1; run <= _options.Runs; run++)
                {
                    var (seconds, flaps) = await FailoverAsync(router, monitor, speaker, node, detection, failure);
                    _samples.Add(new Sample(routerName, speakerName, detectionName, failure, run, seconds, flaps));
                    BenchLog.Write(string.Create(CultureInfo.InvariantCulture, $"   {Failures[failure]} run {run}: {(seconds is { } s ? $"{s:F3} s" : "not dropped")}"));
                    if (seconds is null)
                    {
                        _failures.Add($"{cell}, {Failures[failure]} run {run}: the router kept the route for the hold time and 10 s more");
                    }
                }
            }

            if (!_options.Keep && _failures.Count == failuresBefore)
            {
                lab.Passed();
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !_stop.IsCancellationRequested)
        {
            _failures.Add($"{cell}: {e.GetType().Name}: {e.Message}");
            BenchLog.Write($"{cell} failed: {e}");
        }
    }

    /// <summary>Makes the failure, waits until the router's kernel drops the /32, then undoes the failure and waits until all is ready again.</summary>
    private async Task<(double? Seconds, int Flaps)> FailoverAsync(Router router, RouteMonitor monitor, FailingSpeaker speaker, LabNode node, Detection detection, string failure)
    {
        var before = Stopwatch.GetTimestamp();
        switch (failure)
        {
            case "kill":
                await speaker.Process.SignalAsync("KILL");
                break;
            case "stop":
                await speaker.Process.SignalAsync("STOP");
                break;
            case "term":
                await speaker.Process.SignalAsync("TERM");
                break;
            case "link":
                await LinkAsync(node, "down");
                break;
        }

        var gone = await monitor.WaitForAsync(Service, added: false, before, TimeSpan.FromSeconds(detection.HoldTime + 10)).WaitAsync(_stop);
        var restoring = Stopwatch.GetTimestamp();
        switch (failure)
        {
            case "kill" or "term":
                await speaker.Process.WaitForExitAsync(TimeSpan.FromSeconds(15));
                await speaker.StartAsync();
                break;
            case "stop":
                await speaker.Process.SignalAsync("CONT");
                break;
            case "link":
                await LinkAsync(node, "up");
                break;
        }

        if (gone is not null && await monitor.WaitForAsync(Service, added: true, restoring, RestoreTimeout).WaitAsync(_stop) is { } back)
        {
            BenchLog.Write(string.Create(CultureInfo.InvariantCulture, $"      route back {ProcessStats.Milliseconds(restoring, back) / 1000:F1} s after the failure was undone"));
        }

        var flaps = await ReadyAsync(router, monitor, node, detection, settle: detection.Bfd is not null || failure == "link");
        return (gone is { } at ? ProcessStats.Milliseconds(before, at) / 1000 : null, flaps);
    }

    /// <summary>
    /// Waits until the route is in the router's kernel table (confirmed by a dump), the session Established and, with
    /// BFD, the router's BFD session up at the detection's timers. With <paramref name="settle"/> the route must then
    /// also stay for <see cref="Settle"/> (watched on the route events, no sleep); returns how often it went instead.
    /// That is for two cases where the conditions hold before things are steady: with BFD after a restart, the router's
    /// BFD session still knows the old process (or was reset with the BGP session) and can take the new BGP session
    /// down again about a second later, more than once; and after a link was set up again, the kernel's link watch
    /// (rate-limited, machine-wide) would pass the next carrier loss on only a second after the last one.
    /// </summary>
    private async Task<int> ReadyAsync(Router router, RouteMonitor monitor, LabNode node, Detection detection, bool settle)
    {
        for (var flaps = 0; ; flaps++)
        {
            await router.WaitForEstablishedAsync(node.Address, RestoreTimeout).WaitAsync(_stop);
            if (detection.Bfd is { } timers)
            {
                await router.WaitForBfdUpAsync(node.Address, timers, RestoreTimeout).WaitAsync(_stop);
            }

            await monitor.WaitForTableAsync([Service], null, $"{Prefix} in the router's kernel table", RestoreTimeout, _stop);
            if (!settle || await monitor.WaitForAsync(Service, added: false, Stopwatch.GetTimestamp(), Settle).WaitAsync(_stop) is null)
            {
                return flaps;
            }

            BenchLog.Write($"      the route went again within {Settle.TotalSeconds} s of being back: waiting for it to stay");
        }
    }

    private static async Task LinkAsync(LabNode node, string state) =>
        (await Command.RunAsync("ip", "-n", node.Namespace, "link", "set", node.Interface, state)).EnsureSuccess();

    /// <summary>The results: rows failure x detection, columns router x speaker, each "median (min–max)" in seconds.</summary>
    private string Table()
    {
        var columns = _options.Routers.SelectMany(r => _options.Speakers.Select(s => (Router: r, Speaker: s))).ToList();
        var lines = new List<string[]>
        {
            new[] { "failure", "detection" }.Concat(columns.Select(c => $"{Name(c.Router)} router / {(c.Speaker == "bird" ? "BIRD" : "bgplb")} speaker")).ToArray(),
        };
        foreach (var failure in _options.Failures)
        {
            foreach (var detection in _options.Detections)
            {
                lines.Add([Failures[failure], Detections[detection].ToString(), .. columns.Select(c => Cell(c.Router, c.Speaker, detection, failure))]);
            }
        }

        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture,
            $"Failover: seconds from the failure until the router's kernel dropped the speaker's next hop, median (min–max) of {_options.Runs} runs");
        text.Append(TextTable.Format(lines, leftAligned: lines[0].Length));
        var flapped = columns
            .Select(c => (Column: lines[0][columns.IndexOf(c) + 2], Restores: _samples.Where(s => (s.Router, s.Speaker) == c).ToList()))
            .Where(c => c.Restores.Any(s => s.Flaps > 0))
            .ToList();
        if (flapped.Count > 0)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"Restores after which the route went again before it stayed {Settle.TotalSeconds} s (with BFD or after link down; the next run waited for that):");
            foreach (var (column, restores) in flapped)
            {
                var byFailure = restores.Where(s => s.Flaps > 0).GroupBy(s => s.Failure).Select(g => $"{Failures[g.Key]} {g.Count()}");
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"  {column}: {restores.Count(s => s.Flaps > 0)} of {restores.Count} ({string.Join(", ", byFailure)}), the route went {restores.Sum(s => s.Flaps)} times in all");
            }
        }

        return text.ToString();

        static string Name(string router) => router == "frr" ? "FRR" : "BIRD";
    }

    private string Cell(string router, string speaker, string detection, string failure)
    {
        var samples = _samples.Where(s => (s.Router, s.Speaker, s.Detection, s.Failure) == (router, speaker, detection, failure)).ToList();
        var seconds = samples.Where(s => s.Seconds is not null).Select(s => s.Seconds!.Value).Order().ToList();
        var missed = samples.Count - seconds.Count;
        if (seconds.Count == 0)
        {
            return missed > 0 ? $"not dropped ({missed})" : "-";
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"{Statistics.Median(seconds):F3} ({seconds[0]:F3}–{seconds[^1]:F3}){(missed > 0 ? $" +{missed} not dropped" : "")}");
    }

    /// <summary>
    /// The speaker under test on the node, started again after a kill or SIGTERM (a new process, with its own log files):
    /// bgplb-speaker on a config directory with a BGPPeer (and a BFDProfile) and one Service with a ready endpoint, or
    /// BIRD originating the /32 from a static route.
    /// </summary>
    private sealed class FailingSpeaker
    {
        private readonly string _kind;
        private readonly Lab _lab;
        private readonly LabNode _node;
        private readonly Detection _detection;
        private readonly string _configDirectory;
        private int _incarnation;
        private NetnsProcess? _process;

        public FailingSpeaker(string kind, Lab lab, LabNode node, Detection detection)
        {
            _kind = kind;
            _lab = lab;
            _node = node;
            _detection = detection;
            _configDirectory = Path.Combine(lab.Directory, "speaker-config");
            if (kind == "bgplb")
            {
                MetalLbManifests.Write(_configDirectory, "lab.yaml",
                [
                    MetalLbManifests.Node(NodeName, node.Address),
                    MetalLbManifests.IpAddressPool("pool", "203.0.113.0/24"),
                    .. detection.Bfd is { } timers ? [timers.Profile("bfd")] : Array.Empty<string>(),
                    MetalLbManifests.BgpPeer("router", SpeakerAs, RouterAs, node.RouterAddress, holdTime: $"{detection.HoldTime}s",
                        bfdProfile: detection.Bfd is null ? null : "bfd"),
                    MetalLbManifests.BgpAdvertisement("adv", ["pool"]),
                    MetalLbManifests.Service("web", IPAddress.Parse("203.0.113.10")),
                    MetalLbManifests.EndpointSlice("web", NodeName, IPAddress.Parse("10.0.0.5")),
                ]);
            }
        }

        public NetnsProcess Process => _process ?? throw new InvalidOperationException("the speaker has not been started");

        public async Task StartAsync()
        {
            var name = "speaker" + (++_incarnation).ToString(CultureInfo.InvariantCulture);
            _process = _kind == "bgplb"
                ? (await SpeakerProcess.StartAsync(_lab, _node.Namespace, name, NodeName, _configDirectory, logLevel: "information")).Process
                : (await Router.StartAsync(RouterKind.Bird, _lab, _node.Namespace, name, BirdOptions())).BgpProcess;
        }

        /// <summary>BIRD as the speaker: the /32 from a static route, one session towards the router (with <c>bfd on</c> and a <c>protocol bfd</c>).</summary>
        private RouterOptions BirdOptions() =>
            new(_node.Address, [new BgpNeighbor(_node.RouterAddress, RouterAs) { HoldTime = _detection.HoldTime, Bfd = _detection.Bfd is not null, LocalAddress = _node.Address }])
            {
                LocalAs = SpeakerAs,
                Advertise = [new AdvertisedRoute(Prefix)],
                BfdNeighbors = _detection.Bfd is { } timers ? [timers.Neighbor(_node.RouterAddress, _node.Address)] : [],
            };
    }
}
