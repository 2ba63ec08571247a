using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace BgpLb.Netlab;

/// <summary>
/// A containerlab topology (<see cref="ClabTopology"/>) run in network namespaces without containers: a namespace
/// <c>bgplb-clab-NAME-RUN-NODE</c> per node, a Linux bridge named after each bridge node in its namespace, a veth pair per
/// link with the endpoints' interface names (the bridge's end enslaved to it), then every node's exec lines, then the
/// nodes' programs: FRR or BIRD with the bound configuration, the locally built bgplb-speaker with the node's cmd and
/// env. Teardown and leak check as for every <see cref="NetnsLab"/>.
/// </summary>
public sealed class TopologyLab : NetnsLab
{
    private const int DefaultMetricsPort = 7474;

    private readonly Dictionary<string, string> _namespaces = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Router> _routers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SpeakerProcess> _speakers = new(StringComparer.Ordinal);

    private TopologyLab(ClabTopology topology, Action<string>? output)
        : base(topology.TestName, output)
    {
        Topology = topology;
    }

    public ClabTopology Topology { get; }

    /// <summary>The FRR and BIRD nodes' routers, by node name.</summary>
    public IReadOnlyDictionary<string, Router> Routers => _routers;

    /// <summary>The speaker nodes' bgplb-speaker processes, by node name.</summary>
    public IReadOnlyDictionary<string, SpeakerProcess> Speakers => _speakers;

    public string NamespaceOf(string node) => _namespaces[node];

    /// <summary>Builds and starts <paramref name="topology"/>, after removing what an earlier run of it left; on failure everything is torn down.</summary>
    public static async Task<TopologyLab> StartAsync(ClabTopology topology, Action<string>? output = null)
    {
        var lab = new TopologyLab(topology, output);
        try
        {
            await SweepLeftoversAsync(topology.TestName, string.Join('|', topology.Nodes.Select(n => Regex.Escape(n.Name))));
            foreach (var node in topology.Nodes)
            {
                await lab.AddNodeAsync(node);
            }

            foreach (var link in topology.Links)
            {
                await lab.AddLinkAsync(link);
            }

            foreach (var node in topology.Nodes)
            {
                await lab.RunExecAsync(node);
            }

            foreach (var node in topology.Nodes)
            {
                await lab.StartProgramAsync(node);
            }
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }

        return lab;
    }

    /// <summary>The MAC address of a node's interface.</summary>
    public Task<string> MacOfAsync(string node, string device) => L2Lab.MacOfAsync(NamespaceOf(node), device);

    /// <summary>The IPv4 addresses on a node's interface.</summary>
    public async Task<IReadOnlyList<IPAddress>> AddressesOfAsync(string node, string device)
    {
        var output = (await Command.RunAsync("ip", "-n", NamespaceOf(node), "-4", "-j", "addr", "show", "dev", device)).EnsureSuccess().StandardOutput;
        using var document = JsonDocument.Parse(output);
        return [.. document.RootElement.EnumerateArray().SelectMany(i => i.GetProperty("addr_info").EnumerateArray())
            .Select(a => IPAddress.Parse(a.GetProperty("local").GetString()!))];
    }

    /// <summary>
    /// The speakers' addresses on their links to <paramref name="routerNode"/>: the next hops the router's ECMP routes
    /// should have, one per speaker node linked to it.
    /// </summary>
    public async Task<IReadOnlyList<IPAddress>> SpeakerNextHopsOfAsync(string routerNode)
    {
        var nextHops = new List<IPAddress>();
        foreach (var (_, far) in Topology.LinksOf(routerNode).Where(l => Topology.Node(l.Far.Node).Role == ClabRole.Speaker))
        {
            nextHops.AddRange(await AddressesOfAsync(far.Node, far.Interface));
        }

        return nextHops;
    }

    /// <summary>
    /// Waits until the kernel table of <paramref name="routerNode"/> has BGP routes (at least <paramref name="prefixes"/>, or
    /// any) and each of them goes through exactly the speakers linked to it (<see cref="SpeakerNextHopsOfAsync"/>): ECMP.
    /// </summary>
    public async Task<IReadOnlyList<KernelRoute>> WaitForEcmpRoutesAsync(string routerNode, TimeSpan timeout, params string[] prefixes)
    {
        var router = _routers[routerNode];
        var nextHops = Sorted(await SpeakerNextHopsOfAsync(routerNode));
        return await Wait.ForAsync(
            $"{routerNode}: {(prefixes.Length == 0 ? "BGP routes" : string.Join(", ", prefixes))}, each via {string.Join(", ", nextHops)}",
            timeout,
            async () => (IReadOnlyList<KernelRoute>)[.. (await router.GetKernelRoutesAsync(AddressFamily.InterNetwork)).Where(r => r.Protocol is "bgp" or "bird")],
            routes => routes.Count > 0 && prefixes.All(p => routes.Any(r => r.Destination == p)) && routes.All(r => Sorted(r.Gateways).SequenceEqual(nextHops)),
            routes => routes.Count == 0 ? "no BGP route" : string.Join("; ", routes));
    }

    private async Task AddNodeAsync(ClabNode node)
    {
        var netns = await AddNamespaceAsync(node.Name);
        _namespaces[node.Name] = netns;
        if (node.Role == ClabRole.Bridge)
        {
            await IpAsync("-n", netns, "link", "add", node.Name, "type", "bridge");
            await IpAsync("-n", netns, "link", "set", node.Name, "up");
        }

        Log($"{node.Name} ({node.Role}{(node.Image is null ? string.Empty : ", " + node.Image)}): namespace {netns}");
    }

    private async Task AddLinkAsync(ClabLink link)
    {
        // The reader refuses bridge-to-bridge links: at most one end is a bridge, and it goes second.
        var (end, other) = Topology.Node(link.A.Node).Role == ClabRole.Bridge ? (link.B, link.A) : (link.A, link.B);
        var bridge = Topology.Node(other.Node).Role == ClabRole.Bridge ? other.Node : null;
        await IpAsync("link", "add", end.Interface, "netns", NamespaceOf(end.Node), "type", "veth", "peer", "name", other.Interface, "netns", NamespaceOf(other.Node));
        await IpAsync("-n", NamespaceOf(end.Node), "link", "set", end.Interface, "up");
        await IpAsync(["-n", NamespaceOf(other.Node), "link", "set", other.Interface, .. bridge is null ? (string[])[] : ["master", bridge], "up"]);
        Log($"link {link.A} <-> {link.B}");
    }

    /// <summary>Runs the node's exec lines in its namespace, in order, with its env; the first that fails stops the lab.</summary>
    private async Task RunExecAsync(ClabNode node)
    {
        foreach (var words in node.Exec)
        {
            var line = string.Join(' ', words);
            var result = await Command.RunAsync("ip", ["netns", "exec", NamespaceOf(node.Name), "env", .. node.Env.Select(e => $"{e.Key}={e.Value}"), .. words]);
            if (!result.Succeeded)
            {
                throw new InvalidOperationException($"{Topology.File}: node {node.Name}: exec '{line}' exited with {result.ExitCode}: {result.StandardError.Trim()}");
            }

            Log($"{node.Name}: exec {line}");
        }
    }

    private async Task StartProgramAsync(ClabNode node)
    {
        var netns = NamespaceOf(node.Name);
        switch (node.Role)
        {
            case ClabRole.Frr:
                var daemonsFile = node.HostPathOf(ClabTopology.FrrDaemons);
                var daemons = daemonsFile is null ? [] : FrrRouter.EnabledDaemons(await File.ReadAllTextAsync(daemonsFile));
                _routers[node.Name] = await FrrRouter.StartIntegratedAsync(this, netns, node.Name, node.HostPathOf(ClabTopology.FrrConfig)!, daemons);
                Log($"{node.Name}: FRR (zebra, staticd{string.Concat(daemons.Select(d => ", " + d))}) with {node.HostPathOf(ClabTopology.FrrConfig)}");
                break;
            case ClabRole.Bird:
                _routers[node.Name] = await BirdRouter.StartWithConfigAsync(this, netns, node.Name, node.HostPathOf(ClabTopology.BirdConfig)!);
                Log($"{node.Name}: BIRD with {node.HostPathOf(ClabTopology.BirdConfig)}");
                break;
            case ClabRole.Speaker:
                var speaker = await SpeakerProcess.StartWithArgumentsAsync(this, netns, node.Name, node.SpeakerNodeName!, MetricsPort(node), node.Arguments, node.Env);
                _speakers[node.Name] = speaker;
                Log($"{node.Name}: {speaker}: {string.Join(' ', [.. node.Env.Select(e => $"{e.Key}={e.Value}"), "bgplb-speaker", .. node.Arguments])}");
                break;
        }
    }

    /// <summary>The port of the speaker's --metrics-listen (or BGPLB_METRICS_LISTEN), by default 7474.</summary>
    private static int MetricsPort(ClabNode node) =>
        (node.FlagValue("--metrics-listen") ?? node.Env.GetValueOrDefault("BGPLB_METRICS_LISTEN")) is { } listen
            ? int.Parse(listen[(listen.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture)
            : DefaultMetricsPort;

    private static List<string> Sorted(IEnumerable<IPAddress> addresses) => [.. addresses.Select(a => a.ToString()).Order(StringComparer.Ordinal)];

    private static async Task IpAsync(params string[] arguments) => (await Command.RunAsync("ip", arguments)).EnsureSuccess();
}
