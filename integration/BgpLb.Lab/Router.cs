using System.Net;
using System.Net.Sockets;

namespace BgpLb.Netlab;

public enum RouterKind
{
    Bird,
    Frr,
    Gobgp,
}

/// <summary>
/// One BGP session of a router daemon. The session carries the address family of <see cref="Address"/>
/// (IPv4 unicast over an IPv4 session, IPv6 unicast over an IPv6 session), or both with <see cref="BothFamilies"/>.
/// </summary>
public sealed record BgpNeighbor(IPAddress Address, uint RemoteAs)
{
    /// <summary>Source address of the session; the daemon picks one when null.</summary>
    public IPAddress? LocalAddress { get; init; }

    /// <summary>Only accept connections, never connect.</summary>
    public bool Passive { get; init; }

    /// <summary>Proposed hold time in seconds; keepalive is a third of it.</summary>
    public int HoldTime { get; init; } = 9;

    /// <summary>TCP MD5 signature password (RFC 2385).</summary>
    public string? Password { get; init; }

    /// <summary>eBGP multihop TTL; null for directly connected.</summary>
    public int? Multihop { get; init; }

    /// <summary>
    /// The session is a BFD client: BFD Down takes it down (BIRD <c>bfd on</c>, FRR <c>neighbor X bfd</c>). Timers come
    /// from the <see cref="RouterOptions.BfdNeighbors"/> entry for the same address.
    /// </summary>
    public bool Bfd { get; init; }

    /// <summary>BIRD only (<c>bfd graceful</c>): BFD Down starts graceful restart for the neighbour instead of ending the session.</summary>
    public bool BfdGraceful { get; init; }

    /// <summary>Negotiate IPv4 and IPv6 unicast (multiprotocol) on this session, not only the family of <see cref="Address"/>.</summary>
    public bool BothFamilies { get; init; }

    public AddressFamily Family => Address.AddressFamily;

    /// <summary>The address families the session carries.</summary>
    public IReadOnlyList<AddressFamily> Families => BothFamilies ? [AddressFamily.InterNetwork, AddressFamily.InterNetworkV6] : [Family];
}

/// <summary>A route the daemon originates (it then stands in for a speaker), sent on every session of its family.</summary>
public sealed record AdvertisedRoute(string Prefix)
{
    /// <summary>Standard communities as "ASN:VALUE".</summary>
    public IReadOnlyList<string> Communities { get; init; } = [];

    /// <summary>Large communities as "GLOBAL:LOCAL1:LOCAL2".</summary>
    public IReadOnlyList<string> LargeCommunities { get; init; } = [];

    public AddressFamily Family => Prefix.Contains(':', StringComparison.Ordinal) ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
}

public sealed record RouterOptions(IPAddress RouterId, IReadOnlyList<BgpNeighbor> Neighbors)
{
    /// <summary>The router's AS; 64512 for the lab router, 64513 for an eBGP stand-in speaker.</summary>
    public uint LocalAs { get; init; } = 64512;

    public IReadOnlyList<AdvertisedRoute> Advertise { get; init; } = [];

    /// <summary>BFD sessions with their timers: standalone, or used by a <see cref="BgpNeighbor.Bfd"/> session to the same address.</summary>
    public IReadOnlyList<BfdNeighbor> BfdNeighbors { get; init; } = [];
}

/// <summary>
/// A BFD session as the router shows it: state in lower case, the interval it transmits at and its detection time, as
/// negotiated with the remote system (milliseconds).
/// </summary>
public sealed record RouterBfdSession(string State, double TransmitMilliseconds, double DetectionMilliseconds);

/// <summary>A BFD session the router runs with <see cref="Address"/> (single-hop unless <see cref="Multihop"/>); intervals in milliseconds.</summary>
public sealed record BfdNeighbor(IPAddress Address, IPAddress Local, int MinTxMilliseconds = 100, int MinRxMilliseconds = 100, int Multiplier = 3)
{
    public bool Multihop { get; init; }
}

/// <summary>
/// The BFD timers of a lab session, the same at both ends (milliseconds), in every form the lab needs: the speaker's
/// BFDProfile, the router's <see cref="BfdNeighbor"/>, and what the router shows once both ends have negotiated them.
/// </summary>
public sealed record BfdTimers(int TransmitMilliseconds, int ReceiveMilliseconds, int Multiplier)
{
    /// <summary>100 ms x 3: detection in 300 ms.</summary>
    public static readonly BfdTimers Fast = new(100, 100, 3);

    /// <summary>The detection time with these timers at both ends: the remote's multiplier times the slower of our receive and its transmit interval.</summary>
    public int DetectionMilliseconds => Multiplier * Math.Max(ReceiveMilliseconds, TransmitMilliseconds);

    /// <summary>A MetalLB BFDProfile with these timers.</summary>
    public string Profile(string name, int? minimumTtl = null) =>
        MetalLbManifests.BfdProfile(name, ReceiveMilliseconds, TransmitMilliseconds, Multiplier, minimumTtl);

    /// <summary>A router's BFD session with <paramref name="address"/> from <paramref name="local"/> with these timers.</summary>
    public BfdNeighbor Neighbor(IPAddress address, IPAddress local, bool multihop = false) =>
        new(address, local, TransmitMilliseconds, ReceiveMilliseconds, Multiplier) { Multihop = multihop };

    public override string ToString() => TransmitMilliseconds == ReceiveMilliseconds
        ? $"{TransmitMilliseconds} ms x {Multiplier}"
        : $"tx {TransmitMilliseconds} ms / rx {ReceiveMilliseconds} ms x {Multiplier}";
}

/// <summary>One path of a prefix in a router's BGP table (Loc-RIB / Adj-RIB-In after policy).</summary>
public sealed record RouterRoute(
    string Prefix,
    IReadOnlyList<IPAddress> NextHops,
    IReadOnlyList<string> Communities,
    IReadOnlyList<string> LargeCommunities,
    uint? LocalPreference,
    IReadOnlyList<uint> AsPath)
{
    public override string ToString() =>
        $"{Prefix} via [{string.Join(", ", NextHops)}] as-path [{string.Join(' ', AsPath)}] local-pref {LocalPreference} " +
        $"communities [{string.Join(' ', Communities)}] large [{string.Join(' ', LargeCommunities)}]";
}

/// <summary>The state of one session as the daemon shows it; <see cref="LastError"/> when the CLI reports one.</summary>
public sealed record PeerState(bool Established, string State, string? LastError)
{
    public override string ToString() => LastError is null ? State : $"{State} (last error: {LastError})";
}

/// <summary>A real BGP daemon running in a lab namespace, with a common query interface.</summary>
public abstract class Router
{
    private readonly RouterOptions? _options;

    /// <param name="options">The options the configuration is generated from; null for a router that runs a given configuration file.</param>
    protected Router(NetnsLab lab, string netns, string name, RouterOptions? options)
    {
        Lab = lab;
        Namespace = netns;
        Name = name;
        _options = options;
    }

    public abstract RouterKind Kind { get; }

    public NetnsLab Lab { get; }

    public string Namespace { get; }

    /// <summary>Unique within the lab; prefixes its config and log file names.</summary>
    public string Name { get; }

    public RouterOptions Options => _options ?? throw new InvalidOperationException($"{Name} runs a configuration file, not generated options");

    /// <summary>The daemon processes (FRR: zebra then bgpd).</summary>
    public abstract IReadOnlyList<NetnsProcess> Processes { get; }

    /// <summary>The process that speaks BGP (to SIGKILL or SIGSTOP it).</summary>
    public NetnsProcess BgpProcess => Processes[^1];

    /// <summary>Starts a daemon of <paramref name="kind"/> in <paramref name="netns"/> and waits until its CLI answers.</summary>
    public static Task<Router> StartAsync(RouterKind kind, NetnsLab lab, string netns, string name, RouterOptions options) => kind switch
    {
        RouterKind.Bird => Started<Router>(new BirdRouter(lab, netns, name, options)),
        RouterKind.Frr => Started<Router>(new FrrRouter(lab, netns, name, options)),
        RouterKind.Gobgp => Started<Router>(new GobgpRouter(lab, netns, name, options)),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown router kind"),
    };

    /// <summary>SIGKILLs the daemon processes (last started first; no NOTIFICATION) and waits until they are gone.</summary>
    public async Task KillAsync()
    {
        foreach (var process in Processes.Reverse())
        {
            await process.SignalAsync("KILL");
            await process.WaitForExitAsync(TimeSpan.FromSeconds(5));
        }
    }

    /// <summary>Starts the same router again, as <paramref name="name"/>, after <see cref="KillAsync"/>.</summary>
    public async Task<Router> StartAgainAsync(string name)
    {
        CleanUpAfterKill();
        return await StartAsync(Kind, Lab, Namespace, name, Options);
    }

    /// <summary>Removes what killed daemons left behind that would stop a new instance from starting.</summary>
    protected virtual void CleanUpAfterKill()
    {
    }

    /// <summary>Every path in the BGP table, IPv4 and IPv6.</summary>
    public abstract Task<IReadOnlyList<RouterRoute>> GetRoutesAsync();

    public abstract Task<PeerState> GetPeerStateAsync(IPAddress neighbour);

    /// <summary>The router's state of its BFD session with <paramref name="neighbour"/> in lower case (up, down, init, admindown), or null.</summary>
    public async Task<string?> GetBfdStateAsync(IPAddress neighbour) => (await GetBfdSessionAsync(neighbour))?.State;

    /// <summary>The router's view of its BFD session with <paramref name="neighbour"/>, or null when it has none.</summary>
    public virtual Task<RouterBfdSession?> GetBfdSessionAsync(IPAddress neighbour) => throw new NotSupportedException($"{Kind}: no BFD in the lab");

    /// <summary>Ends the router's BFD session with <paramref name="neighbour"/> (<see cref="RouterOptions.BfdNeighbors"/>).</summary>
    public virtual Task StopBfdAsync(IPAddress neighbour) => throw new NotSupportedException($"{Kind}: no BFD in the lab");

    /// <summary>
    /// Waits until the router's BFD session with <paramref name="neighbour"/> is up and both ends run <paramref name="timers"/>:
    /// the router transmits at their interval and detects in their detection time (after the slow start at 1 s).
    /// </summary>
    public Task<RouterBfdSession?> WaitForBfdUpAsync(IPAddress neighbour, BfdTimers timers, TimeSpan timeout) =>
        Wait.ForAsync(
            $"{Name}: BFD with {neighbour} up at {timers}",
            timeout,
            () => GetBfdSessionAsync(neighbour),
            s => s is { State: "up" } && s.TransmitMilliseconds == timers.TransmitMilliseconds && s.DetectionMilliseconds == timers.DetectionMilliseconds,
            s => s?.ToString() ?? "no session");

    /// <summary>The kernel table of the router's namespace (where BIRD's kernel protocol and FRR's zebra install routes).</summary>
    public Task<IReadOnlyList<KernelRoute>> GetKernelRoutesAsync(AddressFamily family) => Netlab.Lab.GetKernelRoutesAsync(Namespace, family);

    public Task<PeerState> WaitForEstablishedAsync(IPAddress neighbour, TimeSpan timeout) =>
        Wait.ForAsync($"{Name} session with {neighbour} to be Established", timeout, () => GetPeerStateAsync(neighbour), s => s.Established);

    /// <summary>Waits until the BGP table's paths for <paramref name="prefix"/> satisfy <paramref name="accept"/>.</summary>
    public Task<IReadOnlyList<RouterRoute>> WaitForPathsAsync(string prefix, TimeSpan timeout, Func<IReadOnlyList<RouterRoute>, bool> accept) =>
        Wait.ForAsync(
            $"{Name} paths for {prefix}",
            timeout,
            async () => (IReadOnlyList<RouterRoute>)[.. (await GetRoutesAsync()).Where(r => r.Prefix == prefix)],
            accept,
            paths => paths.Count == 0 ? "no path" : string.Join("; ", paths));

    /// <summary>Waits until the kernel route for <paramref name="prefix"/> in the router's namespace satisfies <paramref name="accept"/> (null: no route).</summary>
    public Task<KernelRoute?> WaitForKernelRouteAsync(string prefix, TimeSpan timeout, Func<KernelRoute?, bool> accept)
    {
        var family = prefix.Contains(':', StringComparison.Ordinal) ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        return Wait.ForAsync(
            $"kernel route {prefix} in {Namespace}",
            timeout,
            async () => (await GetKernelRoutesAsync(family)).FirstOrDefault(r => r.Destination == prefix),
            accept,
            route => route?.ToString() ?? "no route");
    }

    protected abstract Task StartAsync();

    /// <summary>The CLI commands (program and arguments) that show the router's sessions, routes and next hops.</summary>
    protected abstract IEnumerable<string[]> StateCommands { get; }

    protected static async Task<TRouter> Started<TRouter>(TRouter router)
        where TRouter : Router
    {
        await router.StartAsync();
        router.Lab.SaveOnFailure(router.Name + ".state", router.DescribeStateAsync);
        return router;
    }

    /// <summary>The output of <see cref="StateCommands"/>, each bounded to a few seconds (a frozen daemon does not answer).</summary>
    private async Task<string> DescribeStateAsync()
    {
        var text = new System.Text.StringBuilder();
        foreach (var command in StateCommands)
        {
            text.Append("$ ").AppendJoin(' ', command).AppendLine();
            try
            {
                var result = await Command.RunAsync(command[0], command[1..], TimeSpan.FromSeconds(5));
                text.AppendLine(result.StandardOutput).AppendLine(result.StandardError);
            }
            catch (Exception exception) when (exception is TimeoutException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                text.AppendLine(exception.Message);
            }
        }
        return text.ToString();
    }
}
