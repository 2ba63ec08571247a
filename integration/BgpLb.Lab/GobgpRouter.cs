using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace BgpLb.Netlab;

/// <summary>
/// GoBGP 3 (<c>gobgpd -f CONF.toml --api-hosts 127.0.0.1:PORT</c>). Its gRPC API listens on the namespace's own loopback,
/// so the <c>gobgp</c> CLI runs inside the namespace too. No zebra: assertions use GoBGP's RIB, not the kernel.
/// Originated routes are added through the API once the daemon is up.
/// </summary>
public sealed class GobgpRouter : Router
{
    public const int DefaultApiPort = 50051;
    private NetnsProcess? _process;

    public GobgpRouter(NetnsLab lab, string netns, string name, RouterOptions options, int apiPort = DefaultApiPort)
        : base(lab, netns, name, options)
    {
        ApiPort = apiPort;
    }

    public override RouterKind Kind => RouterKind.Gobgp;

    public int ApiPort { get; }

    public override IReadOnlyList<NetnsProcess> Processes => _process is null ? [] : [_process];

    public static string RenderConfig(RouterOptions options)
    {
        var config = new StringBuilder();
        config.AppendLine(CultureInfo.InvariantCulture, $"""
            [global.config]
              as = {options.LocalAs}
              router-id = "{options.RouterId}"
            """);
        foreach (var neighbour in options.Neighbors)
        {
            config.AppendLine(CultureInfo.InvariantCulture, $"""
                [[neighbors]]
                  [neighbors.config]
                    neighbor-address = "{neighbour.Address}"
                    peer-as = {neighbour.RemoteAs}
                """);
            if (neighbour.Password is not null)
            {
                config.AppendLine(CultureInfo.InvariantCulture, $"    auth-password = \"{neighbour.Password}\"");
            }

            config.AppendLine(CultureInfo.InvariantCulture, $"""
                  [neighbors.timers.config]
                    hold-time = {neighbour.HoldTime}
                    keepalive-interval = {Math.Max(1, neighbour.HoldTime / 3)}
                    connect-retry = 1
                    idle-hold-time-after-reset = 1
                  [neighbors.transport.config]
                    passive-mode = {(neighbour.Passive ? "true" : "false")}
                """);
            if (neighbour.LocalAddress is { } local)
            {
                config.AppendLine(CultureInfo.InvariantCulture, $"    local-address = \"{local}\"");
            }

            if (neighbour.Multihop is { } ttl)
            {
                config.AppendLine(CultureInfo.InvariantCulture, $"""
                      [neighbors.ebgp-multihop.config]
                        enabled = true
                        multihop-ttl = {ttl}
                    """);
            }

            foreach (var family in neighbour.Families)
            {
                config.AppendLine(CultureInfo.InvariantCulture, $"""
                      [[neighbors.afi-safis]]
                        [neighbors.afi-safis.config]
                          afi-safi-name = "{(family == AddressFamily.InterNetworkV6 ? "ipv6-unicast" : "ipv4-unicast")}"
                    """);
            }
        }

        return config.ToString();
    }

    public override async Task<IReadOnlyList<RouterRoute>> GetRoutesAsync() =>
    [
        .. GobgpOutput.ParseRoutes(await GobgpAsync("global", "rib", "-a", "ipv4", "-j")),
        .. GobgpOutput.ParseRoutes(await GobgpAsync("global", "rib", "-a", "ipv6", "-j")),
    ];

    public override async Task<PeerState> GetPeerStateAsync(IPAddress neighbour) =>
        GobgpOutput.ParsePeerState(await GobgpAsync("neighbor", neighbour.ToString(), "-j"));

    protected override IEnumerable<string[]> StateCommands =>
        from arguments in (string[][])[["neighbor"], ["global", "rib"], ["global", "rib", "-a", "ipv6"]]
        select (string[])["ip", "netns", "exec", Namespace, "gobgp", "--port", ApiPort.ToString(CultureInfo.InvariantCulture), .. arguments];

    /// <summary>Runs the gobgp CLI in the router's namespace against this daemon's API.</summary>
    public async Task<string> GobgpAsync(params string[] arguments) =>
        (await Command.InNamespaceAsync(Namespace, "gobgp", ["--port", ApiPort.ToString(CultureInfo.InvariantCulture), .. arguments])).EnsureSuccess().StandardOutput;

    protected override async Task StartAsync()
    {
        var config = Lab.WriteFile(Name + ".gobgp.toml", RenderConfig(Options));
        _process = await Lab.StartProcessAsync(
            Namespace, Name + ".gobgpd", "gobgpd", "-f", config, "--api-hosts", $"127.0.0.1:{ApiPort}", "--log-plain", "--pprof-disable");
        await _process.WaitUntilReadyAsync("gRPC API", TimeSpan.FromSeconds(10), async () =>
            (await Command.InNamespaceAsync(Namespace, "gobgp", "--port", ApiPort.ToString(CultureInfo.InvariantCulture), "global", "-j")).Succeeded);
        foreach (var route in Options.Advertise)
        {
            var arguments = new List<string> { "global", "rib", "add", "-a", route.Family == AddressFamily.InterNetworkV6 ? "ipv6" : "ipv4", route.Prefix };
            if (route.Communities.Count > 0)
            {
                arguments.AddRange(["community", string.Join(',', route.Communities)]);
            }

            if (route.LargeCommunities.Count > 0)
            {
                arguments.AddRange(["large-community", string.Join(',', route.LargeCommunities)]);
            }

            await GobgpAsync([.. arguments]);
        }
    }
}

/// <summary>Parsers for the gobgp CLI's JSON output (GoBGP 3).</summary>
public static class GobgpOutput
{
    private const int AsPathAttribute = 2;
    private const int NextHopAttribute = 3;
    private const int LocalPreferenceAttribute = 5;
    private const int CommunitiesAttribute = 8;
    private const int MpReachAttribute = 14;
    private const int LargeCommunitiesAttribute = 32;

    /// <summary>Parses <c>gobgp global rib -a FAMILY -j</c>: prefix → paths, each with numbered path attributes.</summary>
    public static IReadOnlyList<RouterRoute> ParseRoutes(string json)
    {
        var routes = new List<RouterRoute>();
        if (string.IsNullOrWhiteSpace(json))
        {
            return routes;
        }

        using var document = JsonDocument.Parse(json);
        foreach (var network in document.RootElement.EnumerateObject())
        {
            foreach (var path in network.Value.EnumerateArray())
            {
                var nextHops = new List<IPAddress>();
                var communities = new List<string>();
                var large = new List<string>();
                var asPath = new List<uint>();
                uint? localPreference = null;
                foreach (var attribute in path.GetProperty("attrs").EnumerateArray())
                {
                    switch (attribute.GetProperty("type").GetInt32())
                    {
                        case AsPathAttribute when attribute.TryGetProperty("as_paths", out var segments):
                            asPath.AddRange(segments.EnumerateArray().SelectMany(s => s.GetProperty("asns").EnumerateArray()).Select(a => a.GetUInt32()));
                            break;
                        case NextHopAttribute:
                        case MpReachAttribute:
                            nextHops.Add(IPAddress.Parse(attribute.GetProperty("nexthop").GetString()!));
                            break;
                        case LocalPreferenceAttribute:
                            localPreference = attribute.GetProperty("value").GetUInt32();
                            break;
                        case CommunitiesAttribute:
                            communities.AddRange(attribute.GetProperty("communities").EnumerateArray()
                                .Select(c => c.GetUInt32())
                                .Select(c => $"{c >> 16}:{c & 0xFFFF}"));
                            break;
                        case LargeCommunitiesAttribute:
                            large.AddRange(attribute.GetProperty("value").EnumerateArray()
                                .Select(c => $"{c.GetProperty("ASN").GetUInt32()}:{c.GetProperty("LocalData1").GetUInt32()}:{c.GetProperty("LocalData2").GetUInt32()}"));
                            break;
                        default:
                            break;
                    }
                }

                routes.Add(new RouterRoute(network.Name, nextHops, communities, large, localPreference, asPath));
            }
        }

        return routes;
    }

    /// <summary>Parses <c>gobgp neighbor ADDRESS -j</c>; session_state 6 is ESTABLISHED in GoBGP's API.</summary>
    public static PeerState ParsePeerState(string json)
    {
        using var document = JsonDocument.Parse(json);
        var state = document.RootElement.GetProperty("state");
        var sessionState = state.TryGetProperty("session_state", out var value) ? value.GetInt32() : 0;
        string[] names = ["unknown", "idle", "connect", "active", "opensent", "openconfirm", "established"];
        var name = sessionState >= 0 && sessionState < names.Length ? names[sessionState] : sessionState.ToString(CultureInfo.InvariantCulture);
        return new PeerState(sessionState == 6, name, null);
    }
}
