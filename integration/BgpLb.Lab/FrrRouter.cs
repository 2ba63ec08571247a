using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace BgpLb.Netlab;

/// <summary>
/// FRR 8: zebra (installs multipath routes in the namespace's kernel table) and bgpd, both in the foreground with the
/// pathspace <c>-N NAMESPACE</c> (sockets in /run/frr/NAMESPACE, owned by frr:frr); queried with <c>vtysh -N</c>.
/// One FRR instance per namespace. The configuration is generated from <see cref="RouterOptions"/>, or an integrated
/// frr.conf is applied (<see cref="StartIntegratedAsync"/>).
/// </summary>
public sealed class FrrRouter : Router
{
    private const string Daemons = "/usr/lib/frr";
    private readonly List<NetnsProcess> _processes = [];

    private readonly (string Config, IReadOnlyList<string> Daemons)? _integratedConfig;

    public FrrRouter(NetnsLab lab, string netns, string name, RouterOptions options)
        : base(lab, netns, name, options)
    {
    }

    private FrrRouter(NetnsLab lab, string netns, string name, string integratedConfig, IReadOnlyList<string> daemons)
        : base(lab, netns, name, options: null)
    {
        _integratedConfig = (integratedConfig, daemons);
    }

    /// <summary>
    /// FRR as the frrouting/frr image runs it: zebra, staticd and <paramref name="daemons"/> (<see cref="EnabledDaemons"/>),
    /// then the integrated configuration <paramref name="frrConf"/> applied by vtysh.
    /// </summary>
    public static Task<FrrRouter> StartIntegratedAsync(NetnsLab lab, string netns, string name, string frrConf, IReadOnlyList<string> daemons) =>
        Started(new FrrRouter(lab, netns, name, frrConf, daemons));

    public override RouterKind Kind => RouterKind.Frr;

    public override IReadOnlyList<NetnsProcess> Processes => _processes;

    public static string RunDirectory(string netns) => Path.Combine("/run/frr", netns);

    public static string RenderBgpdConfig(RouterOptions options)
    {
        var config = new StringBuilder();
        config.AppendLine(CultureInfo.InvariantCulture, $"""
            hostname {options.RouterId}
            log stdout debugging
            """);
        for (var index = 0; index < options.Advertise.Count; index++)
        {
            var route = options.Advertise[index];
            config.AppendLine(CultureInfo.InvariantCulture, $"route-map originate-{index} permit 10");
            if (route.Communities.Count > 0)
            {
                config.AppendLine(CultureInfo.InvariantCulture, $" set community {string.Join(' ', route.Communities)}");
            }

            if (route.LargeCommunities.Count > 0)
            {
                config.AppendLine(CultureInfo.InvariantCulture, $" set large-community {string.Join(' ', route.LargeCommunities)}");
            }
        }

        config.AppendLine(CultureInfo.InvariantCulture, $"""
            router bgp {options.LocalAs}
             bgp router-id {options.RouterId}
             no bgp ebgp-requires-policy
             no bgp default ipv4-unicast
             no bgp network import-check
             bgp bestpath as-path multipath-relax
            """);
        foreach (var neighbour in options.Neighbors)
        {
            var address = neighbour.Address;
            config.AppendLine(CultureInfo.InvariantCulture, $" neighbor {address} remote-as {neighbour.RemoteAs}");
            config.AppendLine(CultureInfo.InvariantCulture, $" neighbor {address} timers {Math.Max(1, neighbour.HoldTime / 3)} {neighbour.HoldTime}");
            config.AppendLine(CultureInfo.InvariantCulture, $" neighbor {address} timers connect 1");
            if (neighbour.Passive)
            {
                config.AppendLine(CultureInfo.InvariantCulture, $" neighbor {address} passive");
            }

            if (neighbour.Password is not null)
            {
                config.AppendLine(CultureInfo.InvariantCulture, $" neighbor {address} password {neighbour.Password}");
            }

            if (neighbour.Multihop is { } ttl)
            {
                config.AppendLine(CultureInfo.InvariantCulture, $" neighbor {address} ebgp-multihop {ttl}");
                // FRR before 9.0 (Debian 12 ships 8.4) registers the next-hop tracking of an accepted, not yet
                // established connection with TTL 1, so with the connected-only check; a connection from the peer
                // while the session is up then leaves the peer's next hop unresolved and its routes invalid.
                // Fixed upstream by FRR commit d1fe52f ("fix the issue of connected tag error").
                config.AppendLine(CultureInfo.InvariantCulture, $" neighbor {address} disable-connected-check");
            }

            if (neighbour.Bfd)
            {
                config.AppendLine(CultureInfo.InvariantCulture, $" neighbor {address} bfd");
            }

            if (neighbour.LocalAddress is { } local)
            {
                config.AppendLine(CultureInfo.InvariantCulture, $" neighbor {address} update-source {local}");
            }
        }

        foreach (var family in (AddressFamily[])[AddressFamily.InterNetwork, AddressFamily.InterNetworkV6])
        {
            config.AppendLine(family == AddressFamily.InterNetworkV6 ? " address-family ipv6 unicast" : " address-family ipv4 unicast");
            config.AppendLine("  maximum-paths 8");
            config.AppendLine("  maximum-paths ibgp 8");
            for (var index = 0; index < options.Advertise.Count; index++)
            {
                if (options.Advertise[index].Family == family)
                {
                    config.AppendLine(CultureInfo.InvariantCulture, $"  network {options.Advertise[index].Prefix} route-map originate-{index}");
                }
            }

            foreach (var neighbour in options.Neighbors.Where(n => n.Families.Contains(family)))
            {
                config.AppendLine(CultureInfo.InvariantCulture, $"  neighbor {neighbour.Address} activate");
                if (neighbour.RemoteAs == options.LocalAs)
                {
                    config.AppendLine(CultureInfo.InvariantCulture, $"  neighbor {neighbour.Address} next-hop-self");
                }
            }

            config.AppendLine(" exit-address-family");
        }

        return config.ToString();
    }

    public override async Task<IReadOnlyList<RouterRoute>> GetRoutesAsync() =>
    [
        .. FrrOutput.ParseRoutes(await VtyshAsync("show bgp ipv4 unicast json detail")),
        .. FrrOutput.ParseRoutes(await VtyshAsync("show bgp ipv6 unicast json detail")),
    ];

    public override async Task<PeerState> GetPeerStateAsync(IPAddress neighbour) =>
        FrrOutput.ParsePeerState(await VtyshAsync($"show bgp neighbors {neighbour} json"), neighbour);

    protected override IEnumerable<string[]> StateCommands =>
    [
        ["vtysh", "-N", Namespace, "-c", "show bgp summary", "-c", "show bgp neighbors", "-c", "show bgp ipv4 unicast", "-c", "show bgp ipv6 unicast",
            "-c", "show ip route", "-c", "show ipv6 route", "-c", "show ip nht", "-c", "show ipv6 nht", "-c", "show bfd peers"],
    ];

    public async Task<string> VtyshAsync(string command) =>
        (await Command.RunAsync("vtysh", "-N", Namespace, "-c", command)).EnsureSuccess().StandardOutput;

    /// <summary>The run directory (sockets, pid files): <see cref="StartAsync"/> refuses to start while it exists.</summary>
    protected override void CleanUpAfterKill() => Directory.Delete(RunDirectory(Namespace), recursive: true);

    protected override async Task StartAsync()
    {
        var runDirectory = RunDirectory(Namespace);
        if (Directory.Exists(runDirectory))
        {
            throw new InvalidOperationException($"{runDirectory} exists: only one FRR instance per namespace");
        }

        Directory.CreateDirectory(runDirectory);
        (await Command.RunAsync("chown", "frr:frr", runDirectory)).EnsureSuccess();
        if (_integratedConfig is { } integrated)
        {
            foreach (var daemon in (string[])["zebra", "staticd", .. integrated.Daemons])
            {
                await StartDaemonAsync(daemon, config: null);
            }

            // As the frrouting/frr image boots (vtysh -b): the daemons run without configuration, vtysh applies frr.conf.
            (await Command.RunAsync("vtysh", "-N", Namespace, "-f", integrated.Config)).EnsureSuccess();
            return;
        }

        await StartDaemonAsync("zebra", Lab.WriteFile(Name + ".zebra.conf", $"hostname {Options.RouterId}\nlog stdout informational\n"));
        await StartDaemonAsync("bgpd", Lab.WriteFile(Name + ".bgpd.conf", RenderBgpdConfig(Options)));
        if (Options.BfdNeighbors.Count > 0)
        {
            await StartDaemonAsync("bfdd", Lab.WriteFile(Name + ".bfdd.conf", RenderBfddConfig(Options)));
        }
    }

    /// <summary>Starts <c>/usr/lib/frr/DAEMON -N NAMESPACE [-f CONFIG]</c> and waits until zebra's socket exists or vtysh sees the daemon.</summary>
    private async Task StartDaemonAsync(string daemon, string? config)
    {
        var process = await Lab.StartProcessAsync(
            Namespace, $"{Name}.{daemon}", Path.Combine(Daemons, daemon), ["-N", Namespace, .. config is null ? (string[])[] : ["-f", config]], environment: null);
        _processes.Add(process);
        if (daemon == "zebra")
        {
            var zserv = Path.Combine(RunDirectory(Namespace), "zserv.api");
            await process.WaitUntilReadyAsync($"socket {zserv}", TimeSpan.FromSeconds(10), () => Task.FromResult(File.Exists(zserv)));
            return;
        }

        await process.WaitUntilReadyAsync("to answer vtysh", TimeSpan.FromSeconds(10), async () =>
            (await Command.RunAsync("vtysh", "-N", Namespace, "-c", "show daemons")).StandardOutput.Contains(daemon, StringComparison.Ordinal));
    }

    /// <summary>
    /// The daemons a <c>daemons</c> file enables (<c>NAME=yes</c>), besides zebra and staticd, which FRR always starts.
    /// A daemon that is not installed here is an error naming it.
    /// </summary>
    public static IReadOnlyList<string> EnabledDaemons(string daemonsFile)
    {
        var enabled = new List<string>();
        foreach (var line in daemonsFile.Split('\n').Select(l => l.Trim()))
        {
            if (line.Split('=') is [var daemon, "yes"] && daemon.All(char.IsAsciiLetterOrDigit) && daemon is not ("zebra" or "staticd"))
            {
                enabled.Add(File.Exists(Path.Combine(Daemons, daemon)) ? daemon : throw new InvalidOperationException($"{daemon}=yes: FRR has no {Path.Combine(Daemons, daemon)} here"));
            }
        }

        return enabled;
    }

    public static string RenderBfddConfig(RouterOptions options)
    {
        var config = new StringBuilder("log stdout debugging\nbfd\n");
        foreach (var neighbour in options.BfdNeighbors)
        {
            config.AppendLine(CultureInfo.InvariantCulture, $" peer {neighbour.Address}{(neighbour.Multihop ? " multihop" : string.Empty)} local-address {neighbour.Local}");
            config.AppendLine(CultureInfo.InvariantCulture, $"  receive-interval {neighbour.MinRxMilliseconds}");
            config.AppendLine(CultureInfo.InvariantCulture, $"  transmit-interval {neighbour.MinTxMilliseconds}");
            config.AppendLine(CultureInfo.InvariantCulture, $"  detect-multiplier {neighbour.Multiplier}");
            config.AppendLine(" exit");
        }
        config.AppendLine("exit");
        return config.ToString();
    }

    /// <summary>
    /// <c>show bfd peers json</c>; FRR reports configured and remote values, so the negotiated ones are derived as RFC 5880
    /// §6.8.2 and §6.8.4 say.
    /// </summary>
    public override async Task<RouterBfdSession?> GetBfdSessionAsync(IPAddress neighbour)
    {
        using var document = JsonDocument.Parse(await VtyshAsync("show bfd peers json"));
        foreach (var peer in document.RootElement.EnumerateArray())
        {
            if (!peer.TryGetProperty("peer", out var address) || address.GetString() != neighbour.ToString())
                continue;
            int Value(string name) => peer.TryGetProperty(name, out var value) ? value.GetInt32() : 0;
            var status = peer.GetProperty("status").GetString()!;
            return new RouterBfdSession(status == "shutdown" ? "admindown" : status,
                Math.Max(Value("transmit-interval"), Value("remote-receive-interval")),
                Value("remote-detect-multiplier") * Math.Max(Value("receive-interval"), Value("remote-transmit-interval")));
        }
        return null;
    }

    /// <summary>Shuts the peer down: FRR says AdminDown.</summary>
    public override async Task StopBfdAsync(IPAddress neighbour)
    {
        var bfd = Options.BfdNeighbors.Single(n => n.Address.Equals(neighbour));
        var peer = $"peer {neighbour}{(bfd.Multihop ? " multihop" : string.Empty)} local-address {bfd.Local}";
        (await Command.RunAsync("vtysh", "-N", Namespace, "-c", "configure", "-c", "bfd", "-c", peer, "-c", "shutdown"))
            .EnsureSuccess();
    }
}

/// <summary>Parsers for FRR's vtysh JSON output (FRR 8.4).</summary>
public static class FrrOutput
{
    /// <summary>
    /// Parses <c>show bgp ipv4|ipv6 unicast json detail</c>: "routes" maps each prefix to an array whose first element
    /// describes the prefix and whose other elements are its paths.
    /// </summary>
    public static IReadOnlyList<RouterRoute> ParseRoutes(string json)
    {
        using var document = JsonDocument.Parse(json);
        var routes = new List<RouterRoute>();
        if (!document.RootElement.TryGetProperty("routes", out var table))
        {
            return routes;
        }

        foreach (var network in table.EnumerateObject())
        {
            foreach (var path in network.Value.EnumerateArray().Where(p => p.TryGetProperty("nexthops", out _)))
            {
                routes.Add(new RouterRoute(
                    network.Name,
                    [.. path.GetProperty("nexthops").EnumerateArray()
                        .Where(h => !(h.TryGetProperty("scope", out var scope) && scope.GetString() == "link-local"))
                        .Select(h => IPAddress.Parse(h.GetProperty("ip").GetString()!))],
                    Strings(path, "community"),
                    Strings(path, "largeCommunity"),
                    path.TryGetProperty("locPrf", out var localPreference) ? localPreference.GetUInt32() : null,
                    path.TryGetProperty("aspath", out var asPath)
                        ? [.. asPath.GetProperty("segments").EnumerateArray().SelectMany(s => s.GetProperty("list").EnumerateArray()).Select(a => a.GetUInt32())]
                        : []));
            }
        }

        return routes;

        static IReadOnlyList<string> Strings(JsonElement path, string name) =>
            path.TryGetProperty(name, out var value)
                ? [.. value.GetProperty("list").EnumerateArray().Select(c => WellKnownCommunities.GetValueOrDefault(c.GetString()!, c.GetString()!))]
                : [];
    }

    /// <summary>FRR prints well-known communities (RFC 1997, 7999, 8326, 9494) by name; the harness compares numbers.</summary>
    private static readonly Dictionary<string, string> WellKnownCommunities = new(StringComparer.Ordinal)
    {
        ["gshut"] = "65535:0",
        ["acceptown"] = "65535:1",
        ["llgr-stale"] = "65535:6",
        ["no-llgr"] = "65535:7",
        ["blackhole"] = "65535:666",
        ["noExport"] = "65535:65281",
        ["noAdvertise"] = "65535:65282",
        ["localAs"] = "65535:65283",
        ["noPeer"] = "65535:65284",
    };

    /// <summary>Parses <c>show bgp neighbors ADDRESS json</c>.</summary>
    public static PeerState ParsePeerState(string json, IPAddress neighbour)
    {
        using var document = JsonDocument.Parse(json);
        if (!document.RootElement.TryGetProperty(neighbour.ToString(), out var peer))
        {
            throw new FormatException($"vtysh shows no neighbour {neighbour}: {json}");
        }

        var state = peer.GetProperty("bgpState").GetString()!;
        string? lastError = null;
        if (peer.TryGetProperty("lastNotificationReason", out var notification))
        {
            lastError = notification.GetString();
        }
        else if (peer.TryGetProperty("lastResetDueTo", out var reset))
        {
            lastError = reset.GetString();
        }

        return new PeerState(state == "Established", state, lastError);
    }
}
