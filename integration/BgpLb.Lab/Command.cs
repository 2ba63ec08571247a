using System.Diagnostics;

namespace BgpLb.Netlab;

public sealed record CommandResult(string CommandLine, int ExitCode, string StandardOutput, string StandardError)
{
    public bool Succeeded => ExitCode == 0;

    public CommandResult EnsureSuccess() => Succeeded
        ? this
        : throw new InvalidOperationException(
            $"'{CommandLine}' exited with {ExitCode}: {StandardError.Trim()} {StandardOutput.Trim()}".Trim());
}

/// <summary>Runs short-lived commands (ip, birdc, vtysh, gobgp) to completion.</summary>
public static class Command
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    public static async Task<CommandResult> RunAsync(string file, IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        var startInfo = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var commandLine = file + " " + string.Join(' ', startInfo.ArgumentList);
        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException($"could not start '{commandLine}'");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancellation = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            await process.WaitForExitAsync(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{commandLine}' did not finish within {(timeout ?? DefaultTimeout).TotalSeconds} s");
        }

        return new CommandResult(commandLine, process.ExitCode, await stdout, await stderr);
    }

    public static Task<CommandResult> RunAsync(string file, params string[] arguments) => RunAsync(file, (IEnumerable<string>)arguments);

    /// <summary>Runs a command inside a network namespace.</summary>
    public static Task<CommandResult> InNamespaceAsync(string netns, string file, params string[] arguments) =>
        RunAsync("ip", ["netns", "exec", netns, file, .. arguments]);
}
