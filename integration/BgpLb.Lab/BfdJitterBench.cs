using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace BgpLb.Netlab;

/// <summary>The command line of <c>bgplb-lab bench-bfd-jitter</c>.</summary>
internal sealed record BfdJitterOptions
{
    public const string Usage = """
        usage: bgplb-lab bench-bfd-jitter [--services N] [--idle-seconds S] [--storm-seconds S] [--rate N] [--pool N] [--output FILE.tsv] [--keep]
          --services N       Services loaded (LoadBalancer, one EndpointSlice each, ready on the node), default 10000
          --idle-seconds S   the idle phase, default 30
          --storm-seconds S  the change storm, default 30
          --rate N           storm: Service files added or removed per second, default 1000
          --pool N           storm: Service files taking turns (half of them present at any time), default 1000
          --output FILE      append the result rows to FILE (tab-separated)
          --keep             keep the lab directory (configs, logs, the probe's packet times) even when everything passed
        """;

    public int Services { get; init; } = 10_000;

    public int IdleSeconds { get; init; } = 30;

    public int StormSeconds { get; init; } = 30;

    public int Rate { get; init; } = 1000;

    public int Pool { get; init; } = 1000;

    public string? Output { get; init; }

    public bool Keep { get; init; }

    public static BfdJitterOptions Parse(IReadOnlyList<string> args)
    {
        var options = new BfdJitterOptions();
        foreach (var (name, value) in BenchArguments.Options(args, "--keep"))
        {
            options = name switch
            {
                "--keep" => options with { Keep = true },
                "--services" => options with { Services = BenchArguments.Number(name, value, 1, 110_000) },
                "--idle-seconds" => options with { IdleSeconds = BenchArguments.Number(name, value, 1, 3600) },
                "--storm-seconds" => options with { StormSeconds = BenchArguments.Number(name, value, 1, 3600) },
                "--rate" => options with { Rate = BenchArguments.Number(name, value, 1, 100_000) },
                "--pool" => options with { Pool = BenchArguments.Number(name, value, 2, 4096) },
                "--output" => options with { Output = value },
                _ => throw new ArgumentException($"unknown option {name}"),
            };
        }

        return options;
    }
}

/// <summary>
/// <c>bgplb-lab bench-bfd-jitter</c> (bench/bfd-jitter.sh): do the speaker's BFD packets keep their interval while it is
/// busy? One speaker node with N Services (<see cref="ServiceFiles"/>) and a BGPPeer with a BFDProfile of 100 ms x 3
/// towards the router namespace, where BIRD runs BGP (without BFD) and <c>bgplb-lab bfd-probe --record</c> is the
/// speaker's BFD peer on port 3784, stamping every packet from the speaker on its BFD thread. Once all routes are at the
/// router, BFD is up at 100 ms and the speaker's start-up work is done, two phases: idle, then a change storm
/// (<see cref="FileStorm"/>: Service files added and removed at a fixed rate). Per phase: packets, inter-arrival
/// percentiles against the negotiated 100 ms (RFC 5880 §6.8.7 jitter makes 75–100 ms normal), gaps longer than the
/// 300 ms detection time, the speaker's CPU and whether the probe's session stayed Up.
/// </summary>
internal sealed class BfdJitterBench
{
    public const string TestName = "jitter";
    private const uint RouterAs = 64512;
    private const uint SpeakerAs = 64513;
    private const string NodeName = "node1";
    private static readonly uint StormBase = RouteMonitor.Key(IPAddress.Parse("198.19.208.0"));
    private static readonly BfdTimers Timers = BfdTimers.Fast;

    private readonly BfdJitterOptions _options;
    private readonly CancellationToken _stop;

    private BfdJitterBench(BfdJitterOptions options, CancellationToken stop)
    {
        _options = options;
        _stop = stop;
    }

    /// <summary>One phase's results.</summary>
    private sealed record PhaseRow(string Phase, double Seconds, InterArrivalStats Stats, double CpuSeconds, int StateChanges, bool StayedUp, string Note)
    {
        public static readonly string[] Header =
            ["phase", "seconds", "packets", "p50_ms", "p99_ms", "p99.9_ms", "max_ms", $"gaps>{Timers.DetectionMilliseconds}ms", "speaker_cpu", "bfd", "note"];

        public string[] Cells() =>
        [
            Phase, Seconds.ToString("F1", CultureInfo.InvariantCulture), Stats.Packets.ToString(CultureInfo.InvariantCulture),
            ChurnRow.Format(Stats.P50, 1), ChurnRow.Format(Stats.P99, 1), ChurnRow.Format(Stats.P999, 1), ChurnRow.Format(Stats.Max, 1),
            Stats.Gaps.ToString(CultureInfo.InvariantCulture),
            string.Create(CultureInfo.InvariantCulture, $"{CpuSeconds / Seconds * 100:F1}%"),
            StayedUp ? "stayed Up" : $"{StateChanges} state changes", Note,
        ];
    }

    public static async Task<int> RunAsync(BfdJitterOptions options, CancellationToken stop)
    {
        List<PhaseRow> rows;
        try
        {
            rows = await new BfdJitterBench(options, stop).MeasureAsync();
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            BenchLog.Write("interrupted: processes killed, namespaces deleted");
            return 130;
        }

        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"BFD jitter: inter-arrival of bgplb-speaker's packets at the probe, {options.Services} Services, negotiated interval {Timers.TransmitMilliseconds} ms " +
            $"(RFC 5880 jitter: 75-100 ms), detection time {Timers.DetectionMilliseconds} ms"));
        Console.Write(TextTable.Format([PhaseRow.Header, .. rows.Select(r => r.Cells())], leftAligned: 1));
        if (options.Output is { } output)
        {
            var header = File.Exists(output) ? [] : new[] { string.Join('\t', PhaseRow.Header) };
            await File.AppendAllLinesAsync(output, [.. header, .. rows.Select(r => string.Join('\t', r.Cells()))], CancellationToken.None);
        }

        var failed = rows.Where(r => r.Stats.Gaps > 0 || !r.StayedUp).ToList();
        foreach (var row in failed)
        {
            await Console.Error.WriteLineAsync($"FAILED: {row.Phase}: {row.Stats.Gaps} gaps longer than the detection time, {row.StateChanges} state changes of the probe's session");
        }

        return failed.Count == 0 ? 0 : 1;
    }

    private async Task<List<PhaseRow>> MeasureAsync()
    {
        await using var lab = await Lab.CreateAsync(TestName, 1, BenchLog.Write);
        var node = lab.Nodes[0];
        await Router.StartAsync(RouterKind.Bird, lab, lab.RouterNamespace, "router", lab.RouterOptionsFor(SpeakerAs, holdTime: 9));
        using var monitor = await RouteMonitor.StartAsync(lab.RouterNamespace);
        var probe = await BfdProbe.StartAsync(lab, lab.RouterNamespace, node.RouterAddress, node.Address, Timers, record: true);

        var files = new ServiceFiles(Path.Combine(lab.Directory, "config"), NodeName);
        await files.WriteLabAsync(node, _options.Services, SpeakerAs, RouterAs, Timers, _stop);
        await files.WriteServicesAsync(_options.Services, _stop);
        var storm = new FileStorm(files, StormBase, _options.Pool);
        var present = ServiceFiles.Loaded(_options.Services);
        present.UnionWith(storm.Prefill());

        BenchLog.Write($"== {_options.Services} Services, BFD {Timers} with the probe (pid {probe.Pid}) in {lab.RouterNamespace}, BIRD router without BFD");
        var speaker = await SpeakerProcess.StartAsync(lab, node, NodeName, files.Directory, logLevel: "information");
        await monitor.WaitForTableAsync(present, speaker.Process, $"all {present.Count} routes at the router", TimeSpan.FromSeconds(180), _stop);
        await Wait.ForAsync($"the probe's session Up at {Timers}", TimeSpan.FromSeconds(30), () => Task.FromResult(BfdProbe.Parse(probe.ReadOutput())),
            o => o.States is [.., { To: "Up" }] && o.Timers is [.., var t] && t.DetectionMilliseconds == Timers.DetectionMilliseconds).WaitAsync(_stop);
        if (!await ProcessStats.SettleAsync(speaker.Process, _stop))
        {
            BenchLog.Write("the speaker is still busy after 2 minutes; measuring anyway");
        }

        BenchLog.Write($"== idle {_options.IdleSeconds} s");
        var idleStart = Stopwatch.GetTimestamp();
        var idleCpu = speaker.Process.CpuSeconds();
        await Task.Delay(TimeSpan.FromSeconds(_options.IdleSeconds), _stop);

        var total = _options.Rate * _options.StormSeconds;
        BenchLog.Write($"== storm: {total} changes at {_options.Rate}/s (Service files of a pool of {storm.Pool} added and removed)");
        var stormStart = Stopwatch.GetTimestamp();
        var stormCpu = speaker.Process.CpuSeconds();
        var changes = await storm.RunAsync(_options.Rate, total, stormStart, _stop).WaitAsync(_stop);
        var stormEnd = Stopwatch.GetTimestamp();
        var endCpu = speaker.Process.CpuSeconds();

        // The probe prints every 100 ms: read its output once it shows a packet after the storm (or a detection time later).
        var output = await Wait.ForAsync("the probe to show a packet after the storm", TimeSpan.FromSeconds(10),
            () => Task.FromResult(BfdProbe.Parse(probe.ReadOutput())), o => o.Arrivals.Count > 0 && o.Arrivals[^1] > stormEnd).WaitAsync(_stop);
        var routeChanges = monitor.EventsSince(stormStart).Count(e => e.Timestamp < stormEnd);
        var achieved = total / ProcessStats.Milliseconds(stormStart, changes[^1].Timestamp) * 1000;
        List<PhaseRow> rows =
        [
            Phase("idle", output, idleStart, stormStart, stormCpu - idleCpu, "nothing changes"),
            Phase("storm", output, stormStart, stormEnd, endCpu - stormCpu, string.Create(CultureInfo.InvariantCulture,
                $"{total} file changes at {achieved:F0}/s; the router's table saw {routeChanges} route changes meanwhile")),
        ];
        foreach (var row in rows)
        {
            BenchLog.Write($"   {row.Phase}: {row.Stats}; speaker CPU {row.CpuSeconds:F2} s; {(row.StayedUp ? "BFD stayed Up" : $"{row.StateChanges} BFD state changes")}");
        }

        if (!_options.Keep && rows.All(r => r.Stats.Gaps == 0 && r.StayedUp))
        {
            lab.Passed();
        }

        return rows;
    }

    /// <summary>The phase [<paramref name="from"/>, <paramref name="to"/>): the probe's packets and state changes in it, the speaker's CPU.</summary>
    private static PhaseRow Phase(string name, ProbeOutput output, long from, long to, double cpuSeconds, string note)
    {
        var changes = output.States.Count(s => s.Timestamp >= from && s.Timestamp < to);
        var upAtStart = output.States.LastOrDefault(s => s.Timestamp < from)?.To == "Up";
        return new PhaseRow(name, ProcessStats.Milliseconds(from, to) / 1000, InterArrivalStats.Of(output.Arrivals, from, to, Timers.DetectionMilliseconds),
            cpuSeconds, changes, upAtStart && changes == 0, note);
    }
}
