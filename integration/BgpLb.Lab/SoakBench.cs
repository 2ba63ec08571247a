namespace BgpLb.Netlab;

/// <summary>bench-soak's command line.</summary>
internal sealed record SoakOptions
{
    public const string Usage = """
        usage: bgplb-lab bench-soak [--flaps N] [--sample-every N] [--routers LIST]
          --flaps N          session flaps per router (router restart, link down/up, router SIGSTOP/SIGCONT in turn), default 1000
          --sample-every N   sample the speaker's RSS, managed heap, threads and open files every N flaps, default 100
          --routers LIST     bird,frr (default both)
        """;

    public int Flaps { get; init; } = 1000;

    public int SampleEvery { get; init; } = 100;

    public IReadOnlyList<string> Routers { get; init; } = ["bird", "frr"];

    public static SoakOptions Parse(IReadOnlyList<string> args)
    {
        var options = new SoakOptions();
        foreach (var (name, value) in BenchArguments.Options(args))
        {
            options = name switch
            {
                "--flaps" => options with { Flaps = BenchArguments.Number(name, value, 1, 1_000_000) },
                "--sample-every" => options with { SampleEvery = BenchArguments.Number(name, value, 1, 1_000_000) },
                "--routers" => options with { Routers = BenchArguments.List(name, value, ["bird", "frr"]) },
                _ => throw new ArgumentException($"unknown option {name}"),
            };
        }

        return options;
    }
}

/// <summary>
/// bench-soak (bench/soak.sh): <see cref="SessionSoak"/> at full size against each router, the samples as a table with
/// the change from the first sample after warm-up (the JIT, the thread pool and the GC's budgets settle during the
/// first flaps) to the last.
/// </summary>
internal static class SoakBench
{
    public static async Task<int> RunAsync(SoakOptions options, CancellationToken cancellationToken)
    {
        foreach (var router in options.Routers)
        {
            var kind = router == "bird" ? RouterKind.Bird : RouterKind.Frr;
            await using var lab = await Lab.CreateAsync("soak", 1, BenchLog.Write);
            var soak = await SessionSoak.StartAsync(lab, kind);
            var samples = await soak.RunAsync(options.Flaps, options.SampleEvery,
                s => BenchLog.Write($"{router}: {s.Flaps} flaps, RSS {s.RssMiB:F1} MiB, heap {s.HeapMiB:F1} MiB, {s.Collections} GCs, {s.Threads} threads, {s.OpenFiles} fds ({s.Files})"),
                cancellationToken);
            Console.WriteLine(SessionSoak.Format(router, samples, samples[Math.Min(1, samples.Count - 1)]));
            lab.Passed();
        }

        return 0;
    }
}
