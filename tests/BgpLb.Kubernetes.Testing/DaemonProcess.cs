using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using BgpLb.Hosting;

namespace BgpLb.Kubernetes.Testing;

/// <summary>
/// One of our executables (a framework-dependent dll next to the test assembly) run as a real process, its output
/// collected for assertions and diagnostics. Disposing kills it (by its own PID) if it is still running.
/// </summary>
public sealed class DaemonProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();

    private DaemonProcess(Process process) => _process = process;

    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    /// <summary>Everything written to stdout and stderr so far.</summary>
    public string Output => string.Join('\n', _lines);

    /// <param name="environment">Set in the child; POD_* and BGPLB_* variables of the test runner are not inherited.</param>
    public static DaemonProcess Start(string dll, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, dll));
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("POD_", StringComparison.Ordinal) || k.StartsWith("BGPLB_", StringComparison.Ordinal)).ToList())
            info.Environment.Remove(name);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            info.Environment[name] = value;
        var process = new Process { StartInfo = info };
        var daemon = new DaemonProcess(process);
        process.OutputDataReceived += (_, e) => daemon.Collect(e.Data);
        process.ErrorDataReceived += (_, e) => daemon.Collect(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return daemon;
    }

    /// <summary>The line the host writes once every listener is bound (Microsoft.Hosting.Lifetime, kept by DaemonLogging).</summary>
    private const string StartedLine = "Application started.";

    /// <summary>
    /// Starts <paramref name="dll"/> with <paramref name="portCount"/> TCP ports of 127.0.0.1 that were free a moment ago, for
    /// listeners whose ports the test must know, and waits until it has started. Another process can take such a port before
    /// the daemon binds it; the daemon then ends with <see cref="ExitCodes.CannotListen"/> and is started again on new ports.
    /// </summary>
    public static async Task<(DaemonProcess Process, int[] Ports)> StartOnFreePortsAsync(string dll, int portCount, Func<int[], IEnumerable<string>> args,
        IReadOnlyDictionary<string, string>? environment, TimeSpan timeout)
    {
        for (var attempt = 1; ; attempt++)
        {
            var ports = FreeTcpPorts(portCount);
            var process = Start(dll, args(ports), environment);
            try
            {
                await process.WaitForOutputAsync(StartedLine, timeout);
                return (process, ports);
            }
            catch (InvalidOperationException) when (process.ExitCode == ExitCodes.CannotListen && attempt < 5)
            {
                await process.DisposeAsync();
            }
        }
    }

    private static int[] FreeTcpPorts(int count)
    {
        // All held open together, so that the ports differ.
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            listeners.ForEach(l => l.Start());
            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            listeners.ForEach(l => l.Dispose());
        }
    }

    /// <summary>
    /// A TCP port of 127.0.0.1 that refuses connections for as long as the returned socket lives (bound, not listening), for a
    /// peer that must not answer.
    /// </summary>
    public static Socket ClosedTcpPort(out int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        return socket;
    }

    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        while (!_lines.Any(l => l.Contains(text, StringComparison.Ordinal)))
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"process exited ({_process.ExitCode}) before writing '{text}':\n{Output}");
            try
            {
                await Task.Delay(50, cancel.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no '{text}' within {timeout}:\n{Output}");
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="dll"/> until it gives up starting and returns its exit code and the one line it names the
    /// reason with ("bgplb-x: ..."); a stack trace or any number of such lines but one is an error.
    /// </summary>
    public static async Task<(int ExitCode, string Line)> RunUntilRefusedAsync(string dll, IEnumerable<string> args, TimeSpan timeout)
    {
        await using var process = Start(dll, args);
        var exitCode = await process.WaitForExitAsync(timeout);
        var output = process.Output;
        var prefix = Path.GetFileNameWithoutExtension(dll) + ": ";
        var lines = output.Split('\n').Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        if (output.Contains("   at ", StringComparison.Ordinal) || lines.Count != 1)
            throw new InvalidOperationException($"expected one '{prefix}' line and no stack trace (exit {exitCode}):\n{output}");
        return (exitCode, lines[0]);
    }

    /// <summary>Waits for the process to end by itself; returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancel.Token);
        return _process.ExitCode;
    }

    /// <summary>SIGTERM, then waits for the exit; returns the exit code.</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
            await kill.WaitForExitAsync(cancel.Token);
        await _process.WaitForExitAsync(cancel.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    private void Collect(string? line)
    {
        if (line is not null)
            _lines.Enqueue(line);
    }
}
