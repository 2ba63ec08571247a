using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace BgpLb.Netlab;

/// <summary>
/// What every lab shares: namespaces <c>bgplb-TEST-RUN-ROLE</c>, every process started in them and a directory for configs
/// and logs. Dispose always kills the processes (by PID) and deletes the namespaces, also when creation failed halfway,
/// then checks nothing leaked; the directory is deleted only after <see cref="Passed"/>.
/// </summary>
public abstract partial class NetnsLab : IAsyncDisposable
{
    private const string DirectoryRoot = "/tmp/bgplb-it";

    private readonly Action<string>? _output;
    private readonly List<string> _namespaces = [];
    private readonly List<NetnsProcess> _processes = [];
    private readonly List<(string FileName, Func<Task<string>> Collect)> _failureState = [];
    private bool _passed;
    private bool _disposed;

    protected NetnsLab(string testName, Action<string>? output)
    {
        if (!TestNamePattern().IsMatch(testName))
        {
            throw new ArgumentException($"test name '{testName}' must match {TestNamePattern()}", nameof(testName));
        }

        TestName = testName;
        _output = output;
        Directory = Path.Combine(DirectoryRoot, $"{testName}-{DateTime.UtcNow:HHmmss}-{Guid.NewGuid().ToString("N")[..6]}");
        // Readable by others: FRR daemons run as user frr and read their configs from here.
        System.IO.Directory.CreateDirectory(DirectoryRoot, DirectoryMode);
        System.IO.Directory.CreateDirectory(Directory, DirectoryMode);
        Log($"lab {testName}: files in {Directory}");
    }

    private static UnixFileMode DirectoryMode =>
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    public string TestName { get; }

    /// <summary>Per-lab directory with generated configs, sockets and process logs.</summary>
    public string Directory { get; }

    /// <summary>Every namespace this lab created, in creation order.</summary>
    public IReadOnlyList<string> Namespaces => _namespaces;

    public IReadOnlyList<NetnsProcess> Processes => _processes;

    /// <summary>Every namespace and process of every lab in this test run, for the run's final leak check.</summary>
    internal static ConcurrentQueue<string> CreatedNamespaces { get; } = new();

    internal static ConcurrentQueue<NetnsProcess> StartedProcesses { get; } = new();

    /// <summary>
    /// This process's part of every namespace name: its process ID in hex. Two test runs (or a run and a benchmark) on one
    /// host never touch each other's namespaces, and a sweep can tell a live run's namespaces from a dead one's.
    /// </summary>
    public static string RunId { get; } = Environment.ProcessId.ToString("x", CultureInfo.InvariantCulture);

    public static string NamespaceName(string testName, string role) => $"bgplb-{testName}-{RunId}-{role}";

    /// <summary>
    /// Deletes the namespaces (killing their processes) of <paramref name="testName"/> whose role matches
    /// <paramref name="rolePattern"/>, left by this run or by a run whose process is gone; a live run's are not touched.
    /// </summary>
    protected static async Task SweepLeftoversAsync(string testName, string rolePattern)
    {
        var ours = new Regex($"^bgplb-{Regex.Escape(testName)}-([0-9a-f]{{1,8}})-({rolePattern})$", RegexOptions.CultureInvariant);
        foreach (var name in await ListNamespacesAsync())
        {
            if (ours.Match(name) is { Success: true } match && (match.Groups[1].Value == RunId || RunIsGone(match.Groups[1].Value)))
            {
                await DeleteNamespaceAsync(name);
            }
        }
    }

    private static bool RunIsGone(string runId) =>
        !System.IO.Directory.Exists($"/proc/{int.Parse(runId, NumberStyles.HexNumber, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture)}");

    public static async Task<IReadOnlyList<string>> ListNamespacesAsync()
    {
        var output = (await Command.RunAsync("ip", "-j", "netns", "list")).EnsureSuccess().StandardOutput;
        if (string.IsNullOrWhiteSpace(output))
        {
            return [];
        }

        using var document = JsonDocument.Parse(output);
        return [.. document.RootElement.EnumerateArray().Select(e => e.GetProperty("name").GetString()!)];
    }

    /// <summary>Writes a file into the lab directory (world-readable) and returns its path.</summary>
    public string WriteFile(string name, string content)
    {
        var path = Path.Combine(Directory, name);
        File.WriteAllText(path, content);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        return path;
    }

    /// <summary>Starts a foreground program in a namespace; it is killed (SIGKILL by PID) at the latest on Dispose.</summary>
    public Task<NetnsProcess> StartProcessAsync(string netns, string name, string file, params string[] arguments) =>
        StartProcessAsync(netns, name, file, arguments, environment: null);

    /// <summary>Starts a foreground program in a namespace with <paramref name="environment"/> added to its environment.</summary>
    public async Task<NetnsProcess> StartProcessAsync(
        string netns, string name, string file, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment)
    {
        var process = await NetnsProcess.StartAsync(netns, name, Directory, file, arguments, environment);
        _processes.Add(process);
        StartedProcesses.Enqueue(process);
        Log($"started {name} in {netns}: pid {process.Pid}");
        return process;
    }

    /// <summary>Marks the test as passed: Dispose then deletes the lab directory instead of keeping it.</summary>
    public void Passed() => _passed = true;

    /// <summary>
    /// Registers state that Dispose saves as <paramref name="fileName"/> in the kept lab directory when the test did not pass
    /// (a router's own view of its sessions, routes and next hops), collected before any process is stopped.
    /// </summary>
    public void SaveOnFailure(string fileName, Func<Task<string>> collect) => _failureState.Add((fileName, collect));

    public void Log(string message)
    {
        try
        {
            _output?.Invoke(message);
        }
        catch (InvalidOperationException)
        {
            // The test has already finished: its output helper no longer accepts lines.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        GC.SuppressFinalize(this);
        if (!_passed)
        {
            foreach (var (fileName, collect) in _failureState)
            {
                try
                {
                    WriteFile(fileName, await collect());
                }
                catch (Exception exception) when (exception is not OutOfMemoryException)
                {
                    // Only a diagnostic: the teardown below must run whatever happens here.
                    WriteFile(fileName, exception.ToString());
                }
            }
        }

        var errors = new List<Exception>();
        foreach (var process in Enumerable.Reverse(_processes))
        {
            try
            {
                process.Dispose();
            }
            catch (Exception exception) when (exception is InvalidOperationException or IOException)
            {
                errors.Add(exception);
            }
        }

        foreach (var name in Enumerable.Reverse(_namespaces))
        {
            try
            {
                await DeleteNamespaceAsync(name);
            }
            catch (Exception exception) when (exception is InvalidOperationException or IOException or TimeoutException)
            {
                errors.Add(exception);
            }
        }

        errors.AddRange(await FindLeaksAsync());
        if (_passed && errors.Count == 0)
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        else
        {
            Log($"lab {TestName}: kept {Directory} (configs and process logs)");
            Console.Error.WriteLine($"bgplb lab {TestName} did not pass; files kept in {Directory}");
        }

        if (errors.Count > 0)
        {
            throw new AggregateException($"lab {TestName} teardown failed", errors);
        }
    }

    /// <summary>After teardown: every process must be gone and every namespace deleted.</summary>
    private async Task<IEnumerable<Exception>> FindLeaksAsync()
    {
        var remaining = await ListNamespacesAsync();
        return _processes.Where(p => p.StillRuns())
            .Select(p => new InvalidOperationException($"{p.Name} (pid {p.Pid}) still runs after teardown"))
            .Concat(_namespaces.Intersect(remaining).Select(n => new InvalidOperationException($"namespace {n} still exists after teardown")));
    }

    /// <summary>Creates namespace <c>bgplb-TEST-RUN-ROLE</c> with its loopback up; Dispose deletes it.</summary>
    protected async Task<string> AddNamespaceAsync(string role)
    {
        var name = NamespaceName(TestName, role);
        (await Command.RunAsync("ip", "netns", "add", name)).EnsureSuccess();
        _namespaces.Add(name);
        CreatedNamespaces.Enqueue(name);
        (await Command.RunAsync("ip", "-n", name, "link", "set", "lo", "up")).EnsureSuccess();
        return name;
    }

    protected static async Task SysctlAsync(string netns, string key, string value) =>
        (await Command.InNamespaceAsync(netns, "sysctl", "-q", "-w", $"{key}={value}")).EnsureSuccess();

    /// <summary>Kills the processes in a namespace (by PID), deletes it and its FRR run directory.</summary>
    internal static async Task DeleteNamespaceAsync(string name)
    {
        var pids = await Command.RunAsync("ip", "netns", "pids", name);
        foreach (var pid in pids.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            await Command.RunAsync("kill", "-s", "KILL", pid);
        }

        (await Command.RunAsync("ip", "netns", "del", name)).EnsureSuccess();
        var frrRunDirectory = FrrRouter.RunDirectory(name);
        if (System.IO.Directory.Exists(frrRunDirectory))
        {
            System.IO.Directory.Delete(frrRunDirectory, recursive: true);
        }
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,23}$", RegexOptions.CultureInvariant)]
    private static partial Regex TestNamePattern();
}
