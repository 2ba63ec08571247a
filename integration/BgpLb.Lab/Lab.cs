using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;


namespace BgpLb.Netlab;

/// <summary>
/// One speaker-node namespace joined to the router namespace by a veth pair: a /30 from 198.18.0.0/15
/// (router .1, node .2 of the node's block) and a /64 2001:db8:ffff:N::/64 (router ::1, node ::2).
/// </summary>
public sealed record LabNode(
    string Role,
    string Namespace,
    string Interface,
    string RouterInterface,
    IPAddress Address,
    IPAddress RouterAddress,
    IPAddress Address6,
    IPAddress RouterAddress6);

public sealed record KernelNextHop(IPAddress? Gateway, string? Device);

/// <summary>A route in a namespace's kernel table; several next hops for an ECMP route.</summary>
public sealed record KernelRoute(string Destination, IReadOnlyList<KernelNextHop> NextHops, string? Protocol)
{
    public IReadOnlyList<IPAddress> Gateways => [.. NextHops.Where(h => h.Gateway is not null).Select(h => h.Gateway!)];

    public override string ToString() => $"{Destination} via [{string.Join(", ", NextHops.Select(h => $"{h.Gateway} dev {h.Device}"))}] proto {Protocol}";
}

/// <summary>
/// A lab: a router namespace <c>bgplb-TEST-r</c> and speaker-node namespaces <c>bgplb-TEST-nI</c>, every process
/// started in them, and a directory for configs and logs. Dispose always kills the processes and deletes the
/// namespaces, also when creation failed halfway, then checks nothing leaked; the directory is deleted only after
/// <see cref="Passed"/>. Use as <c>await using var lab = await Lab.CreateAsync(...)</c>.
/// </summary>
public sealed partial class Lab : IAsyncDisposable
{
    public const string RouterRole = "r";
    private const string DirectoryRoot = "/tmp/bgplb-it";

    private readonly Action<string>? _output;
    private readonly List<string> _namespaces = [];
    private readonly List<NetnsProcess> _processes = [];
    private readonly List<LabNode> _nodes = [];
    private bool _passed;
    private bool _disposed;

    private Lab(string testName, Action<string>? output)
    {
        TestName = testName;
        _output = output;
        RouterNamespace = NamespaceName(testName, RouterRole);
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

    public string RouterNamespace { get; }

    public IReadOnlyList<LabNode> Nodes => _nodes;

    /// <summary>Every namespace this lab created (router first).</summary>
    public IReadOnlyList<string> Namespaces => _namespaces;

    public IReadOnlyList<NetnsProcess> Processes => _processes;

    /// <summary>Every namespace and process of every lab in this test run, for <see cref="LabLeakCheck"/>.</summary>
    internal static ConcurrentQueue<string> CreatedNamespaces { get; } = new();

    internal static ConcurrentQueue<NetnsProcess> StartedProcesses { get; } = new();

    public static string NamespaceName(string testName, string role) => $"bgplb-{testName}-{role}";

    /// <summary>
    /// Creates the router namespace and <paramref name="nodeCount"/> node namespaces, after removing leftovers of an
    /// earlier run of the same test. <paramref name="testName"/>: lowercase letters, digits and '-', at most 24 chars.
    /// </summary>
    public static async Task<Lab> CreateAsync(string testName, int nodeCount, Action<string>? output = null)
    {
        if (!TestNamePattern().IsMatch(testName))
        {
            throw new ArgumentException($"test name '{testName}' must match {TestNamePattern()}", nameof(testName));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(nodeCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(nodeCount, 60);
        await SweepLeftoversAsync(testName);
        var lab = new Lab(testName, output);
        try
        {
            await lab.AddNamespaceAsync(lab.RouterNamespace);
            await SysctlAsync(lab.RouterNamespace, "net.ipv4.ip_forward", "1");
            await SysctlAsync(lab.RouterNamespace, "net.ipv6.conf.all.forwarding", "1");
            // Hash on L4 ports so that ECMP next hops are all used by varied flows.
            await SysctlAsync(lab.RouterNamespace, "net.ipv4.fib_multipath_hash_policy", "1");
            for (var index = 1; index <= nodeCount; index++)
            {
                await lab.AddNodeAsync(index);
            }
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }

        return lab;
    }

    /// <summary>Deletes namespaces (and kills their processes) left by an earlier, crashed run of this test only.</summary>
    public static async Task SweepLeftoversAsync(string testName)
    {
        var ours = new Regex($"^{Regex.Escape(NamespaceName(testName, string.Empty))}(r|n[0-9]+)$", RegexOptions.CultureInvariant);
        foreach (var name in await ListNamespacesAsync())
        {
            if (ours.IsMatch(name))
            {
                await DeleteNamespaceAsync(name);
            }
        }
    }

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
    public async Task<NetnsProcess> StartProcessAsync(string netns, string name, string file, params string[] arguments)
    {
        var process = await NetnsProcess.StartAsync(netns, name, Directory, file, arguments);
        _processes.Add(process);
        StartedProcesses.Enqueue(process);
        Log($"started {name} in {netns}: pid {process.Pid}");
        return process;
    }

    /// <summary>Adds an address (e.g. a service address "203.0.113.10/32") to a device of a node, by default its loopback.</summary>
    public static async Task AddAddressAsync(LabNode node, string cidr, string device = "lo") =>
        (await Command.RunAsync("ip", "-n", node.Namespace, "addr", "add", cidr, "dev", device, "nodad")).EnsureSuccess();

    /// <summary>Adds a static route in a namespace, e.g. to reach a node's loopback for a multihop session.</summary>
    public static async Task AddRouteAsync(string netns, string destination, IPAddress via) =>
        (await Command.RunAsync("ip", "-n", netns, "route", "add", destination, "via", via.ToString())).EnsureSuccess();

    /// <summary>The main routing table of a namespace, multipath routes with all their next hops.</summary>
    public static async Task<IReadOnlyList<KernelRoute>> GetKernelRoutesAsync(string netns, AddressFamily family)
    {
        var familyFlag = family == AddressFamily.InterNetworkV6 ? "-6" : "-4";
        var output = (await Command.RunAsync("ip", "-n", netns, familyFlag, "-j", "route", "show")).EnsureSuccess().StandardOutput;
        return ParseKernelRoutes(output, family);
    }

    internal static IReadOnlyList<KernelRoute> ParseKernelRoutes(string json, AddressFamily family)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return [];
        }

        using var document = JsonDocument.Parse(json);
        var routes = new List<KernelRoute>();
        foreach (var route in document.RootElement.EnumerateArray())
        {
            var destination = route.GetProperty("dst").GetString()!;
            if (destination != "default" && !destination.Contains('/', StringComparison.Ordinal))
            {
                destination += family == AddressFamily.InterNetworkV6 ? "/128" : "/32";
            }

            var hops = route.TryGetProperty("nexthops", out var multipath)
                ? [.. multipath.EnumerateArray().Select(ParseHop)]
                : new List<KernelNextHop> { ParseHop(route) };
            routes.Add(new KernelRoute(destination, hops, route.TryGetProperty("protocol", out var protocol) ? protocol.ToString() : null));
        }

        return routes;

        static KernelNextHop ParseHop(JsonElement hop) => new(
            hop.TryGetProperty("gateway", out var gateway) ? IPAddress.Parse(gateway.GetString()!) : null,
            hop.TryGetProperty("dev", out var device) ? device.GetString() : null);
    }

    /// <summary>Marks the test as passed: Dispose then deletes the lab directory instead of keeping it.</summary>
    public void Passed() => _passed = true;

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
        return _processes.Where(p => System.IO.Directory.Exists($"/proc/{p.Pid}"))
            .Select(p => new InvalidOperationException($"{p.Name} (pid {p.Pid}) still runs after teardown"))
            .Concat(_namespaces.Intersect(remaining).Select(n => new InvalidOperationException($"namespace {n} still exists after teardown")));
    }

    private async Task AddNamespaceAsync(string name)
    {
        (await Command.RunAsync("ip", "netns", "add", name)).EnsureSuccess();
        _namespaces.Add(name);
        CreatedNamespaces.Enqueue(name);
        (await Command.RunAsync("ip", "-n", name, "link", "set", "lo", "up")).EnsureSuccess();
    }

    private async Task AddNodeAsync(int index)
    {
        var role = "n" + index.ToString(CultureInfo.InvariantCulture);
        var netns = NamespaceName(TestName, role);
        await AddNamespaceAsync(netns);
        // Both ends are created directly inside their namespaces: short names, never visible in the host namespace.
        var routerInterface = "to-" + role;
        const string nodeInterface = "uplink";
        (await Command.RunAsync("ip", "-n", RouterNamespace, "link", "add", routerInterface, "type", "veth", "peer", "name", nodeInterface, "netns", netns)).EnsureSuccess();
        var block = (index - 1) * 4;
        var node = new LabNode(
            role,
            netns,
            nodeInterface,
            routerInterface,
            IPAddress.Parse($"198.18.{block / 256}.{(block % 256) + 2}"),
            IPAddress.Parse($"198.18.{block / 256}.{(block % 256) + 1}"),
            IPAddress.Parse($"2001:db8:ffff:{index:x}::2"),
            IPAddress.Parse($"2001:db8:ffff:{index:x}::1"));
        await ConfigureEndAsync(RouterNamespace, routerInterface, node.RouterAddress, node.RouterAddress6);
        await ConfigureEndAsync(netns, nodeInterface, node.Address, node.Address6);
        _nodes.Add(node);
    }

    private static async Task ConfigureEndAsync(string netns, string device, IPAddress address, IPAddress address6)
    {
        (await Command.RunAsync("ip", "-n", netns, "addr", "add", $"{address}/30", "dev", device)).EnsureSuccess();
        // nodad: the address is usable at once instead of after duplicate address detection (~1-2 s).
        (await Command.RunAsync("ip", "-n", netns, "-6", "addr", "add", $"{address6}/64", "dev", device, "nodad")).EnsureSuccess();
        (await Command.RunAsync("ip", "-n", netns, "link", "set", device, "up")).EnsureSuccess();
    }

    private static async Task SysctlAsync(string netns, string key, string value) =>
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
