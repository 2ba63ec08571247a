using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace BgpLb.Netlab;

/// <summary>A watch event the fake API server wrote to a watcher, and when (<see cref="Stopwatch.GetTimestamp"/>).</summary>
public sealed record SentWatchEvent(string Type, string Resource, string Key, long ResourceVersion, long Timestamp);

/// <summary>
/// Drives <c>bgplb-lab fake-apiserver</c> (<see cref="FakeApiServerHost"/>) started in a lab namespace with
/// <c>ip netns exec</c>: the API server listens on that namespace's loopback only, and this process talks to it over
/// the helper's standard input and output, never over the network. Commands may be pipelined; replies come in order.
/// Dispose closes its input (it exits) and kills it by PID if it is still running.
/// </summary>
public sealed class FakeApiServerProcess : IDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _errors;
    private readonly Lock _lock = new();

    // Held while a command is queued and written, so that replies come in queue order; never taken by the reader
    // thread (a long pipelined write must not stop the replies from being read). Lock order: _writeLock, then _lock.
    private readonly Lock _writeLock = new();
    private readonly Queue<TaskCompletionSource<long>> _replies = new();
    private readonly List<SentWatchEvent> _sent = [];
    private readonly List<(Func<SentWatchEvent, bool> Accept, TaskCompletionSource<SentWatchEvent> Done)> _sentWaiters = [];
    private readonly TaskCompletionSource<Uri> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Thread _reader;
    private bool _disposed;

    private FakeApiServerProcess(Process process, StreamWriter errors)
    {
        _process = process;
        _errors = errors;
        _reader = new Thread(ReadOutput) { IsBackground = true, Name = "fake-apiserver-output" };
        _reader.Start();
    }

    public int Pid => _process.Id;

    public Uri Uri => _ready.Task.Result;

    /// <summary>Starts the helper in <paramref name="netns"/>; it writes a kubeconfig for itself to <paramref name="kubeconfig"/>.</summary>
    public static async Task<FakeApiServerProcess> StartAsync(string netns, string kubeconfig, string logDirectory)
    {
        var startInfo = new ProcessStartInfo("ip")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])["netns", "exec", netns, .. SelfCommand(), "fake-apiserver", "--kubeconfig", kubeconfig])
        {
            startInfo.ArgumentList.Add(argument);
        }

        var process = Process.Start(startInfo) ?? throw new InvalidOperationException("could not start bgplb-lab fake-apiserver");
        var errors = new StreamWriter(Path.Combine(logDirectory, "fake-apiserver.stderr")) { AutoFlush = true };
        var server = new FakeApiServerProcess(process, errors);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (server._lock)
                {
                    if (!server._disposed)
                    {
                        errors.WriteLine(e.Data);
                    }
                }
            }
        };
        process.BeginErrorReadLine();
        try
        {
            await server._ready.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch
        {
            server.Dispose();
            throw;
        }

        return server;
    }

    /// <summary>How this program is started again: its apphost, or dotnet and its dll.</summary>
    private static string[] SelfCommand()
    {
        var processPath = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        return Path.GetFileNameWithoutExtension(processPath) == "dotnet"
            ? [processPath, typeof(FakeApiServerProcess).Assembly.Location]
            : [processPath];
    }

    /// <summary>Creates or replaces an object; returns its new resourceVersion.</summary>
    public Task<long> ApplyAsync(string resource, JsonObject obj) => SendAsync($"apply {resource} {obj.ToJsonString()}");

    public Task<long> RemoveAsync(string resource, string ns, string name) => SendAsync($"remove {resource} {ns} {name}");

    /// <summary>How many objects of <paramref name="resource"/> the server holds.</summary>
    public async Task<int> CountAsync(string resource) => (int)await SendAsync($"count {resource}");

    /// <summary>From now on, every watch event of <paramref name="resource"/> the server sends is reported with its time.</summary>
    public Task<long> TraceAsync(string resource) => SendAsync($"trace {resource}");

    /// <summary>Applies many objects in one pipelined burst.</summary>
    public async Task ApplyAllAsync(IEnumerable<(string Resource, JsonObject Object)> objects)
    {
        var replies = new List<Task<long>>();
        lock (_writeLock)
        {
            foreach (var (resource, obj) in objects)
            {
                replies.Add(EnqueueReply());
                _process.StandardInput.WriteLine($"apply {resource} {obj.ToJsonString()}");
            }

            _process.StandardInput.Flush();
        }

        await Task.WhenAll(replies).WaitAsync(TimeSpan.FromMinutes(5));
    }

    /// <summary>The first watch event sent at or after <paramref name="notBefore"/> that <paramref name="accept"/> takes; null after <paramref name="timeout"/>.</summary>
    public async Task<SentWatchEvent?> WaitForSentAsync(Func<SentWatchEvent, bool> accept, long notBefore, TimeSpan timeout)
    {
        var done = new TaskCompletionSource<SentWatchEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        bool Matches(SentWatchEvent e) => e.Timestamp >= notBefore && accept(e);
        lock (_lock)
        {
            if (_sent.FirstOrDefault(Matches) is { } seen)
            {
                return seen;
            }

            _sentWaiters.Add((Matches, done));
        }

        try
        {
            return await done.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            lock (_lock)
            {
                _sentWaiters.RemoveAll(w => w.Done == done);
            }

            return null;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        try
        {
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
            // already gone
        }

        if (!_process.WaitForExit(5000))
        {
            _process.Kill();
            _process.WaitForExit(5000);
        }

        _reader.Join(5000);
        _errors.Dispose();
        _process.Dispose();
    }

    private async Task<long> SendAsync(string command)
    {
        Task<long> reply;
        lock (_writeLock)
        {
            reply = EnqueueReply();
            _process.StandardInput.WriteLine(command);
            _process.StandardInput.Flush();
        }

        return await reply.WaitAsync(TimeSpan.FromSeconds(30));
    }

    private Task<long> EnqueueReply()
    {
        var reply = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            _replies.Enqueue(reply);
        }

        return reply.Task;
    }

    private void ReadOutput()
    {
        while (_process.StandardOutput.ReadLine() is { } line)
        {
            var parts = line.Split(' ');
            switch (parts)
            {
                case ["ready", var uri]:
                    _ready.TrySetResult(new Uri(uri));
                    break;
                case ["ok", var version]:
                    Dequeue()?.TrySetResult(long.Parse(version, CultureInfo.InvariantCulture));
                    break;
                case ["error", ..]:
                    Dequeue()?.TrySetException(new InvalidOperationException("fake-apiserver: " + line));
                    break;
                case ["sent", var type, var resource, var key, var version, var timestamp]:
                    var sent = new SentWatchEvent(type, resource, key, long.Parse(version, CultureInfo.InvariantCulture), long.Parse(timestamp, CultureInfo.InvariantCulture));
                    lock (_lock)
                    {
                        _sent.Add(sent);
                        for (var index = _sentWaiters.Count - 1; index >= 0; index--)
                        {
                            if (_sentWaiters[index].Accept(sent))
                            {
                                _sentWaiters[index].Done.TrySetResult(sent);
                                _sentWaiters.RemoveAt(index);
                            }
                        }
                    }

                    break;
                default:
                    break;
            }
        }

        _ready.TrySetException(new ProcessExitedException("fake-apiserver exited before it was ready (see fake-apiserver.stderr)"));
        lock (_lock)
        {
            while (_replies.TryDequeue(out var pending))
            {
                pending.TrySetException(new ProcessExitedException("fake-apiserver exited"));
            }
        }
    }

    private TaskCompletionSource<long>? Dequeue()
    {
        lock (_lock)
        {
            return _replies.TryDequeue(out var reply) ? reply : null;
        }
    }
}
