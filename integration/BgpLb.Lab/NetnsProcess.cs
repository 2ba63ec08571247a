using System.Diagnostics;

namespace BgpLb.Netlab;

/// <summary>
/// A long-running process inside a network namespace, started as <c>ip netns exec NS FILE ARGS</c>. <c>ip</c> execs the
/// program, so <see cref="Pid"/> is the daemon's own PID (checked at start: the daemon must run in the foreground).
/// Standard output and error go to NAME.stdout / NAME.stderr in the lab's directory. Dispose kills it with SIGKILL.
/// </summary>
public sealed class NetnsProcess : IDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _stdout;
    private readonly StreamWriter _stderr;
    private readonly Lock _writeLock = new();
    private bool _closed;
    private bool _disposed;
    private string? _startTime;

    private NetnsProcess(string name, string netns, Process process, StreamWriter stdout, StreamWriter stderr, string stdoutPath, string stderrPath)
    {
        Name = name;
        Namespace = netns;
        _process = process;
        _stdout = stdout;
        _stderr = stderr;
        StandardOutputPath = stdoutPath;
        StandardErrorPath = stderrPath;
        Pid = process.Id;
    }

    public string Name { get; }

    public string Namespace { get; }

    public int Pid { get; }

    public string StandardOutputPath { get; }

    public string StandardErrorPath { get; }

    public bool HasExited => _disposed || _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>
    /// Starts <paramref name="file"/> in <paramref name="netns"/> and waits until <c>ip</c> has exec'd it, so that
    /// <see cref="Pid"/> names the program itself (its /proc/PID/exe is no longer ip).
    /// </summary>
    public static async Task<NetnsProcess> StartAsync(
        string netns, string name, string logDirectory, string file, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var executable = LabPrerequisites.FindExecutable(file) ?? throw new FileNotFoundException($"executable '{file}' not found", file);
        var startInfo = new ProcessStartInfo("ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var (variable, value) in environment ?? new Dictionary<string, string>())
        {
            startInfo.Environment[variable] = value;
        }
        foreach (var argument in (string[])["netns", "exec", netns, executable, .. arguments])
        {
            startInfo.ArgumentList.Add(argument);
        }

        var stdoutPath = Path.Combine(logDirectory, name + ".stdout");
        var stderrPath = Path.Combine(logDirectory, name + ".stderr");
        var stdout = new StreamWriter(stdoutPath) { AutoFlush = true };
        var stderr = new StreamWriter(stderrPath) { AutoFlush = true };
        await stderr.WriteLineAsync("# ip " + string.Join(' ', startInfo.ArgumentList));
        var process = Process.Start(startInfo) ?? throw new InvalidOperationException($"could not start {file} in {netns}");
        var started = new NetnsProcess(name, netns, process, stdout, stderr, stdoutPath, stderrPath);
        process.OutputDataReceived += (_, e) => started.Append(stdout, e.Data);
        process.ErrorDataReceived += (_, e) => started.Append(stderr, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.StandardInput.Close();

        try
        {
            await Wait.UntilAsync($"{name} (pid {started.Pid}) to exec {executable}", TimeSpan.FromSeconds(5), () =>
            {
                if (process.HasExited)
                {
                    throw new ProcessExitedException($"{name} exited with {process.ExitCode} at start: {LastLines(stderrPath)} (log: {stderrPath})");
                }

                return Task.FromResult(started.Executable() is { } exe && Path.GetFileName(exe) != "ip");
            });
        }
        catch
        {
            started.Dispose();
            throw;
        }

        started._startTime = started.StartTime();
        return started;
    }

    /// <summary>
    /// Polls <paramref name="ready"/> until it holds; fails at once with the log's last lines if the process exits meanwhile.
    /// </summary>
    public Task WaitUntilReadyAsync(string description, TimeSpan timeout, Func<Task<bool>> ready) =>
        Wait.UntilAsync($"{Name} {description}", timeout, async () =>
        {
            ThrowIfExited(description);
            return await ready();
        });

    /// <summary>Throws <see cref="ProcessExitedException"/> with the log's last lines if the process has exited (before <paramref name="description"/>).</summary>
    public void ThrowIfExited(string description)
    {
        if (_process.HasExited)
        {
            throw new ProcessExitedException($"{Name} exited with {_process.ExitCode} before {description}: {LastLines(StandardErrorPath)} | {LastLines(StandardOutputPath)} (logs: {StandardErrorPath})");
        }
    }

    /// <summary>Standard output then standard error as written so far (also after Dispose: the files stay).</summary>
    public string ReadOutput() => ReadShared(StandardOutputPath) + ReadShared(StandardErrorPath);

    private static string LastLines(string path) =>
        string.Join(" | ", ReadShared(path).Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(3));

    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>The target of /proc/PID/exe, or null when the process is gone.</summary>
    public string? Executable()
    {
        try
        {
            return new FileInfo($"/proc/{Pid}/exe").LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Sends a signal by PID (TERM, KILL, STOP, CONT...).</summary>
    public async Task SignalAsync(string signal)
    {
        if (!_process.HasExited)
        {
            await Command.RunAsync("kill", "-s", signal, Pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{Name} (pid {Pid}) did not exit within {timeout.TotalSeconds} s");
        }

        return _process.ExitCode;
    }

    /// <summary>User plus system CPU seconds consumed so far, from /proc/PID/stat.</summary>
    public double CpuSeconds()
    {
        var fields = StatFields();
        // Fields after "(comm) " start at field 3 (state); utime and stime are fields 14 and 15, in USER_HZ (100) ticks.
        var ticks = long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
        return ticks / 100.0;
    }

    /// <summary>
    /// Whether this process still runs: its PID exists with the start time it had, so a PID the kernel has since given to
    /// another process (a long lab starts thousands) does not count.
    /// </summary>
    public bool StillRuns()
    {
        try
        {
            return StartTime() == _startTime;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Field 22 of /proc/PID/stat: when the process started, in ticks since boot.</summary>
    private string StartTime() => StatFields()[19];

    private string[] StatFields()
    {
        var stat = File.ReadAllText($"/proc/{Pid}/stat");
        return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        if (!_process.WaitForExit(5000))
        {
            throw new InvalidOperationException($"{Name} (pid {Pid}) survived SIGKILL for 5 s");
        }

        lock (_writeLock)
        {
            _closed = true;
            _stdout.Dispose();
            _stderr.Dispose();
        }

        _process.Dispose();
    }

    private void Append(StreamWriter writer, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_writeLock)
        {
            if (!_closed)
            {
                writer.WriteLine(line);
            }
        }
    }
}

/// <summary>A lab process exited while it was expected to run (bad configuration, missing file...).</summary>
public sealed class ProcessExitedException(string message) : Exception(message);
