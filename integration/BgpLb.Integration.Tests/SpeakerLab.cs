using System.Globalization;
using System.Net;
using System.Text.Json;
using BgpLb.Netlab;

namespace BgpLb.Integration.Tests;

/// <summary>
/// Building blocks of the speaker scenarios: the lab router with one session per node (IPv4, optionally IPv6), and a
/// config directory per node with the node's Node and BGPPeer documents in peers.yaml and the Services in services.yaml.
/// </summary>
internal static class SpeakerLab
{
    public const uint RouterAs = 64512;
    public const uint SpeakerAs = 64513;
    public static readonly TimeSpan SessionTimeout = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan RouteTimeout = TimeSpan.FromSeconds(30);
    public static readonly IPAddress Service4 = IPAddress.Parse("203.0.113.10");
    public static readonly IPAddress Service6 = IPAddress.Parse("2001:db8:100::10");

    /// <summary>The lab router with a session per node on its IPv4 link (both families with <paramref name="multiprotocol"/>) and, with <paramref name="ipv6"/>, its IPv6 link.</summary>
    public static Task<Router> StartRouterAsync(
        RouterKind kind, Lab lab, uint speakerAs, bool ipv6 = false, int holdTime = 3, string? password = null, bool multiprotocol = false) =>
        Router.StartAsync(kind, lab, lab.RouterNamespace, "router", lab.RouterOptionsFor(speakerAs, ipv6, holdTime, password, multiprotocol));

    public static string NodeName(Lab lab, LabNode node) => "node" + (lab.Nodes.ToList().IndexOf(node) + 1).ToString(CultureInfo.InvariantCulture);

    public static string ConfigDirectory(Lab lab, LabNode node) => Path.Combine(lab.Directory, "config-" + node.Role);

    /// <summary>
    /// The node, an address pool for both families and an IPv4 BGPPeer towards the router with a 3 s hold time; with
    /// <paramref name="bfd"/> the peer uses a BFDProfile of 100 ms x 3.
    /// </summary>
    public static List<string> PeerDocuments(
        Lab lab, LabNode node, uint speakerAs, string holdTime = "3s", string? password = null, string? passwordSecret = null, bool gracefulRestart = false,
        bool bfd = false) =>
    [
        MetalLbManifests.Node(NodeName(lab, node), node.Address),
        MetalLbManifests.IpAddressPool("pool", "203.0.113.0/24", "2001:db8:100::/64"),
        .. bfd ? [BfdTimers.Fast.Profile("fast")] : Array.Empty<string>(),
        MetalLbManifests.BgpPeer("router", speakerAs, RouterAs, node.RouterAddress, holdTime: holdTime, password: password, passwordSecret: passwordSecret,
            gracefulRestart: gracefulRestart, bfdProfile: bfd ? "fast" : null),
        MetalLbManifests.BgpAdvertisement("adv", ["pool"], communities: ["64513:100", "large:64513:1:2"]),
    ];

    /// <summary>A Cluster-policy Service on <see cref="Service4"/> with a ready endpoint on every node.</summary>
    public static List<string> WebService(Lab lab) =>
    [
        MetalLbManifests.Service("web", Service4),
        .. lab.Nodes.Select(n => MetalLbManifests.EndpointSlice("web", NodeName(lab, n), IPAddress.Parse("10.0.0.5"))),
    ];

    /// <summary>Writes peers.yaml and services.yaml for every node and starts one speaker per node.</summary>
    public static async Task<List<SpeakerProcess>> StartSpeakersAsync(
        Lab lab, Func<LabNode, IEnumerable<string>> peers, IEnumerable<string> services, IEnumerable<LabNode>? nodes = null)
    {
        var serviceDocuments = services.ToList();
        var speakers = new List<SpeakerProcess>();
        foreach (var node in nodes ?? lab.Nodes)
        {
            var directory = ConfigDirectory(lab, node);
            MetalLbManifests.Write(directory, "peers.yaml", peers(node));
            MetalLbManifests.Write(directory, "services.yaml", serviceDocuments);
            speakers.Add(await SpeakerProcess.StartAsync(lab, node, NodeName(lab, node), directory));
        }

        return speakers;
    }

    /// <summary>Replaces a config file in one step (rename), so the speaker never reads a half-written file.</summary>
    public static void Rewrite(Lab lab, LabNode node, string fileName, IEnumerable<string> documents)
    {
        var staging = MetalLbManifests.Write(Path.Combine(lab.Directory, "staging"), fileName, documents);
        File.Move(staging, Path.Combine(ConfigDirectory(lab, node), fileName), overwrite: true);
    }

    /// <summary>Which coming-up of the router's session with <paramref name="neighbour"/> this is (<see cref="SessionIncarnation"/>).</summary>
    public static async Task<SessionIncarnation> SessionIncarnationAsync(Router router, IPAddress neighbour)
    {
        switch (router)
        {
            case BirdRouter bird:
                var line = (await bird.BirdcAsync("show", "protocols", BirdRouter.ProtocolName(neighbour)))
                    .Split('\n').Single(l => l.StartsWith(BirdRouter.ProtocolName(neighbour) + " ", StringComparison.Ordinal));
                var columns = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return new SessionIncarnation(columns[3], columns[3] == "up", Since: columns[4], Connections: null);
            case FrrRouter frr:
                using (var document = JsonDocument.Parse(await frr.VtyshAsync($"show bgp neighbors {neighbour} json")))
                {
                    var peer = document.RootElement.GetProperty(neighbour.ToString());
                    var state = peer.GetProperty("bgpState").GetString()!;
                    return new SessionIncarnation(state, state == "Established", Since: null, peer.GetProperty("connectionsEstablished").GetInt32());
                }

            default:
                throw new NotSupportedException($"no session incarnation for {router.Kind}");
        }
    }

    /// <summary>The next hops of all paths the router has for <paramref name="prefix"/>, sorted.</summary>
    public static async Task<List<string>> PathNextHopsAsync(Router router, string prefix) =>
        [.. (await router.GetRoutesAsync()).Where(r => r.Prefix == prefix).SelectMany(r => r.NextHops).Select(a => a.ToString()).Order()];

    /// <summary>Resident set size of a process in KiB (/proc/PID/status VmRSS).</summary>
    public static long ResidentKiB(int pid) =>
        long.Parse(
            File.ReadLines($"/proc/{pid}/status").Single(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))["VmRSS:".Length..].Trim().Split(' ')[0],
            CultureInfo.InvariantCulture);
}

/// <summary>
/// A value that changes whenever the router brings the session up again: BIRD's "since" time of the protocol, FRR's
/// count of established connections. Equal before and after a change means the session was not reset.
/// </summary>
public sealed record SessionIncarnation(string State, bool Established, string? Since, int? Connections)
{
    // BIRD derives "since" from its monotonic clock at each query: the same session shows it a millisecond or so apart.
    private static readonly TimeSpan SinceJitter = TimeSpan.FromMilliseconds(20);

    public bool Equals(SessionIncarnation? other) =>
        other is not null && State == other.State && Connections == other.Connections && SameSince(Since, other.Since);

    public override int GetHashCode() => HashCode.Combine(State, Connections);

    private static bool SameSince(string? a, string? b) =>
        TimeSpan.TryParse(a, CultureInfo.InvariantCulture, out var x) && TimeSpan.TryParse(b, CultureInfo.InvariantCulture, out var y)
            ? (x - y).Duration() <= SinceJitter
            : a == b;
}
