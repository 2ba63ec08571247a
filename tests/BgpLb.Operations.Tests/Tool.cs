using System.Diagnostics;

namespace BgpLb.Operations.Tests;

/// <summary>An external program the checks depend on (systemd-analyze, promtool); missing means failed, never skipped.</summary>
internal static class Tool
{
    public sealed record Result(int ExitCode, string Output, string Error);

    public static string Find(string name, string package) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException($"{name} is not on PATH: install Debian's {package} (scripts/setup.sh does)");

    public static async Task<Result> RunAsync(string program, IEnumerable<string> args, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory ?? "" };
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return new Result(process.ExitCode, await output, await error);
    }

    /// <summary>A scratch directory removed on dispose.</summary>
    public sealed class TempDirectory : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("bgplb-ops-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
