using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;

namespace BgpLb.Integration.Tests.L2;

/// <summary>
/// An L2 lab: a bridge namespace <c>bgplb-l2-br</c> (bridges br0 and, optionally, br1), a client namespace
/// <c>bgplb-l2-client</c> and speaker namespaces <c>bgplb-l2-sN</c>, each with eth0 on br0 (198.18.20.0/24) and
/// optionally eth1 on br1 (198.18.21.0/24). Speakers are the real bgplb-speaker started with <c>ip netns exec</c>
/// (which execs, so the process id is the speaker's). Dispose kills every process by id and deletes the namespaces.
/// </summary>
public sealed partial class L2Lab : IAsyncDisposable
{
    public const string Prefix = "bgplb-l2";
    public const string BridgeNamespace = Prefix + "-br";
    public const string ClientNamespace = Prefix + "-client";

    private readonly List<string> _namespaces = [];
    private readonly List<SpeakerNode> _speakers = [];
    private readonly bool _secondSegment;

    private L2Lab(bool secondSegment)
    {
        _secondSegment = secondSegment;
        Directory = System.IO.Directory.CreateTempSubdirectory("bgplb-l2-").FullName;
    }

    public string Directory { get; }
    public string ConfigDirectory => Path.Combine(Directory, "config");
    public IReadOnlyList<SpeakerNode> Speakers => _speakers;

    /// <summary>Creates the namespaces and links for <paramref name="speakers"/> speaker nodes (node-1..node-N).</summary>
    public static async Task<L2Lab> CreateAsync(int speakers, bool secondSegment = false)
    {
        var lab = new L2Lab(secondSegment);
        try
        {
            foreach (var stale in new[] { "br", "client", "observer" }.Concat(Enumerable.Range(1, 9).Select(i => $"s{i}")))
                await DeleteNamespaceAsync($"{Prefix}-{stale}"); // left over by a killed test run
            await lab.AddNamespaceAsync(BridgeNamespace);
            foreach (var bridge in secondSegment ? new[] { "br0", "br1" } : ["br0"])
            {
                await Ip($"-n {BridgeNamespace} link add {bridge} type bridge");
                await Ip($"-n {BridgeNamespace} link set {bridge} up");
            }
            await lab.AddHostAsync(ClientNamespace, "client", 1);
            await Ip($"-n {ClientNamespace} route add 203.0.113.0/24 dev eth0"); // on-link: the client's kernel ARPs for them
            for (var i = 1; i <= speakers; i++)
            {
                var ns = $"{Prefix}-s{i}";
                await lab.AddHostAsync(ns, $"s{i}", 10 + i);
                lab._speakers.Add(new SpeakerNode($"node-{i}", ns, $"198.18.20.{10 + i}",
                    await MacOf(ns, "eth0"), secondSegment ? await MacOf(ns, "eth1") : null));
            }
            System.IO.Directory.CreateDirectory(lab.ConfigDirectory);
            return lab;
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
    }

    /// <summary>Adds another plain host (no speaker) on br0.</summary>
    public Task AddObserverAsync(string role, int hostNumber) => AddHostAsync($"{Prefix}-{role}", role, hostNumber);

    private async Task AddHostAsync(string ns, string role, int hostNumber)
    {
        await AddNamespaceAsync(ns);
        await Ip($"-n {ns} link set lo up");
        await Run("ip", $"netns exec {ns} sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0");
        var segments = _secondSegment ? 2 : 1;
        for (var segment = 0; segment < segments; segment++)
        {
            var port = $"{role}-{segment}";
            await Ip($"link add eth{segment} netns {ns} type veth peer name {port} netns {BridgeNamespace}");
            await Ip($"-n {BridgeNamespace} link set {port} master br{segment} up");
            await Ip($"-n {ns} addr add 198.18.{20 + segment}.{hostNumber}/24 dev eth{segment}");
            await Ip($"-n {ns} link set eth{segment} up");
        }
    }

    private async Task AddNamespaceAsync(string name)
    {
        await Ip($"netns add {name}");
        _namespaces.Add(name);
    }

    /// <summary>Writes the config shared by all speakers: Nodes with InternalIPs plus <paramref name="resources"/>.</summary>
    public async Task WriteConfigAsync(string resources)
    {
        var nodes = string.Concat(_speakers.Select(s => $$"""
            ---
            apiVersion: v1
            kind: Node
            metadata: { name: {{s.NodeName}} }
            status: { addresses: [{ type: InternalIP, address: {{s.InternalIP}} }] }

            """));
        await File.WriteAllTextAsync(Path.Combine(ConfigDirectory, "lab.yaml"), resources + nodes);
    }

    public void StartSpeakers()
    {
        foreach (var speaker in _speakers)
            speaker.Start(SpeakerExecutable(), ConfigDirectory);
    }

    /// <summary>
    /// $BGPLB_SPEAKER_PATH, else src/Speaker/bin/CONFIGURATION/net10.0/bgplb-speaker of the repository holding this test
    /// assembly, CONFIGURATION being the one the tests were built with.
    /// </summary>
    public static string? SpeakerExecutable()
    {
        if (Environment.GetEnvironmentVariable("BGPLB_SPEAKER_PATH") is { Length: > 0 } configured)
            return File.Exists(configured) ? configured : null;
        var configuration = typeof(L2Lab).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var repository = new DirectoryInfo(AppContext.BaseDirectory);
        while (repository is not null && !File.Exists(Path.Combine(repository.FullName, "BgpLb.sln")))
            repository = repository.Parent;
        var path = repository is null ? null : Path.Combine(repository.FullName, "src", "Speaker", "bin", configuration, "net10.0", "bgplb-speaker");
        return File.Exists(path) ? path : null;
    }

    /// <summary>arping from the client: the MACs that answered (empty when nobody did).</summary>
    public static async Task<IReadOnlyList<string>> ArpingAsync(string ns, string @interface, string address, int count = 1)
    {
        var (_, output) = await Run("ip", $"netns exec {ns} arping -c {count} -W 0.2 -i {@interface} {address}", check: false);
        return [.. ArpingReply().Matches(output).Select(m => m.Groups[1].Value.ToLowerInvariant())];
    }

    /// <summary>ndisc6 from the client: the target link-layer address, or null.</summary>
    public static async Task<string?> NdiscAsync(string ns, string @interface, string address)
    {
        var (_, output) = await Run("ip", $"netns exec {ns} ndisc6 -1 -r 1 -w 500 {address} {@interface}", check: false);
        var match = NdiscReply().Match(output);
        return match.Success ? match.Groups[1].Value.ToLowerInvariant() : null;
    }

    /// <summary>The client kernel's neighbour entry for <paramref name="address"/> on eth0 (its MAC), or null.</summary>
    public static async Task<string?> ClientNeighbourAsync(string address)
    {
        var (_, output) = await Run("ip", $"-n {ClientNamespace} neigh show {address} dev eth0", check: false);
        var match = NeighbourMac().Match(output);
        return match.Success ? match.Groups[1].Value : null;
    }

    /// <summary>Makes the client's kernel resolve <paramref name="address"/> by sending it one UDP datagram.</summary>
    public static Task ResolveFromClientAsync(string address) =>
        Run("ip", $"netns exec {ClientNamespace} bash -c \"echo > /dev/udp/{address}/9\"", check: false);

    public static Task Ip(string arguments) => Run("ip", arguments);

    public static async Task<(int ExitCode, string Output)> Run(string file, string arguments, bool check = true)
    {
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var output = await stdout + await stderr;
        if (check && process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {arguments} failed ({process.ExitCode}): {output}");
        return (process.ExitCode, output);
    }

    private static async Task<string> MacOf(string ns, string @interface) =>
        (await Run("ip", $"netns exec {ns} cat /sys/class/net/{@interface}/address")).Output.Trim();

    private static async Task DeleteNamespaceAsync(string name)
    {
        if (File.Exists(Path.Combine("/run/netns", name)))
            await Run("ip", $"netns del {name}", check: false);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var speaker in _speakers)
            await speaker.DisposeAsync();
        foreach (var ns in Enumerable.Reverse(_namespaces))
            await DeleteNamespaceAsync(ns);
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [GeneratedRegex(@"bytes from ([0-9a-fA-F:]{17}) ")]
    private static partial Regex ArpingReply();

    [GeneratedRegex(@"Target link-layer address: ([0-9A-Fa-f:]{17})")]
    private static partial Regex NdiscReply();

    [GeneratedRegex(@"lladdr ([0-9a-f:]{17})")]
    private static partial Regex NeighbourMac();
}

/// <summary>One speaker namespace and, once started, its bgplb-speaker process and log.</summary>
public sealed class SpeakerNode(string nodeName, string ns, string internalIP, string mac, string? mac1) : IAsyncDisposable
{
    private readonly StringBuilder _log = new();
    private Process? _process;

    public string NodeName { get; } = nodeName;
    public string Namespace { get; } = ns;
    public string InternalIP { get; } = internalIP;
    public string Mac { get; } = mac;
    public string? Mac1 { get; } = mac1;

    public string Log
    {
        get
        {
            lock (_log)
                return _log.ToString();
        }
    }

    public void Start(string? executable, string configDirectory)
    {
        ArgumentNullException.ThrowIfNull(executable);
        var start = new ProcessStartInfo("ip",
            $"netns exec {Namespace} {executable} --node {NodeName} --config {configDirectory} --bgp-listen 0.0.0.0:0 --log-level debug")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        _process = Process.Start(start)!;
        _process.OutputDataReceived += Append;
        _process.ErrorDataReceived += Append;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    private void Append(object sender, DataReceivedEventArgs e)
    {
        if (e.Data is null)
            return;
        lock (_log)
            _log.AppendLine(e.Data);
    }

    /// <summary>kill -9 by process id (ip netns exec execs the speaker, so this is the speaker).</summary>
    public async Task KillAsync()
    {
        if (_process is null || _process.HasExited)
            return;
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM by process id; returns the exit code.</summary>
    public async Task<int> TerminateAsync()
    {
        ArgumentNullException.ThrowIfNull(_process);
        await L2Lab.Run("kill", $"-TERM {_process.Id}");
        await _process.WaitForExitAsync();
        return _process.ExitCode;
    }

    /// <summary>GET /metrics on the namespace's loopback with bash's /dev/tcp (no HTTP client needed in the lab).</summary>
    public async Task<string> MetricsAsync() =>
        (await L2Lab.Run("ip", $"netns exec {Namespace} bash -c \"exec 3<>/dev/tcp/127.0.0.1/7474 && printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3\"", check: false)).Output;

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process?.Dispose();
    }
}

/// <summary>Needs root, iproute2, arping, ndisc6, bash and a built bgplb-speaker; otherwise skipped with the reason.</summary>
public sealed class L2NetnsFactAttribute : FactAttribute
{
    public L2NetnsFactAttribute() => Skip = MissingReason();

    private static string? MissingReason()
    {
        if (!OperatingSystem.IsLinux())
            return "L2 lab needs Linux";
        if (Environment.UserName != "root")
            return "L2 lab needs root (network namespaces, raw sockets)";
        var missing = new[] { "ip", "arping", "ndisc6", "bash" }
            .Where(tool => !new[] { "/usr/sbin", "/sbin", "/usr/bin", "/bin" }.Any(dir => File.Exists(Path.Combine(dir, tool))))
            .ToList();
        if (L2Lab.SpeakerExecutable() is null)
            missing.Add("bgplb-speaker (dotnet build src/Speaker, or set BGPLB_SPEAKER_PATH)");
        return missing.Count == 0 ? null : "L2 lab unavailable, missing: " + string.Join(", ", missing);
    }
}

internal static class L2Wait
{
    public static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var value = await probe();
            if (done(value))
                return value;
            if (clock.Elapsed > timeout)
                throw new TimeoutException($"{what} not reached within {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s (last: {value})");
            await Task.Delay(20);
        }
    }
}
