using System.Diagnostics;
using System.Net;

namespace BgpLb.Netlab;

/// <summary>One change of the watched route: its gateways after the change (none when it was deleted), and when it was read.</summary>
public sealed record KernelRouteChange(TimeSpan At, bool Deleted, IReadOnlyList<IPAddress> Gateways, string Text)
{
    public override string ToString() => $"+{At.TotalSeconds:F3} s {Text}";
}

/// <summary>
/// Every change of one IPv4 route in a namespace's kernel table, as <c>ip -4 monitor route</c> reports it (no polling,
/// so a next hop that goes for a moment is seen too). A multipath route is one message: a head line and one indented
/// <c>nexthop via ...</c> line per next hop. <see cref="StartAsync"/> returns once the monitor has shown a marker route
/// it added and removed, so no later change is missed. Dispose kills the <c>ip</c> process by PID.
/// </summary>
public sealed class KernelRouteWatch : IDisposable
{
    private const string Marker = "198.18.255.254";
    private readonly Process _process;
    private readonly Thread _reader;
    private readonly Lock _lock = new();
    private readonly List<(TimeSpan At, string Line)> _lines = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly TaskCompletionSource _markerSeen = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _destination;

    private KernelRouteWatch(string netns, string destination)
    {
        _destination = destination;
        var startInfo = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var argument in (string[])["-n", netns, "-4", "monitor", "route"])
        {
            startInfo.ArgumentList.Add(argument);
        }

        _process = Process.Start(startInfo) ?? throw new InvalidOperationException($"could not start ip monitor route in {netns}");
        _process.StandardInput.Close();
        _reader = new Thread(Read) { IsBackground = true, Name = "kernel-route-watch" };
        _reader.Start();
    }

    /// <summary>Watches <paramref name="destination"/> (a host address, as <c>ip</c> prints it) in <paramref name="netns"/>.</summary>
    public static async Task<KernelRouteWatch> StartAsync(string netns, string destination)
    {
        var watch = new KernelRouteWatch(netns, destination);
        try
        {
            // Add and remove a marker route until the monitor shows it: from then on it sees every change.
            while (!watch._markerSeen.Task.IsCompleted)
            {
                (await Command.RunAsync("ip", "-n", netns, "route", "replace", "blackhole", Marker + "/32")).EnsureSuccess();
                (await Command.RunAsync("ip", "-n", netns, "route", "del", "blackhole", Marker + "/32")).EnsureSuccess();
                if (watch._process.HasExited)
                {
                    throw new ProcessExitedException($"ip monitor route in {netns} exited with {watch._process.ExitCode}");
                }

                if (watch._clock.Elapsed > TimeSpan.FromSeconds(10))
                {
                    throw new TimeoutException($"ip monitor route in {netns} showed no marker route within 10 s");
                }

                await Task.WhenAny(watch._markerSeen.Task, Task.Delay(100));
            }
        }
        catch
        {
            watch.Dispose();
            throw;
        }

        return watch;
    }

    /// <summary>The changes of the watched route since <see cref="StartAsync"/>, in order.</summary>
    public IReadOnlyList<KernelRouteChange> Changes()
    {
        List<(TimeSpan At, string Line)> lines;
        lock (_lock)
        {
            lines = [.. _lines];
        }

        var changes = new List<KernelRouteChange>();
        for (var i = 0; i < lines.Count; i++)
        {
            var head = lines[i].Line;
            var end = i + 1;
            while (end < lines.Count && lines[end].Line.Length > 0 && char.IsWhiteSpace(lines[end].Line[0]))
            {
                end++;
            }

            var deleted = head.StartsWith("Deleted ", StringComparison.Ordinal);
            var fields = head.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 0 && fields[deleted ? 1 : 0] == _destination)
            {
                var message = lines.GetRange(i, end - i).Select(l => l.Line.Trim()).ToList();
                var gateways = message.SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).SkipWhile(w => w != "via").Skip(1).Take(1))
                    .Select(IPAddress.Parse).ToList();
                changes.Add(new KernelRouteChange(lines[i].At, deleted, gateways, string.Join(" | ", message)));
            }

            i = end - 1;
        }

        return changes;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        _process.WaitForExit(5000);
        _reader.Join(5000);
        _process.Dispose();
    }

    private void Read()
    {
        while (_process.StandardOutput.ReadLine() is { } line)
        {
            if (line.Contains(Marker, StringComparison.Ordinal))
            {
                _markerSeen.TrySetResult();
                continue;
            }

            lock (_lock)
            {
                _lines.Add((_clock.Elapsed, line));
            }
        }
    }
}
