using System.Globalization;
using System.Reflection;

namespace BgpLb.Netlab;

/// <summary>
/// bgplb-speaker running in a node namespace of a <see cref="Lab"/> or an <see cref="L2Lab"/>: <c>bgplb-speaker --node NAME
/// --config DIR --bgp-listen ADDR --metrics-listen 127.0.0.1:PORT</c>. The metrics endpoint is on the namespace's
/// loopback, so it is fetched from inside the namespace.
/// </summary>
public sealed class SpeakerProcess
{
    public const string PathVariable = "BGPLB_SPEAKER_PATH";

    private SpeakerProcess(NetnsProcess process, string nodeName, int metricsPort)
    {
        Process = process;
        NodeName = nodeName;
        MetricsPort = metricsPort;
    }

    public NetnsProcess Process { get; }

    /// <summary>The Kubernetes node name it runs as (--node).</summary>
    public string NodeName { get; }

    public int MetricsPort { get; }

    public Uri MetricsUrl => new($"http://127.0.0.1:{MetricsPort}/metrics");

    /// <summary>
    /// $BGPLB_SPEAKER_PATH, else src/Speaker/bin/CONFIGURATION/net10.0/bgplb-speaker of the repository holding this test
    /// assembly, CONFIGURATION being the one the tests were built with.
    /// </summary>
    public static string ResolveExecutable() => BuiltExecutable.Resolve("Speaker", "bgplb-speaker", PathVariable);

    /// <summary>
    /// Starts the speaker for <paramref name="node"/> with the config directory the test wrote; with
    /// <paramref name="controller"/> it announces that controller's allocations (--controller), presenting
    /// <paramref name="controllerCredentials"/> (--controller-ca ... flags).
    /// </summary>
    public static Task<SpeakerProcess> StartAsync(
        Lab lab, LabNode node, string nodeName, string configDirectory, int metricsPort = 7474, string bgpListen = "0.0.0.0:179", string logLevel = "debug",
        Uri? controller = null, IReadOnlyList<string>? controllerCredentials = null, IReadOnlyDictionary<string, string>? environment = null) =>
        StartAsync(lab, node.Namespace, "speaker-" + node.Role, nodeName, configDirectory, metricsPort, bgpListen, logLevel, controller,
            controllerCredentials: controllerCredentials, environment: environment);

    /// <summary>Starts the speaker in <paramref name="netns"/>; its logs are <paramref name="name"/>.stdout/.stderr in the lab directory.</summary>
    /// <param name="memberlistSecretFile">The shared key of the L2 liveness datagrams; without it the speaker runs BGP only.</param>
    public static Task<SpeakerProcess> StartAsync(
        NetnsLab lab, string netns, string name, string nodeName, string configDirectory, int metricsPort = 7474, string bgpListen = "0.0.0.0:179",
        string logLevel = "debug", Uri? controller = null, string? memberlistSecretFile = null, IReadOnlyList<string>? controllerCredentials = null,
        IReadOnlyDictionary<string, string>? environment = null) =>
        StartWithArgumentsAsync(
            lab,
            netns,
            name,
            nodeName,
            metricsPort,
            [
                "--node", nodeName,
                "--config", configDirectory,
                "--bgp-listen", bgpListen,
                "--metrics-listen", $"127.0.0.1:{metricsPort}",
                "--log-level", logLevel,
                .. controller is null ? (string[])[] : ["--controller", controller.ToString()],
                .. controllerCredentials ?? [],
                .. memberlistSecretFile is null ? (string[])[] : ["--memberlist-secret-file", memberlistSecretFile],
            ],
            environment);

    /// <summary>
    /// Starts the speaker in <paramref name="netns"/> with exactly <paramref name="arguments"/> and <paramref name="environment"/>
    /// (a topology node's cmd and env), which give it <paramref name="nodeName"/> and the metrics port <paramref name="metricsPort"/>.
    /// </summary>
    public static async Task<SpeakerProcess> StartWithArgumentsAsync(
        NetnsLab lab, string netns, string name, string nodeName, int metricsPort, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string>? environment)
    {
        var process = await lab.StartProcessAsync(netns, name, ResolveExecutable(), arguments, environment);
        return new SpeakerProcess(process, nodeName, metricsPort);
    }

    /// <summary>GETs a path of the metrics listener (/metrics, /healthz, /readyz) from inside the node's namespace.</summary>
    public async Task<CommandResult> GetAsync(string path) =>
        await Command.InNamespaceAsync(
            Process.Namespace,
            "python3",
            "-c",
            "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())",
            new Uri(MetricsUrl, path).ToString());

    /// <summary>Everything the speaker has logged so far (standard output, then standard error).</summary>
    public string ReadLog() => Process.ReadOutput();

    public Task WaitUntilReadyAsync(TimeSpan timeout) =>
        Process.WaitUntilReadyAsync("/readyz", timeout, async () => (await GetAsync("/readyz")).Succeeded);

    /// <summary>SIGTERM (graceful stop: Cease NOTIFICATION to every peer, or none where graceful restart was negotiated) and the exit code.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        await Process.SignalAsync("TERM");
        return await Process.WaitForExitAsync(timeout);
    }

    /// <summary>SIGKILL: the kernel closes the speaker's sockets, no NOTIFICATION.</summary>
    public async Task KillAsync()
    {
        await Process.SignalAsync("KILL");
        await Process.WaitForExitAsync(TimeSpan.FromSeconds(5));
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"bgplb-speaker {NodeName} ({Process.Name}) pid {Process.Pid}");
}
