namespace BgpLb.Netlab;

/// <summary>The command line of <c>bgplb-lab bench-churn</c>.</summary>
internal sealed record ChurnOptions
{
    public const string Usage = """
        usage: bgplb-lab bench-churn [--services N] [--series LIST] [--changes N] [--flips N] [--rate N] [--rate-seconds S]
                                     [--rate-pool N] [--idle-seconds S] [--cluster-ip N] [--gap-ms MS] [--warmup N] [--output FILE.tsv] [--keep]
          --services N      Services loaded (LoadBalancer, one EndpointSlice each, ready on the node), default 10000, at most 110000
          --series LIST     comma-separated, default all: file-add,file-flip,idle,file-rate,kube,bird,gobgp
          --changes N       Services added then removed one at a time (file-add, kube, bird, gobgp), default 50
          --flips N         EndpointSlice not-ready/ready flips (file-flip, kube), default 50
          --rate N          file-rate: changes per second, default 1000, alternately adding and removing Services
          --rate-seconds S  file-rate: duration, default 60
          --rate-pool N     file-rate: Service files taking turns (half of them present at any time), default 1000
          --idle-seconds S  idle: CPU measured over S seconds with nothing changing, default 60
          --cluster-ip N    kube: ClusterIP Services loaded besides the N LoadBalancer ones, default 20000
          --gap-ms MS       pause after each measured change, default 20
          --warmup N        unmeasured changes before each series of single changes (the JIT's second tier), default 30
          --output FILE     append the result rows to FILE (tab-separated)
          --keep            keep the lab directory (configs, logs) even when everything passed
        """;

    public static readonly IReadOnlyList<string> AllSeries = ["file-add", "file-flip", "idle", "file-rate", "kube", "bird", "gobgp"];

    public int Services { get; init; } = 10_000;

    public int Changes { get; init; } = 50;

    public int Flips { get; init; } = 50;

    public int Rate { get; init; } = 1000;

    public int RateSeconds { get; init; } = 60;

    public int RatePool { get; init; } = 1000;

    public int IdleSeconds { get; init; } = 60;

    public int ClusterIpServices { get; init; } = 20_000;

    public int GapMilliseconds { get; init; } = 20;

    public int Warmup { get; init; } = 30;

    public IReadOnlySet<string> Series { get; init; } = AllSeries.ToHashSet(StringComparer.Ordinal);

    public string? Output { get; init; }

    public bool Keep { get; init; }

    public bool Runs(string series) => Series.Contains(series);

    /// <summary>Parses the arguments after <c>bench-churn</c>; throws <see cref="ArgumentException"/> with the reason.</summary>
    public static ChurnOptions Parse(IReadOnlyList<string> args)
    {
        var options = new ChurnOptions();
        foreach (var (name, value) in BenchArguments.Options(args, "--keep"))
        {
            options = name switch
            {
                "--keep" => options with { Keep = true },
                "--services" => options with { Services = BenchArguments.Number(name, value, 1, 110_000) },
                "--series" => options with { Series = BenchArguments.List(name, value, AllSeries).ToHashSet(StringComparer.Ordinal) },
                "--changes" => options with { Changes = BenchArguments.Number(name, value, 1, 1024) },
                "--flips" => options with { Flips = BenchArguments.Number(name, value, 1, 100_000) },
                "--rate" => options with { Rate = BenchArguments.Number(name, value, 1, 100_000) },
                "--rate-seconds" => options with { RateSeconds = BenchArguments.Number(name, value, 1, 3600) },
                "--rate-pool" => options with { RatePool = BenchArguments.Number(name, value, 2, 4096) },
                "--idle-seconds" => options with { IdleSeconds = BenchArguments.Number(name, value, 1, 3600) },
                "--cluster-ip" => options with { ClusterIpServices = BenchArguments.Number(name, value, 0, 1_000_000) },
                "--gap-ms" => options with { GapMilliseconds = BenchArguments.Number(name, value, 0, 10_000) },
                "--warmup" => options with { Warmup = BenchArguments.Number(name, value, 0, 1024) },
                "--output" => options with { Output = value },
                _ => throw new ArgumentException($"unknown option {name}"),
            };
        }

        return options;
    }
}
