using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using BgpLb.Bgp.Bfd;
using Microsoft.Extensions.Logging.Abstractions;

namespace BgpLb.Netlab;

/// <summary>
/// <c>bgplb-lab bfd-probe --local ADDR --remote ADDR [--tx MS] [--rx MS] [--multiplier N] [--record]</c>: one BfdEndpoint
/// session, run inside a lab namespace so that a real router's BFD (or bgplb-speaker's) can be tested against ours.
/// Prints "ready", then until SIGTERM one line per event:
/// <list type="bullet">
/// <item><c>state OLD NEW DIAGNOSTIC TIMESTAMP</c>: our session changed state;</item>
/// <item><c>timers TX_MS DETECT_MS</c>: the interval we transmit at and our detection time, as negotiated, when they change;</item>
/// <item><c>rx TIMESTAMP</c> (with --record): a control packet from the remote was accepted.</item>
/// </list>
/// TIMESTAMPs are <see cref="Stopwatch"/> ticks taken on the BFD endpoint's dedicated thread (CLOCK_MONOTONIC: comparable
/// with any other process's Stopwatch on the machine). That thread only queues them; the lines are printed every 100 ms
/// from elsewhere. With --record the probe ends with the inter-arrival statistics of all it recorded.
/// </summary>
public static class BfdProbe
{
    private const string Usage = "usage: bgplb-lab bfd-probe --local ADDR --remote ADDR [--tx MS] [--rx MS] [--multiplier N] [--record]";

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        string? Value(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        uint Number(string name, uint fallback) => Value(name) is { } text ? uint.Parse(text, CultureInfo.InvariantCulture) : fallback;
        if (Value("--local") is not { } local || Value("--remote") is not { } remote)
        {
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }

        var record = args.Contains("--record");
        var options = new BfdSessionOptions
        {
            DesiredMinTxInterval = Number("--tx", 300) * 1000,
            RequiredMinRxInterval = Number("--rx", 300) * 1000,
            DetectMultiplier = (byte)Number("--multiplier", 3),
        };
        var states = new ConcurrentQueue<string>();
        var arrivals = new ConcurrentQueue<long>();
        using var endpoint = new BfdEndpoint(new BfdEndpointOptions(), NullLogger<BfdEndpoint>.Instance);
        endpoint.StateChanged += change => states.Enqueue(
            string.Create(CultureInfo.InvariantCulture, $"state {change.OldState} {change.NewState} {change.Diagnostic} {Stopwatch.GetTimestamp()}"));
        if (record)
        {
            endpoint.ControlPacketReceived += (_, timestamp) => arrivals.Enqueue(timestamp);
        }

        endpoint.Set(new BfdPeer(IPAddress.Parse(remote), IPAddress.Parse(local), options));
        Console.WriteLine("ready");

        var recorded = new List<long>();
        var timers = string.Empty;
        using var ticks = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        try
        {
            while (await ticks.WaitForNextTickAsync(cancellationToken))
            {
                await FlushAsync();
            }
        }
        catch (OperationCanceledException)
        {
        }

        await FlushAsync();
        if (record)
        {
            var detection = endpoint.Sessions() is [var session] ? session.DetectionTime.TotalMilliseconds : 3.0 * options.RequiredMinRxInterval / 1000;
            Console.WriteLine($"inter-arrival: {InterArrivalStats.Of(recorded, 0, long.MaxValue, detection)}");
        }

        return 0;

        async Task FlushAsync()
        {
            var lines = new StringBuilder();
            while (states.TryDequeue(out var line))
            {
                lines.AppendLine(line);
            }

            if (endpoint.Sessions() is [var session])
            {
                var now = string.Create(CultureInfo.InvariantCulture, $"timers {session.TransmitInterval.TotalMilliseconds} {session.DetectionTime.TotalMilliseconds}");
                if (now != timers)
                {
                    timers = now;
                    lines.AppendLine(now);
                }
            }

            while (arrivals.TryDequeue(out var timestamp))
            {
                recorded.Add(timestamp);
                lines.Append("rx ").Append(timestamp.ToString(CultureInfo.InvariantCulture)).Append('\n');
            }

            if (lines.Length > 0)
            {
                await Console.Out.WriteAsync(lines.ToString());
            }
        }
    }

    /// <summary>
    /// Starts the probe (this program's apphost, as the lab starts the speaker) in <paramref name="netns"/> with
    /// <paramref name="timers"/>, and waits until it has set up its session.
    /// </summary>
    public static async Task<NetnsProcess> StartAsync(NetnsLab lab, string netns, IPAddress local, IPAddress remote, BfdTimers timers, bool record = false)
    {
        var executable = Path.Combine(Path.GetDirectoryName(typeof(BfdProbe).Assembly.Location)!, "bgplb-lab");
        string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
        var probe = await lab.StartProcessAsync(netns, "bfd-probe", executable,
        [
            "bfd-probe", "--local", local.ToString(), "--remote", remote.ToString(),
            "--tx", Text(timers.TransmitMilliseconds), "--rx", Text(timers.ReceiveMilliseconds), "--multiplier", Text(timers.Multiplier),
            .. record ? (string[])["--record"] : [],
        ]);
        await probe.WaitUntilReadyAsync("to say ready", TimeSpan.FromSeconds(10), () => Task.FromResult(Parse(probe.ReadOutput()).Ready));
        return probe;
    }

    /// <summary>What the probe printed so far.</summary>
    public static ProbeOutput Parse(string output)
    {
        var ready = false;
        var arrivals = new List<long>();
        var states = new List<ProbeState>();
        var timers = new List<(double, double)>();
        foreach (var line in output.Split('\n'))
        {
            switch (line.Split(' '))
            {
                case ["ready"]:
                    ready = true;
                    break;
                case ["rx", var timestamp]:
                    arrivals.Add(long.Parse(timestamp, CultureInfo.InvariantCulture));
                    break;
                case ["state", var from, var to, var diagnostic, var timestamp]:
                    states.Add(new ProbeState(from, to, diagnostic, long.Parse(timestamp, CultureInfo.InvariantCulture)));
                    break;
                case ["timers", var transmit, var detection]:
                    timers.Add((double.Parse(transmit, CultureInfo.InvariantCulture), double.Parse(detection, CultureInfo.InvariantCulture)));
                    break;
            }
        }

        arrivals.Sort();
        return new ProbeOutput(ready, arrivals, states, timers);
    }
}

/// <summary>A state change of the probe's session; <see cref="Timestamp"/> in <see cref="Stopwatch"/> ticks.</summary>
public sealed record ProbeState(string From, string To, string Diagnostic, long Timestamp);

/// <summary>The probe's output: packet arrivals (ascending), state changes and negotiated timers (transmit, detection in ms), in order.</summary>
public sealed record ProbeOutput(bool Ready, IReadOnlyList<long> Arrivals, IReadOnlyList<ProbeState> States, IReadOnlyList<(double TransmitMilliseconds, double DetectionMilliseconds)> Timers);

/// <summary>
/// Inter-arrival times of a session's packets in milliseconds: <see cref="Packets"/> arrived in the period, the intervals
/// that overlap it (also one from the last packet before it or to the first after it) give the percentiles, and
/// <see cref="Gaps"/> counts those longer than the detection time.
/// </summary>
public sealed record InterArrivalStats(int Packets, int Intervals, double P50, double P99, double P999, double Max, int Gaps, double GapMilliseconds)
{
    /// <summary>Over the period [<paramref name="from"/>, <paramref name="to"/>) of <paramref name="arrivals"/> (Stopwatch ticks, ascending).</summary>
    public static InterArrivalStats Of(IReadOnlyList<long> arrivals, long from, long to, double gapMilliseconds)
    {
        var packets = arrivals.Count(a => a >= from && a < to);
        var intervals = new List<double>();
        for (var i = 1; i < arrivals.Count; i++)
        {
            if (arrivals[i] > from && arrivals[i - 1] < to)
            {
                intervals.Add(ProcessStats.Milliseconds(arrivals[i - 1], arrivals[i]));
            }
        }

        if (intervals.Count == 0)
        {
            return new InterArrivalStats(packets, 0, double.NaN, double.NaN, double.NaN, double.NaN, 0, gapMilliseconds);
        }

        intervals.Sort();
        return new InterArrivalStats(packets, intervals.Count, Statistics.NearestRank(intervals, 0.50), Statistics.NearestRank(intervals, 0.99),
            Statistics.NearestRank(intervals, 0.999), intervals[^1], intervals.Count(i => i > gapMilliseconds), gapMilliseconds);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Packets} packets, {Intervals} intervals: p50 {P50:F1} ms, p99 {P99:F1} ms, p99.9 {P999:F1} ms, max {Max:F1} ms, {Gaps} longer than {GapMilliseconds:F0} ms");
}
