using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace BgpLb.Netlab;

/// <summary>Progress lines of the lab benchmarks, on standard error (the result tables go to standard output).</summary>
internal static class BenchLog
{
    public static void Write(string message) => Console.Error.WriteLine($"{DateTime.Now:HH:mm:ss.fff} {message}");
}

/// <summary>
/// The command lines of the lab benchmarks (bench-churn, bench-failover, bench-bfd-jitter): "--name value" pairs and
/// flags; every error is an <see cref="ArgumentException"/> that says what is wrong.
/// </summary>
internal static class BenchArguments
{
    /// <summary>Splits the arguments into options with a value and the <paramref name="flags"/> (options without one).</summary>
    public static IEnumerable<(string Name, string? Value)> Options(IReadOnlyList<string> args, params string[] flags)
    {
        for (var index = 0; index < args.Count; index++)
        {
            var name = args[index];
            if (flags.Contains(name))
            {
                yield return (name, null);
            }
            else if (index + 1 < args.Count)
            {
                yield return (name, args[++index]);
            }
            else
            {
                throw new ArgumentException($"{name} needs a value");
            }
        }
    }

    public static int Number(string name, string? value, int min, int max) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number >= min && number <= max
            ? number
            : throw new ArgumentException($"{name}: '{value}' is not a number from {min} to {max}");

    /// <summary>A comma- or space-separated list of <paramref name="known"/> values, duplicates dropped, in the given order.</summary>
    public static IReadOnlyList<string> List(string name, string? value, IReadOnlyList<string> known)
    {
        var items = (value ?? string.Empty).Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
        if (items.FirstOrDefault(i => !known.Contains(i)) is { } unknown)
        {
            throw new ArgumentException($"{name}: unknown value '{unknown}' (known: {string.Join(',', known)})");
        }

        return items.Count > 0 ? items : throw new ArgumentException($"{name}: empty");
    }
}

/// <summary>The lab benchmarks' result tables as aligned text.</summary>
internal static class TextTable
{
    /// <summary>
    /// One line per row, columns two spaces apart: the first <paramref name="leftAligned"/> columns aligned left, the
    /// others right, the last column (a note) unpadded.
    /// </summary>
    public static string Format(IReadOnlyList<string[]> rows, int leftAligned)
    {
        var columns = rows.Max(r => r.Length);
        var widths = Enumerable.Range(0, columns).Select(c => rows.Max(r => c < r.Length ? r[c].Length : 0)).ToArray();
        var text = new StringBuilder();
        foreach (var row in rows)
        {
            for (var column = 0; column < row.Length - 1; column++)
            {
                var cell = row[column];
                text.Append(column < leftAligned ? cell.PadRight(widths[column]) : cell.PadLeft(widths[column])).Append("  ");
            }

            text.AppendLine(row[^1]);
        }

        return text.ToString();
    }
}

/// <summary>Order statistics of the lab benchmarks' samples (ascending and not empty).</summary>
internal static class Statistics
{
    /// <summary>Nearest rank: the smallest value with at least <paramref name="fraction"/> of the values at or below it.</summary>
    public static double NearestRank(IReadOnlyList<double> sorted, double fraction) =>
        sorted[Math.Clamp((int)Math.Ceiling(fraction * sorted.Count) - 1, 0, sorted.Count - 1)];

    /// <summary>The middle value; the mean of the two middle values of an even count.</summary>
    public static double Median(IReadOnlyList<double> sorted) =>
        sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
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

    /// <summary>The process's threads (/proc/PID/status Threads).</summary>
    public static int Threads(int pid) =>
        int.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("Threads:", StringComparison.Ordinal))["Threads:".Length..].Trim(), CultureInfo.InvariantCulture);

    /// <summary>
    /// The process's open file descriptors (/proc/PID/fd) by what they point to: "socket", "pipe", "anon_inode:[eventfd]",
    /// <see cref="Assemblies"/> (a .NET process keeps every assembly it has loaded open), a file's directory; most first.
    /// </summary>
    public const string Assemblies = "assemblies";

    public static IReadOnlyDictionary<string, int> OpenFileKinds(int pid)
    {
        var kinds = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var fd in Directory.GetFileSystemEntries($"/proc/{pid}/fd"))
        {
            var target = new FileInfo(fd).LinkTarget ?? "?";
            var kind = target.Contains(":[", StringComparison.Ordinal) && !target.StartsWith("anon_inode:", StringComparison.Ordinal)
                ? target[..target.IndexOf(':', StringComparison.Ordinal)]
                : target.EndsWith(".dll", StringComparison.Ordinal) ? Assemblies
                : target.StartsWith('/') ? Path.GetDirectoryName(target) ?? target : target;
            kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
        }

        return kinds.OrderByDescending(k => k.Value).ToDictionary(k => k.Key, k => k.Value, StringComparer.Ordinal);
    }

    public static double Milliseconds(long from, long to) => (to - from) * 1000.0 / Stopwatch.Frequency;

    public static double SecondsSince(long from) => Milliseconds(from, Stopwatch.GetTimestamp()) / 1000.0;

    /// <summary>
    /// Waits until <paramref name="process"/> has used at most 20 ms of CPU in a second (its start-up work is done), at
    /// most 2 minutes; false if it was still busy then.
    /// </summary>
    public static async Task<bool> SettleAsync(NetnsProcess process, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        while (SecondsSince(start) < 120)
        {
            var cpu = process.CpuSeconds();
            await Task.Delay(1000, cancellationToken);
            if (process.CpuSeconds() - cpu <= 0.02)
            {
                return true;
            }
        }

        return false;
    }
}
