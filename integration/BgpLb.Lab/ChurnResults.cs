using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace BgpLb.Netlab;

/// <summary>Latencies of one series in milliseconds, and how many changes never reached the router in time.</summary>
internal sealed record LatencyStats(int Count, int Lost, double P50, double P99, double Max)
{
    public static LatencyStats Of(IReadOnlyCollection<double> milliseconds, int lost)
    {
        if (milliseconds.Count == 0)
        {
            return new LatencyStats(0, lost, double.NaN, double.NaN, double.NaN);
        }

        var sorted = milliseconds.Order().ToArray();
        return new LatencyStats(sorted.Length, lost, Percentile(sorted, 0.50), Percentile(sorted, 0.99), sorted[^1]);
    }

    /// <summary>Nearest rank: the smallest value with at least <paramref name="fraction"/> of the values at or below it.</summary>
    private static double Percentile(double[] sorted, double fraction) =>
        sorted[Math.Clamp((int)Math.Ceiling(fraction * sorted.Length) - 1, 0, sorted.Length - 1)];
}

/// <summary>One line of the results table.</summary>
internal sealed record ChurnRow(string Series, string Sender, int Services, LatencyStats? Latency, double? CpuPerChangeMs, double? CpuSeconds, double? RssMiB, string Note)
{
    public static string Header => string.Join('\t', "series", "sender", "N", "changes", "lost", "p50_ms", "p99_ms", "max_ms", "cpu_per_change_ms", "cpu_s", "rss_mib", "note");

    public string ToTsv() => string.Join('\t',
        Series, Sender, Services.ToString(CultureInfo.InvariantCulture),
        Latency?.Count.ToString(CultureInfo.InvariantCulture) ?? "-", Latency?.Lost.ToString(CultureInfo.InvariantCulture) ?? "-",
        Format(Latency?.P50, 1), Format(Latency?.P99, 1), Format(Latency?.Max, 1),
        Format(CpuPerChangeMs, 2), Format(CpuSeconds, 2), Format(RssMiB, 0), Note);

    public static string Format(double? value, int decimals) =>
        value is { } v && !double.IsNaN(v) ? v.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) : "-";

    /// <summary>The rows as an aligned text table (the note last, unpadded).</summary>
    public static string Table(IEnumerable<ChurnRow> rows)
    {
        var lines = new List<string[]> { Header.Split('\t') };
        lines.AddRange(rows.Select(r => r.ToTsv().Split('\t')));
        var widths = Enumerable.Range(0, lines[0].Length - 1).Select(c => lines.Max(l => l[c].Length)).ToArray();
        var text = new StringBuilder();
        foreach (var line in lines)
        {
            for (var column = 0; column < widths.Length; column++)
            {
                var cell = line[column];
                text.Append(column < 3 ? cell.PadRight(widths[column]) : cell.PadLeft(widths[column])).Append("  ");
            }

            text.AppendLine(line[^1]);
        }

        return text.ToString();
    }
}

/// <summary>Reading a process's CPU and memory from /proc, and the monotonic clock in milliseconds.</summary>
internal static class ProcessStats
{
    /// <summary>VmRSS of a process in MiB.</summary>
    public static double RssMiB(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
            }
        }

        throw new InvalidOperationException($"no VmRSS for pid {pid}");
    }

    public static double Milliseconds(long from, long to) => (to - from) * 1000.0 / Stopwatch.Frequency;

    public static double SecondsSince(long from) => Milliseconds(from, Stopwatch.GetTimestamp()) / 1000.0;
}
