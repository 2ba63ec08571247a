using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;


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

/// <summary>A client namespace behind the router (<see cref="Lab.AddClientAsync"/>): traffic from it to a service address crosses the router.</summary>
public sealed record LabClient(string Namespace, IPAddress Address, IPAddress RouterAddress, string RouterInterface);

/// <summary>A ping's summary; <see cref="Time"/> is from the first to the last echo request.</summary>
public sealed record PingResult(int Transmitted, int Received, TimeSpan Time)
{
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Transmitted} sent, {Received} received in {Time.TotalSeconds:F1} s ({Transmitted / Math.Max(Time.TotalSeconds, 0.001):F0}/s)");
}

public sealed record KernelNextHop(IPAddress? Gateway, string? Device);

/// <summary>A route in a namespace's kernel table; several next hops for an ECMP route.</summary>
public sealed record KernelRoute(string Destination, IReadOnlyList<KernelNextHop> NextHops, string? Protocol)
{
    public IReadOnlyList<IPAddress> Gateways => [.. NextHops.Where(h => h.Gateway is not null).Select(h => h.Gateway!)];

    public override string ToString() => $"{Destination} via [{string.Join(", ", NextHops.Select(h => $"{h.Gateway} dev {h.Device}"))}] proto {Protocol}";
}

/// <summary>
/// A BGP lab: a router namespace <c>bgplb-TEST-r</c> and speaker-node namespaces <c>bgplb-TEST-nI</c>, each joined to
/// the router by a veth pair, with the teardown and leak check of <see cref="NetnsLab"/>.
/// Use as <c>await using var lab = await Lab.CreateAsync(...)</c>.
/// </summary>
public sealed class Lab : NetnsLab
{
    public const string RouterRole = "r";
    public const string ClientRole = "c";

    private readonly List<LabNode> _nodes = [];

    private Lab(string testName, Action<string>? output)
        : base(testName, output)
    {
        RouterNamespace = NamespaceName(testName, RouterRole);
    }

    public string RouterNamespace { get; }

    public IReadOnlyList<LabNode> Nodes => _nodes;

    /// <summary>
    /// Creates the router namespace and <paramref name="nodeCount"/> node namespaces, after removing leftovers of an
    /// earlier run of the same test. <paramref name="testName"/>: lowercase letters, digits and '-', at most 24 chars.
    /// </summary>
    public static async Task<Lab> CreateAsync(string testName, int nodeCount, Action<string>? output = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(nodeCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(nodeCount, 60);
        var lab = new Lab(testName, output);
        try
        {
            await SweepLeftoversAsync(testName);
            await lab.AddNamespaceAsync(RouterRole);
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

    /// <summary>
    /// The lab router (AS 64512, router id 198.18.255.1) with a session per node towards <paramref name="speakerAs"/> on
    /// its IPv4 link (both families with <paramref name="multiprotocol"/>) and, with <paramref name="ipv6"/>, its IPv6
    /// link. With <paramref name="bfd"/> every session is a BFD client with those timers, from the router's link address
    /// (eBGP multihop TTL 2 and multi-hop BFD with <paramref name="multihop"/>).
    /// </summary>
    public RouterOptions RouterOptionsFor(
        uint speakerAs, bool ipv6 = false, int holdTime = 3, string? password = null, bool multiprotocol = false, BfdTimers? bfd = null, bool multihop = false) =>
        new(IPAddress.Parse("198.18.255.1"), [.. Nodes
            .SelectMany(n => ipv6 ? (IEnumerable<(IPAddress Node, IPAddress Router)>)[(n.Address, n.RouterAddress), (n.Address6, n.RouterAddress6)] : [(n.Address, n.RouterAddress)])
            .Select(link => new BgpNeighbor(link.Node, speakerAs)
            {
                HoldTime = holdTime,
                Password = password,
                BothFamilies = multiprotocol && link.Node.AddressFamily == AddressFamily.InterNetwork,
                Bfd = bfd is not null,
                LocalAddress = bfd is null ? null : link.Router,
                Multihop = multihop ? 2 : null,
            })])
        {
            BfdNeighbors = bfd is null ? [] : [.. Nodes.Select(n => bfd.Neighbor(n.Address, n.RouterAddress, multihop))],
        };

    /// <summary>Deletes namespaces (and kills their processes) left by an earlier, crashed run of this test only.</summary>
    public static Task SweepLeftoversAsync(string testName) => SweepLeftoversAsync(testName, "r|c|n[0-9]+");

    /// <summary>
    /// Adds the client namespace <c>bgplb-TEST-c</c>: veth <c>to-c</c> (router, 198.18.254.1/30) ↔ <c>uplink</c> (client,
    /// 198.18.254.2/30), the client's default route via the router, and in every node a route back to the client's link
    /// via the node's router address.
    /// </summary>
    public async Task<LabClient> AddClientAsync()
    {
        var netns = await AddNamespaceAsync(ClientRole);
        const string routerInterface = "to-c";
        var client = new LabClient(netns, IPAddress.Parse("198.18.254.2"), IPAddress.Parse("198.18.254.1"), routerInterface);
        (await Command.RunAsync("ip", "-n", RouterNamespace, "link", "add", routerInterface, "type", "veth", "peer", "name", "uplink", "netns", netns)).EnsureSuccess();
        foreach (var (ns, device, address) in (ValueTuple<string, string, IPAddress>[])[(RouterNamespace, routerInterface, client.RouterAddress), (netns, "uplink", client.Address)])
        {
            (await Command.RunAsync("ip", "-n", ns, "addr", "add", $"{address}/30", "dev", device)).EnsureSuccess();
            (await Command.RunAsync("ip", "-n", ns, "link", "set", device, "up")).EnsureSuccess();
        }

        (await Command.RunAsync("ip", "-n", netns, "route", "add", "default", "via", client.RouterAddress.ToString())).EnsureSuccess();
        foreach (var node in _nodes)
        {
            await AddRouteAsync(node.Namespace, "198.18.254.0/30", node.RouterAddress);
        }

        return client;
    }

    /// <summary>Starts <c>ping -q -i INTERVAL -c COUNT -W 1 TARGET</c> in <paramref name="netns"/>; the returned process ends after COUNT echo requests.</summary>
    public Task<NetnsProcess> StartPingAsync(string netns, IPAddress target, int count, TimeSpan interval) =>
        StartProcessAsync(netns, "ping-" + target, "ping", "-q", "-n", "-i", interval.TotalSeconds.ToString("0.######", CultureInfo.InvariantCulture),
            "-c", count.ToString(CultureInfo.InvariantCulture), "-W", "1", target.ToString());

    /// <summary>The summary of a finished ping: "N packets transmitted, M received, ..., time Tms".</summary>
    public static PingResult PingSummary(NetnsProcess ping)
    {
        var match = System.Text.RegularExpressions.Regex.Match(ping.ReadOutput(), @"(\d+) packets transmitted, (\d+) received.*time (\d+)ms");
        return match.Success
            ? new PingResult(Int(match.Groups[1].Value), Int(match.Groups[2].Value), TimeSpan.FromMilliseconds(Int(match.Groups[3].Value)))
            : throw new FormatException($"no ping summary in: {ping.ReadOutput()}");

        static int Int(string text) => int.Parse(text, CultureInfo.InvariantCulture);
    }

    /// <summary>ICMP echo requests a namespace's kernel has received (Icmp InEchos of its /proc/net/snmp).</summary>
    public static async Task<long> IcmpEchosReceivedAsync(string netns)
    {
        var lines = (await Command.InNamespaceAsync(netns, "cat", "/proc/net/snmp")).EnsureSuccess().StandardOutput
            .Split('\n').Where(l => l.StartsWith("Icmp: ", StringComparison.Ordinal)).ToList();
        var names = lines[0].Split(' ');
        var values = lines[1].Split(' ');
        return long.Parse(values[Array.IndexOf(names, "InEchos")], CultureInfo.InvariantCulture);
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

    private async Task AddNodeAsync(int index)
    {
        var role = "n" + index.ToString(CultureInfo.InvariantCulture);
        var netns = await AddNamespaceAsync(role);
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
}
