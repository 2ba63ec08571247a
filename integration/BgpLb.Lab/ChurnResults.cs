using System.Globalization;

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
        return new LatencyStats(sorted.Length, lost, Statistics.NearestRank(sorted, 0.50), Statistics.NearestRank(sorted, 0.99), sorted[^1]);
    }
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
    public static string Table(IEnumerable<ChurnRow> rows) =>
        TextTable.Format([Header.Split('\t'), .. rows.Select(r => r.ToTsv().Split('\t'))], leftAligned: 3);
}
