using System.Globalization;

namespace BgpLb.Netlab;

/// <summary>How a <see cref="SessionSoak"/> flap ends the session.</summary>
public enum FlapKind
{
    /// <summary>The router's daemons are SIGKILLed and started again.</summary>
    RouterRestart,

    /// <summary>The router's end of the link goes down until the speaker's hold timer has expired, then up.</summary>
    LinkDown,

    /// <summary>The router's BGP daemon is SIGSTOPped until the speaker's hold timer has expired, then SIGCONTed.</summary>
    RouterStop,
}

/// <summary>
/// The speaker's resources after <see cref="Flaps"/> flaps: resident set, managed heap after the last collection (the
/// runtime's dotnet_gc_last_collection_heap_size on /metrics, summed over generations), threads and open descriptors.
/// </summary>
/// <see cref="Collections"/>: garbage collections so far. <see cref="OpenFiles"/> leaves out the <see cref="Assemblies"/>
/// the runtime keeps open, which grow once as new code paths load assemblies; <see cref="Files"/>: all of them by kind,
/// to tell a leak's source.
public sealed record SoakSample(int Flaps, double RssMiB, double HeapMiB, int Collections, int Threads, int OpenFiles, int Assemblies, string Files, TimeSpan Elapsed);

/// <summary>
/// One speaker node peering with a real router (AS 64512, hold time 3 s at both ends) and announcing one Service,
/// taken through session flaps of the three <see cref="FlapKind"/>s in turn. Every flap waits for the speaker to see
/// its session down (its metallb_bgp_session_up), undoes the fault, then waits until the speaker's session is up again,
/// the router shows it Established and the Service's route is in the router's table from the node. Shared by the
/// reduced-size lab test and bench/soak.sh.
/// </summary>
public sealed class SessionSoak
{
    public const string ServicePrefix = "203.0.113.10/32";
    private const uint SpeakerAs = 64513;
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(30);

    private readonly Lab _lab;
    private readonly LabNode _node;
    private int _restarts;

    private SessionSoak(Lab lab, Router router, SpeakerProcess speaker)
    {
        _lab = lab;
        _node = lab.Nodes[0];
        Router = router;
        Speaker = speaker;
    }

    public Router Router { get; private set; }

    public SpeakerProcess Speaker { get; }

    /// <summary>Starts the router of <paramref name="kind"/> and the speaker of the lab's only node, and waits for the route.</summary>
    public static async Task<SessionSoak> StartAsync(Lab lab, RouterKind kind)
    {
        var node = lab.Nodes.Single();
        var router = await Router.StartAsync(kind, lab, lab.RouterNamespace, "router", lab.RouterOptionsFor(SpeakerAs, holdTime: 3));
        var config = Path.Combine(lab.Directory, "config-" + node.Role);
        MetalLbManifests.Write(config, "soak.yaml",
        [
            MetalLbManifests.Node("node1", node.Address),
            MetalLbManifests.IpAddressPool("pool", "203.0.113.0/24"),
            MetalLbManifests.BgpPeer("router", SpeakerAs, 64512, node.RouterAddress, holdTime: "3s"),
            MetalLbManifests.BgpAdvertisement("adv", ["pool"]),
            MetalLbManifests.Service("web", System.Net.IPAddress.Parse("203.0.113.10")),
            MetalLbManifests.EndpointSlice("web", "node1", System.Net.IPAddress.Parse("10.0.0.5")),
        ]);
        // Information: a thousand flaps of debug lines would only fill the disk. A 1 MiB generation 0 makes the GC collect
        // every few flaps, so the heap after the last collection follows what the speaker holds, not when the GC last ran.
        var speaker = await SpeakerProcess.StartAsync(lab, node, "node1", config, logLevel: "information",
            environment: new Dictionary<string, string> { ["DOTNET_GCgen0size"] = "0x100000" });
        var soak = new SessionSoak(lab, router, speaker);
        await soak.WaitUntilRestoredAsync();
        return soak;
    }

    /// <summary>
    /// Runs <paramref name="flaps"/> flaps (restart, link, stop, restart, ...) and samples the speaker before the first
    /// and after every <paramref name="sampleEvery"/>th; <paramref name="progress"/> gets each sample as it is taken.
    /// </summary>
    public async Task<IReadOnlyList<SoakSample>> RunAsync(int flaps, int sampleEvery, Action<SoakSample> progress, CancellationToken cancellationToken)
    {
        var start = DateTime.UtcNow;
        var samples = new List<SoakSample>();
        async Task SampleAsync(int done)
        {
            var sample = await TakeSampleAsync(done, DateTime.UtcNow - start);
            samples.Add(sample);
            progress(sample);
        }

        await SampleAsync(0);
        for (var flap = 1; flap <= flaps; flap++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await FlapAsync((FlapKind)((flap - 1) % 3));
            if (flap % sampleEvery == 0)
            {
                await SampleAsync(flap);
            }
        }

        return samples;
    }

    public async Task FlapAsync(FlapKind kind)
    {
        switch (kind)
        {
            case FlapKind.RouterRestart:
                await Router.KillAsync();
                await WaitForSpeakerSessionAsync(up: false);
                Router = await Router.StartAgainAsync("router-" + (++_restarts).ToString(CultureInfo.InvariantCulture));
                break;
            case FlapKind.LinkDown:
                await SetLinkAsync("down");
                await WaitForSpeakerSessionAsync(up: false);
                await SetLinkAsync("up");
                break;
            case FlapKind.RouterStop:
                await Router.BgpProcess.SignalAsync("STOP");
                await WaitForSpeakerSessionAsync(up: false);
                await Router.BgpProcess.SignalAsync("CONT");
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown flap");
        }

        await WaitUntilRestoredAsync();
    }

    private async Task WaitUntilRestoredAsync()
    {
        await WaitForSpeakerSessionAsync(up: true);
        await Router.WaitForEstablishedAsync(_node.Address, StepTimeout);
        await Router.WaitForPathsAsync(ServicePrefix, StepTimeout, paths => paths.Count == 1 && paths[0].NextHops.SequenceEqual([_node.Address]));
    }

    private async Task SetLinkAsync(string state) =>
        (await Command.RunAsync("ip", "-n", _lab.RouterNamespace, "link", "set", _node.RouterInterface, state)).EnsureSuccess();

    private Task<double> WaitForSpeakerSessionAsync(bool up) =>
        Wait.ForAsync($"the speaker's session {(up ? "up" : "down")} (metallb_bgp_session_up)", StepTimeout,
            async () => MetricValues(await MetricsAsync(), "metallb_bgp_session_up").Single(),
            value => value == (up ? 1 : 0));

    private async Task<string> MetricsAsync() => (await Speaker.GetAsync("/metrics")).EnsureSuccess().StandardOutput;

    private async Task<SoakSample> TakeSampleAsync(int flaps, TimeSpan elapsed)
    {
        var pid = Speaker.Process.Pid;
        Speaker.Process.ThrowIfExited("a sample");
        var metrics = await MetricsAsync();
        var heap = MetricValues(metrics, "dotnet_gc_last_collection_heap_size").Sum();
        var files = ProcessStats.OpenFileKinds(pid);
        return new SoakSample(flaps, ProcessStats.RssMiB(pid), heap / (1024 * 1024), (int)MetricValues(metrics, "dotnet_gc_collections").Sum(),
            ProcessStats.Threads(pid), files.Where(f => f.Key != ProcessStats.Assemblies).Sum(f => f.Value), files.GetValueOrDefault(ProcessStats.Assemblies),
            string.Join(", ", files.Select(f => $"{f.Key} {f.Value}")), elapsed);
    }

    /// <summary>The values of every series of <paramref name="name"/> in Prometheus text.</summary>
    private static IEnumerable<double> MetricValues(string metrics, string name) =>
        metrics.Split('\n')
            .Where(line => line.StartsWith(name + "{", StringComparison.Ordinal) || line.StartsWith(name + " ", StringComparison.Ordinal))
            .Select(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));

    /// <summary>The samples as a table: one row per sample, the change since <paramref name="baseline"/> in the last row.</summary>
    public static string Format(string title, IReadOnlyList<SoakSample> samples, SoakSample baseline)
    {
        List<string[]> rows = [[title, "flaps", "RSS MiB", "heap MiB", "GCs", "threads", "fds", "assemblies", "elapsed s"]];
        rows.AddRange(samples.Select(s => (string[])[string.Empty, .. Cells(s)]));
        var last = samples[^1];
        rows.Add([$"change since {baseline.Flaps} flaps", string.Empty,
            Signed(last.RssMiB - baseline.RssMiB), Signed(last.HeapMiB - baseline.HeapMiB), Signed(last.Collections - baseline.Collections), Signed(last.Threads - baseline.Threads), Signed(last.OpenFiles - baseline.OpenFiles), Signed(last.Assemblies - baseline.Assemblies), string.Empty]);
        return TextTable.Format(rows, 1);

        static string[] Cells(SoakSample s) =>
        [
            s.Flaps.ToString(CultureInfo.InvariantCulture), s.RssMiB.ToString("F1", CultureInfo.InvariantCulture), s.HeapMiB.ToString("F1", CultureInfo.InvariantCulture),
            s.Collections.ToString(CultureInfo.InvariantCulture),
            s.Threads.ToString(CultureInfo.InvariantCulture), s.OpenFiles.ToString(CultureInfo.InvariantCulture), s.Assemblies.ToString(CultureInfo.InvariantCulture), s.Elapsed.TotalSeconds.ToString("F0", CultureInfo.InvariantCulture),
        ];

        static string Signed(double value) => value.ToString("+0.#;-0.#;0", CultureInfo.InvariantCulture);
    }
}
