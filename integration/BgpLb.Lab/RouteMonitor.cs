using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace BgpLb.Netlab;

/// <summary>One IPv4 host route appearing in or leaving a kernel table, stamped when its monitor line was read.</summary>
public readonly record struct RouteEvent(long Timestamp, uint Destination, bool Added);

/// <summary>
/// Watches a namespace's IPv4 kernel table with <c>ip -n NS monitor route link</c> (no polling): a dedicated thread reads
/// each line as <c>ip</c> flushes it and stamps it with <see cref="Stopwatch.GetTimestamp"/> (CLOCK_MONOTONIC, the
/// same clock in every process of the machine). Only host routes (/32) installed by <see cref="Protocol"/> count.
/// A route over a nexthop object (FRR's zebra installs "nhid N") leaves without a notification of its own when the
/// device of that nexthop loses its carrier or goes down: the kernel flushes the nexthop and every route using it, and
/// only the link event says so. Such a route counts as removed at that link event.
/// The set of such routes present is kept from the events; <see cref="ResyncAsync"/> replaces it with a dump (after a
/// bulk load, when the monitor's netlink socket may have overflowed: such losses are counted in <see cref="Overflows"/>).
/// Dispose kills the <c>ip</c> process by PID.
/// </summary>
public sealed class RouteMonitor : IDisposable
{
    private readonly Process _process;
    private readonly Thread _reader;
    private readonly Thread _errorReader;
    private readonly Lock _lock = new();
    private readonly List<RouteEvent> _events = [];
    private readonly HashSet<uint> _present = [];
    private readonly Dictionary<uint, string> _nexthopObjectDevice = [];
    private readonly List<Waiter> _waiters = [];
    private readonly string _marker;
    private int _overflows;
    private bool _disposed;

    private sealed record Waiter(uint Destination, bool Added, long NotBefore, TaskCompletionSource<long> Done);

    private RouteMonitor(string netns, string protocol)
    {
        Namespace = netns;
        Protocol = protocol;
        _marker = " proto " + protocol;
        // A large receive buffer (ip -rcvbuf): bulk loads of 100k routes come faster than one reader drains them.
        var startInfo = new ProcessStartInfo("ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])["-rcvbuf", "33554432", "-n", netns, "-4", "monitor", "route", "link"])
        {
            startInfo.ArgumentList.Add(argument);
        }

        _process = Process.Start(startInfo) ?? throw new InvalidOperationException($"could not start ip monitor route in {netns}");
        _process.StandardInput.Close();
        _reader = new Thread(ReadEvents) { IsBackground = true, Name = "route-monitor" };
        _errorReader = new Thread(ReadErrors) { IsBackground = true, Name = "route-monitor-errors" };
        _reader.Start();
        _errorReader.Start();
    }

    public string Namespace { get; }

    /// <summary>The kernel route protocol counted ("bird" for BIRD's kernel protocol).</summary>
    public string Protocol { get; }

    public int Pid => _process.Id;

    /// <summary>Netlink receive errors (ENOBUFS) reported by ip monitor: events may have been lost.</summary>
    public int Overflows => Volatile.Read(ref _overflows);

    /// <summary>Host routes of <see cref="Protocol"/> present now, as the events say.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _present.Count;
            }
        }
    }

    /// <summary>Starts the monitor and waits until ip runs in <paramref name="netns"/> (then no later change is missed).</summary>
    public static async Task<RouteMonitor> StartAsync(string netns, string protocol = "bird")
    {
        var monitor = new RouteMonitor(netns, protocol);
        try
        {
            var inode = (await Command.RunAsync("stat", "-L", "-c", "%i", $"/var/run/netns/{netns}")).EnsureSuccess().StandardOutput.Trim();
            await Wait.UntilAsync($"ip monitor (pid {monitor.Pid}) to enter {netns}", TimeSpan.FromSeconds(5), () =>
            {
                if (monitor._process.HasExited)
                {
                    throw new ProcessExitedException($"ip monitor route in {netns} exited with {monitor._process.ExitCode}");
                }

                return Task.FromResult(NetworkNamespaceOf(monitor.Pid) == $"net:[{inode}]");
            });
        }
        catch
        {
            monitor.Dispose();
            throw;
        }

        // ip enters the namespace, then opens its netlink socket: give it a moment before changes are made.
        await Task.Delay(100);
        return monitor;
    }

    public static uint Key(IPAddress address) => BinaryPrimitives.ReadUInt32BigEndian(address.GetAddressBytes());

    public static IPAddress Address(uint key)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, key);
        return new IPAddress(bytes);
    }

    public bool IsPresent(uint destination)
    {
        lock (_lock)
        {
            return _present.Contains(destination);
        }
    }

    /// <summary>A copy of the present set.</summary>
    public HashSet<uint> Present()
    {
        lock (_lock)
        {
            return [.. _present];
        }
    }

    /// <summary>The events from <paramref name="from"/> (a timestamp) on, in arrival order.</summary>
    public List<RouteEvent> EventsSince(long from)
    {
        lock (_lock)
        {
            var index = _events.Count;
            while (index > 0 && _events[index - 1].Timestamp >= from)
            {
                index--;
            }

            return _events.GetRange(index, _events.Count - index);
        }
    }

    /// <summary>
    /// The timestamp of the first event adding (or removing) <paramref name="destination"/> at or after
    /// <paramref name="notBefore"/>; waits for it at most <paramref name="timeout"/> (then null).
    /// </summary>
    public async Task<long?> WaitForAsync(uint destination, bool added, long notBefore, TimeSpan timeout)
    {
        Waiter waiter;
        lock (_lock)
        {
            long? first = null;
            for (var index = _events.Count - 1; index >= 0 && _events[index].Timestamp >= notBefore; index--)
            {
                if (_events[index].Destination == destination && _events[index].Added == added)
                {
                    first = _events[index].Timestamp;
                }
            }

            if (first is not null)
            {
                return first;
            }

            waiter = new Waiter(destination, added, notBefore, new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously));
            _waiters.Add(waiter);
        }

        try
        {
            return await waiter.Done.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            lock (_lock)
            {
                _waiters.Remove(waiter);
            }

            return null;
        }
    }

    /// <summary>Waits until <paramref name="holds"/> is true of the present set (checked on every event and every 50 ms).</summary>
    public async Task<bool> WaitUntilAsync(Func<HashSet<uint>, bool> holds, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            lock (_lock)
            {
                if (holds(_present))
                {
                    return true;
                }
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                return false;
            }

            await Task.Delay(50);
        }
    }

    /// <summary>
    /// Waits until the table holds exactly <paramref name="expected"/> (of our host routes), as the events say,
    /// confirmed by a dump (also every 5 s, in case events were lost); fails at once if <paramref name="sender"/> exits.
    /// </summary>
    public async Task WaitForTableAsync(HashSet<uint> expected, NetnsProcess? sender, string what, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        var lastDump = start;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            sender?.ThrowIfExited(what);
            if (Count == expected.Count || Stopwatch.GetElapsedTime(lastDump) > TimeSpan.FromSeconds(5))
            {
                await ResyncAsync();
                lastDump = Stopwatch.GetTimestamp();
                if (Present().SetEquals(expected))
                {
                    return;
                }
            }

            if (Stopwatch.GetElapsedTime(start) > timeout)
            {
                throw new TimeoutException($"{what}: after {timeout.TotalSeconds} s the table of {Namespace} holds {Count} of our routes, expected {expected.Count}");
            }

            await Task.Delay(200, cancellationToken);
        }
    }

    /// <summary>Replaces the present set with a dump of the kernel table (<c>ip route show proto P</c>); returns its size.</summary>
    public async Task<int> ResyncAsync()
    {
        int mark;
        lock (_lock)
        {
            mark = _events.Count;
        }

        var dump = await DumpAsync(Namespace, Protocol);
        lock (_lock)
        {
            // Events that came while the dump was taken may or may not be in it: replaying them in order on top of it
            // gives the table as it is after the last of them.
            _present.Clear();
            _present.UnionWith(dump);
            for (var index = mark; index < _events.Count; index++)
            {
                if (_events[index].Added)
                {
                    _present.Add(_events[index].Destination);
                }
                else
                {
                    _present.Remove(_events[index].Destination);
                }
            }

            foreach (var gone in _nexthopObjectDevice.Keys.Where(d => !_present.Contains(d)).ToList())
            {
                _nexthopObjectDevice.Remove(gone);
            }

            return _present.Count;
        }
    }

    /// <summary>The IPv4 host routes of <paramref name="protocol"/> in a namespace's main table, read once.</summary>
    public static async Task<HashSet<uint>> DumpAsync(string netns, string protocol)
    {
        var output = (await Command.RunAsync("ip", ["-n", netns, "-4", "route", "show", "proto", protocol], TimeSpan.FromMinutes(2)))
            .EnsureSuccess().StandardOutput;
        var routes = new HashSet<uint>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var end = line.IndexOf(' ', StringComparison.Ordinal);
            var destination = end < 0 ? line : line[..end];
            if (!destination.Contains('/', StringComparison.Ordinal) && IPAddress.TryParse(destination, out var address)
                && address.AddressFamily == AddressFamily.InterNetwork)
            {
                routes.Add(Key(address));
            }
        }

        return routes;
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

        _process.WaitForExit(5000);
        _reader.Join(5000);
        _errorReader.Join(5000);
        _process.Dispose();
    }

    private void ReadEvents()
    {
        var output = _process.StandardOutput;
        while (output.ReadLine() is { } line)
        {
            var timestamp = Stopwatch.GetTimestamp();
            if (TryParseLinkDown(line, out var device))
            {
                lock (_lock)
                {
                    foreach (var destination in _nexthopObjectDevice.Where(r => r.Value == device).Select(r => r.Key).ToList())
                    {
                        ApplyUnsynchronized(new RouteEvent(timestamp, destination, Added: false), nexthopObjectDevice: null);
                    }
                }

                continue;
            }

            if (TryParse(line, out var route, out var added))
            {
                lock (_lock)
                {
                    ApplyUnsynchronized(new RouteEvent(timestamp, route, added), added ? NexthopObjectDevice(line) : null);
                }
            }
        }
    }

    /// <summary>Records an event, updates the present set and completes the waiters it satisfies.</summary>
    private void ApplyUnsynchronized(RouteEvent routeEvent, string? nexthopObjectDevice)
    {
        _events.Add(routeEvent);
        var destination = routeEvent.Destination;
        if (routeEvent.Added)
        {
            _present.Add(destination);
        }
        else
        {
            _present.Remove(destination);
        }

        if (nexthopObjectDevice is null)
        {
            _nexthopObjectDevice.Remove(destination);
        }
        else
        {
            _nexthopObjectDevice[destination] = nexthopObjectDevice;
        }

        for (var index = _waiters.Count - 1; index >= 0; index--)
        {
            var waiter = _waiters[index];
            if (waiter.Destination == destination && waiter.Added == routeEvent.Added && routeEvent.Timestamp >= waiter.NotBefore)
            {
                _waiters.RemoveAt(index);
                waiter.Done.TrySetResult(routeEvent.Timestamp);
            }
        }
    }

    private void ReadErrors()
    {
        while (_process.StandardError.ReadLine() is { } line)
        {
            if (line.Length > 0)
            {
                Interlocked.Increment(ref _overflows);
                Console.Error.WriteLine($"ip monitor route ({Namespace}): {line}");
            }
        }
    }

    /// <summary>"[Deleted ]198.18.16.5 via 198.18.0.2 dev to-n1 proto bird metric 32": a host route of our protocol.</summary>
    private bool TryParse(string line, out uint destination, out bool added)
    {
        destination = 0;
        added = !line.StartsWith("Deleted ", StringComparison.Ordinal);
        if (!line.Contains(_marker, StringComparison.Ordinal))
        {
            return false;
        }

        var text = added ? line.AsSpan() : line.AsSpan("Deleted ".Length);
        var end = text.IndexOf(' ');
        var token = end < 0 ? text : text[..end];
        if (token.Contains('/') || !IPAddress.TryParse(token, out var address) || address.AddressFamily != AddressFamily.InterNetwork)
        {
            return false;
        }

        destination = Key(address);
        return true;
    }

    /// <summary>
    /// "203.0.113.10 nhid 6 via 198.18.0.2 dev to-n1 proto bgp metric 20": the device of a route over a nexthop object
    /// with one next hop; null for a route without one (BIRD's), or over a group of several (one device going leaves it).
    /// </summary>
    internal static string? NexthopObjectDevice(string line)
    {
        if (!line.Contains(" nhid ", StringComparison.Ordinal))
        {
            return null;
        }

        var tokens = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        var devices = Enumerable.Range(0, tokens.Length - 1).Where(i => tokens[i] == "dev").Select(i => tokens[i + 1]).Distinct().ToList();
        return devices.Count == 1 ? devices[0] : null;
    }

    /// <summary>
    /// "2: to-n1@if2: &lt;NO-CARRIER,BROADCAST,MULTICAST,UP&gt; mtu 1500 ..." (or "Deleted 2: ..."): true with the device
    /// name when the link is down, has no carrier or is gone: then the kernel flushes the nexthop objects on it.
    /// </summary>
    internal static bool TryParseLinkDown(string line, out string device)
    {
        device = string.Empty;
        var deleted = line.StartsWith("Deleted ", StringComparison.Ordinal);
        var text = deleted ? line["Deleted ".Length..] : line;
        var colon = text.IndexOf(": ", StringComparison.Ordinal);
        if (colon <= 0 || !int.TryParse(text.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            return false;
        }

        var nameEnd = text.IndexOf(": <", colon + 2, StringComparison.Ordinal);
        var flagsEnd = nameEnd < 0 ? -1 : text.IndexOf('>', nameEnd);
        if (flagsEnd < 0)
        {
            return false;
        }

        var name = text[(colon + 2)..nameEnd];
        device = name.Split('@')[0];
        var flags = text[(nameEnd + 3)..flagsEnd].Split(',');
        return deleted || !flags.Contains("UP") || !flags.Contains("LOWER_UP");
    }

    private static string? NetworkNamespaceOf(int pid)
    {
        try
        {
            return new FileInfo($"/proc/{pid}/ns/net").LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
