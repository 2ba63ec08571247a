using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace BgpLb.Netlab;

/// <summary>
/// BIRD 2 (<c>bird -f -c CONF -s SOCK</c>, one control socket per instance). BGP routes go to the namespace's kernel
/// table with <c>merge paths on</c>, so equal paths from several speakers become one ECMP route. Static routes a test
/// adds to the kernel table are learnt, so that multihop next hops resolve.
/// </summary>
public sealed class BirdRouter : Router
{
    private readonly string? _configFile;
    private NetnsProcess? _process;

    public BirdRouter(NetnsLab lab, string netns, string name, RouterOptions options)
        : this(lab, netns, name, options, configFile: null)
    {
    }

    private BirdRouter(NetnsLab lab, string netns, string name, RouterOptions? options, string? configFile)
        : base(lab, netns, name, options)
    {
        ControlSocket = Path.Combine(lab.Directory, name + ".bird.ctl");
        _configFile = configFile;
    }

    /// <summary>BIRD with a given configuration file (the lab's control socket all the same).</summary>
    public static Task<BirdRouter> StartWithConfigAsync(NetnsLab lab, string netns, string name, string configFile) =>
        Started(new BirdRouter(lab, netns, name, options: null, configFile));

    public override RouterKind Kind => RouterKind.Bird;

    public string ControlSocket { get; }

    public override IReadOnlyList<NetnsProcess> Processes => _process is null ? [] : [_process];

    /// <summary>BIRD protocol name of the session with <paramref name="neighbour"/>.</summary>
    public static string ProtocolName(IPAddress neighbour) =>
        "peer_" + neighbour.ToString().Replace('.', '_').Replace(':', '_');

    public static string RenderConfig(RouterOptions options)
    {
        var config = new StringBuilder();
        config.AppendLine(CultureInfo.InvariantCulture, $$"""
            log stderr all;
            router id {{options.RouterId}};
            protocol device { scan time 1; }
            protocol kernel kernel4 { ipv4 { import all; export where source = RTS_BGP; }; learn; merge paths on; }
            protocol kernel kernel6 { ipv6 { import all; export where source = RTS_BGP; }; learn; merge paths on; }
            """);
        foreach (var family in (AddressFamily[])[AddressFamily.InterNetwork, AddressFamily.InterNetworkV6])
        {
            var routes = options.Advertise.Where(r => r.Family == family).ToList();
            if (routes.Count == 0)
            {
                continue;
            }

            config.AppendLine(CultureInfo.InvariantCulture, $"protocol static originate{ChannelName(family)} {{ {ChannelName(family)};");
            foreach (var route in routes)
            {
                var attributes = string.Concat(
                    route.Communities.Select(c => $" bgp_community.add(({c.Replace(':', ',')}));")
                        .Concat(route.LargeCommunities.Select(c => $" bgp_large_community.add(({c.Replace(':', ',')}));")));
                config.AppendLine(CultureInfo.InvariantCulture, $"  route {route.Prefix} blackhole{(attributes.Length == 0 ? string.Empty : " {" + attributes + " }")};");
            }

            config.AppendLine("}");
        }

        if (options.BfdNeighbors.Count > 0)
        {
            config.AppendLine("protocol bfd bfd1 {");
            foreach (var neighbour in options.BfdNeighbors)
            {
                config.AppendLine(CultureInfo.InvariantCulture,
                    $"  neighbor {neighbour.Address} local {neighbour.Local}{(neighbour.Multihop ? " multihop yes" : string.Empty)};");
            }

            // BIRD takes timers per interface pattern (single-hop) and in one multihop block; the first neighbour's apply.
            var first = options.BfdNeighbors[0];
            var timers = $"min rx interval {first.MinRxMilliseconds} ms; min tx interval {first.MinTxMilliseconds} ms; idle tx interval 1000 ms; multiplier {first.Multiplier};";
            config.AppendLine(CultureInfo.InvariantCulture, $"  interface \"*\" {{ {timers} }};");
            config.AppendLine(CultureInfo.InvariantCulture, $"  multihop {{ {timers} }};");
            config.AppendLine("}");
        }

        foreach (var neighbour in options.Neighbors)
        {
            var internalSession = neighbour.RemoteAs == options.LocalAs;
            config.AppendLine(CultureInfo.InvariantCulture, $"protocol bgp {ProtocolName(neighbour.Address)} {{");
            config.AppendLine(CultureInfo.InvariantCulture, $"  local {neighbour.LocalAddress?.ToString() ?? string.Empty} as {options.LocalAs};");
            config.AppendLine(CultureInfo.InvariantCulture, $"  neighbor {neighbour.Address} as {neighbour.RemoteAs};");
            config.AppendLine(CultureInfo.InvariantCulture, $"  hold time {neighbour.HoldTime}; keepalive time {Math.Max(1, neighbour.HoldTime / 3)};");
            // Fast retries for tests (defaults: error wait 60-300 s, connect delay 5 s, connect retry 120 s).
            config.AppendLine("  error wait time 1, 5; connect delay time 1; connect retry time 2;");
            if (neighbour.Passive)
            {
                config.AppendLine("  passive on;");
            }

            if (neighbour.Password is not null)
            {
                config.AppendLine(CultureInfo.InvariantCulture, $"  password \"{neighbour.Password}\";");
            }

            if (neighbour.Bfd)
            {
                config.AppendLine(neighbour.BfdGraceful ? "  bfd graceful;" : "  bfd on;");
            }

            if (neighbour.Bfd && neighbour.Multihop is not null && neighbour.LocalAddress is null)
            {
                throw new ArgumentException($"BIRD needs the local address of multihop BGP with BFD (neighbour {neighbour.Address})");
            }

            if (neighbour.Multihop is { } ttl)
            {
                config.AppendLine(CultureInfo.InvariantCulture, $"  multihop {ttl};");
            }
            else if (internalSession)
            {
                // iBGP defaults to multihop with recursive next hops; lab peers share a link.
                config.AppendLine("  direct;");
            }

            // eBGP in BIRD needs explicit import and export filters.
            foreach (var family in neighbour.Families)
            {
                config.AppendLine(CultureInfo.InvariantCulture,
                    $"  {ChannelName(family)} {{ import all; export where source = RTS_STATIC; next hop self; }};");
            }

            config.AppendLine("}");
        }

        return config.ToString();
    }

    public override async Task<IReadOnlyList<RouterRoute>> GetRoutesAsync() =>
        BirdOutput.ParseRoutes(await BirdcAsync("show", "route", "all"));

    public override async Task<PeerState> GetPeerStateAsync(IPAddress neighbour) =>
        BirdOutput.ParsePeerState(await BirdcAsync("show", "protocols", "all", ProtocolName(neighbour)));

    /// <summary><c>show bfd sessions</c>: "ADDRESS IFACE STATE SINCE INTERVAL TIMEOUT", times in seconds.</summary>
    public override async Task<RouterBfdSession?> GetBfdSessionAsync(IPAddress neighbour)
    {
        foreach (var line in (await BirdcAsync("show", "bfd", "sessions")).Split('\n'))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 6 && fields[0] == neighbour.ToString())
                return new RouterBfdSession(fields[2].ToLowerInvariant(), Seconds(fields[^2]) * 1000, Seconds(fields[^1]) * 1000);
        }
        return null;

        static double Seconds(string text) => double.Parse(text, CultureInfo.InvariantCulture);
    }

    /// <summary>Disables the whole <c>protocol bfd</c> (BIRD has no per-neighbour switch).</summary>
    public override Task StopBfdAsync(IPAddress neighbour) => BirdcAsync("disable", "bfd1");

    /// <summary>Number of routes in BIRD's tables (<c>show route count</c>).</summary>
    public async Task<long> GetRouteCountAsync() => BirdOutput.ParseRouteCount(await BirdcAsync("show", "route", "count"));

    /// <summary>
    /// Waits until BIRD has logged a line about <paramref name="neighbour"/>'s protocol that contains <paramref name="text"/>
    /// and returns it. The log is the record of a NOTIFICATION received: the "Last error" of <see cref="GetPeerStateAsync"/>
    /// moves on to the next connect attempt's error (with the lab's retry times, a second later).
    /// </summary>
    public async Task<string> WaitForLogLineAsync(IPAddress neighbour, string text, TimeSpan timeout)
    {
        var protocol = ProtocolName(neighbour) + ": ";
        var line = await Wait.ForAsync($"BIRD to log \"{text}\" for {neighbour}", timeout,
            () => Task.FromResult(BgpProcess.ReadOutput().Split('\n').FirstOrDefault(l => l.Contains(protocol, StringComparison.Ordinal) && l.Contains(text, StringComparison.Ordinal))),
            line => line is not null, _ => "no such line");
        return line!;
    }

    protected override IEnumerable<string[]> StateCommands =>
    [
        ["birdc", "-s", ControlSocket, "show", "protocols", "all"],
        ["birdc", "-s", ControlSocket, "show", "route", "all"],
    ];

    public async Task<string> BirdcAsync(params string[] arguments) =>
        (await Command.RunAsync("birdc", ["-s", ControlSocket, .. arguments])).EnsureSuccess().StandardOutput;

    protected override async Task StartAsync()
    {
        var config = _configFile ?? Lab.WriteFile(Name + ".bird.conf", RenderConfig(Options));
        _process = await Lab.StartProcessAsync(Namespace, Name + ".bird", "bird", "-f", "-c", config, "-s", ControlSocket);
        await _process.WaitUntilReadyAsync("control socket", TimeSpan.FromSeconds(10), async () =>
            File.Exists(ControlSocket) && (await Command.RunAsync("birdc", "-s", ControlSocket, "show", "status")).Succeeded);
    }

    private static string ChannelName(AddressFamily family) => family == AddressFamily.InterNetworkV6 ? "ipv6" : "ipv4";
}
