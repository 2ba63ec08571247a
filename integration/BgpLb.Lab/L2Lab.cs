using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace BgpLb.Netlab;

/// <summary>A speaker node of an <see cref="L2Lab"/>: eth0 on br0 and, with a second segment, eth1 on br1.</summary>
public sealed record L2Node(string Role, string NodeName, string Namespace, IPAddress InternalIP, string Mac, string? Mac1);

/// <summary>
/// An L2 lab: a bridge namespace <c>bgplb-l2-br</c> (bridges br0 and, optionally, br1), a client namespace
/// <c>bgplb-l2-client</c> and speaker namespaces <c>bgplb-l2-sN</c>, each with eth0 on br0 (198.18.20.0/24, client .1,
/// node-N .10+N) and optionally eth1 on br1 (198.18.21.0/24). The client routes 203.0.113.0/24 on-link, so its kernel
/// ARPs for Service addresses. Same teardown and leak check as <see cref="Lab"/> (<see cref="NetnsLab"/>).
/// </summary>
public sealed partial class L2Lab : NetnsLab
{
    public const string Name = "l2";
    public const string ClientRole = "client";
    private const string BridgeRole = "br";

    private string? _memberlistSecretFile;
    private readonly bool _secondSegment;
    private readonly List<L2Node> _nodes = [];
    private readonly List<SpeakerProcess> _speakers = [];

    private L2Lab(bool secondSegment, Action<string>? output)
        : base(Name, output)
    {
        _secondSegment = secondSegment;
        BridgeNamespace = NamespaceName(Name, BridgeRole);
        ClientNamespace = NamespaceName(Name, ClientRole);
    }

    public string BridgeNamespace { get; }

    public string ClientNamespace { get; }

    /// <summary>node-1..node-N, in that order.</summary>
    public IReadOnlyList<L2Node> Nodes => _nodes;

    /// <summary>The speakers started by <see cref="StartSpeakersAsync"/>, one per node, in the order of <see cref="Nodes"/>.</summary>
    public IReadOnlyList<SpeakerProcess> Speakers => _speakers;

    /// <summary>The config directory <see cref="WriteConfigAsync"/> writes.</summary>
    public string ConfigDirectory => Path.Combine(Directory, "config");

    /// <summary>Creates the bridge, the client and <paramref name="speakers"/> speaker namespaces (node-1..node-N), after removing leftovers.</summary>
    public static async Task<L2Lab> CreateAsync(int speakers, bool secondSegment = false, Action<string>? output = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(speakers);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(speakers, 100);
        var lab = new L2Lab(secondSegment, output);
        try
        {
            await SweepLeftoversAsync(Name, "br|client|observer|s[0-9]+");
            await lab.AddNamespaceAsync(BridgeRole);
            foreach (var bridge in secondSegment ? (string[])["br0", "br1"] : ["br0"])
            {
                await IpAsync("-n", lab.BridgeNamespace, "link", "add", bridge, "type", "bridge");
                await IpAsync("-n", lab.BridgeNamespace, "link", "set", bridge, "up");
            }

            await lab.AddHostAsync(ClientRole, 1);
            await IpAsync("-n", lab.ClientNamespace, "route", "add", "203.0.113.0/24", "dev", "eth0");
            for (var i = 1; i <= speakers; i++)
            {
                var role = "s" + i.ToString(CultureInfo.InvariantCulture);
                var netns = await lab.AddHostAsync(role, 10 + i);
                lab._nodes.Add(new L2Node(
                    role,
                    "node-" + i.ToString(CultureInfo.InvariantCulture),
                    netns,
                    IPAddress.Parse($"198.18.20.{10 + i}"),
                    await MacOfAsync(netns, "eth0"),
                    secondSegment ? await MacOfAsync(netns, "eth1") : null));
            }
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }

        return lab;
    }

    /// <summary>Adds a plain host (no speaker) <c>bgplb-l2-ROLE</c> on the bridge(s) with host number <paramref name="hostNumber"/>.</summary>
    public async Task<string> AddHostAsync(string role, int hostNumber)
    {
        var netns = await AddNamespaceAsync(role);
        await SysctlAsync(netns, "net.ipv6.conf.all.accept_dad", "0");
        await SysctlAsync(netns, "net.ipv6.conf.default.accept_dad", "0");
        for (var segment = 0; segment < (_secondSegment ? 2 : 1); segment++)
        {
            var port = $"{role}-{segment}";
            var device = $"eth{segment}";
            await IpAsync("link", "add", device, "netns", netns, "type", "veth", "peer", "name", port, "netns", BridgeNamespace);
            await IpAsync("-n", BridgeNamespace, "link", "set", port, "master", $"br{segment}", "up");
            await IpAsync("-n", netns, "addr", "add", $"198.18.{20 + segment}.{hostNumber}/24", "dev", device);
            await IpAsync("-n", netns, "link", "set", device, "up");
        }

        return netns;
    }

    /// <summary>Writes the config shared by all speakers into <see cref="ConfigDirectory"/>: <paramref name="resources"/> plus a Node per speaker.</summary>
    public async Task WriteConfigAsync(string resources)
    {
        var nodes = string.Concat(_nodes.Select(n => $$"""
            ---
            apiVersion: v1
            kind: Node
            metadata: { name: {{n.NodeName}} }
            status: { addresses: [{ type: InternalIP, address: {{n.InternalIP}} }] }

            """));
        System.IO.Directory.CreateDirectory(ConfigDirectory);
        await File.WriteAllTextAsync(Path.Combine(ConfigDirectory, "lab.yaml"), resources + nodes);
    }

    /// <summary>Starts bgplb-speaker on every node with <paramref name="configDirectory"/> (default <see cref="ConfigDirectory"/>).</summary>
    public async Task StartSpeakersAsync(string? configDirectory = null, string logLevel = "debug")
    {
        foreach (var node in _nodes)
        {
            _speakers.Add(await SpeakerProcess.StartAsync(
                this, node.Namespace, "speaker-" + node.Role, node.NodeName, configDirectory ?? ConfigDirectory, bgpListen: "0.0.0.0:0", logLevel: logLevel,
                memberlistSecretFile: MemberlistSecretFile));
        }
    }

    /// <summary>The speakers' shared liveness key, fresh for every lab (a file as an operator or a mounted Secret provides it).</summary>
    public string MemberlistSecretFile => _memberlistSecretFile ??= WriteFile("memberlist.key", Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)) + "\n");

    public SpeakerProcess SpeakerOf(L2Node node) => _speakers[_nodes.IndexOf(node)];

    /// <summary>The node whose eth0 has <paramref name="mac"/>, or null (e.g. another host answers).</summary>
    public L2Node? NodeWithMac(string? mac) => _nodes.FirstOrDefault(n => n.Mac == mac);

    /// <summary>arping from a host of this lab (by role): the MACs that answered, lowercase (empty when nobody did).</summary>
    public async Task<IReadOnlyList<string>> ArpingAsync(string role, string device, string address, int count = 1)
    {
        var result = await Command.InNamespaceAsync(NamespaceName(TestName, role), "arping", "-c", count.ToString(CultureInfo.InvariantCulture), "-W", "0.2", "-i", device, address);
        return [.. ArpingReply().Matches(result.StandardOutput).Select(m => m.Groups[1].Value.ToLowerInvariant())];
    }

    /// <summary>ndisc6 from a host of this lab (by role): the target link-layer address, lowercase, or null.</summary>
    public async Task<string?> NdiscAsync(string role, string device, string address)
    {
        var result = await Command.InNamespaceAsync(NamespaceName(TestName, role), "ndisc6", "-1", "-r", "1", "-w", "500", address, device);
        var match = NdiscReply().Match(result.StandardOutput);
        return match.Success ? match.Groups[1].Value.ToLowerInvariant() : null;
    }

    /// <summary>The client kernel's neighbour entry for <paramref name="address"/> on eth0 (its MAC), or null.</summary>
    public async Task<string?> ClientNeighbourAsync(string address)
    {
        var result = await Command.RunAsync("ip", "-n", ClientNamespace, "neigh", "show", address, "dev", "eth0");
        var match = NeighbourMac().Match(result.StandardOutput);
        return match.Success ? match.Groups[1].Value : null;
    }

    /// <summary>Makes the client's kernel resolve <paramref name="address"/> by sending it one UDP datagram.</summary>
    public Task ResolveFromClientAsync(string address) =>
        Command.InNamespaceAsync(ClientNamespace, "bash", "-c", $"echo > /dev/udp/{address}/9");

    public static async Task<string> MacOfAsync(string netns, string device) =>
        (await Command.InNamespaceAsync(netns, "cat", $"/sys/class/net/{device}/address")).EnsureSuccess().StandardOutput.Trim();

    private static async Task IpAsync(params string[] arguments) => (await Command.RunAsync("ip", arguments)).EnsureSuccess();

    [GeneratedRegex(@"bytes from ([0-9a-fA-F:]{17}) ", RegexOptions.CultureInvariant)]
    private static partial Regex ArpingReply();

    [GeneratedRegex(@"Target link-layer address: ([0-9A-Fa-f:]{17})", RegexOptions.CultureInvariant)]
    private static partial Regex NdiscReply();

    [GeneratedRegex(@"lladdr ([0-9a-f:]{17})", RegexOptions.CultureInvariant)]
    private static partial Regex NeighbourMac();
}
