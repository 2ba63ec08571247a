using System.Globalization;
using System.Reflection;

namespace BgpLb.Netlab;

/// <summary>
/// bgplb-controller running in a lab namespace: <c>bgplb-controller --config DIR --state FILE --grpc-listen ADDR:PORT
/// --metrics-listen 127.0.0.1:PORT</c> plus its gRPC security flags. Speakers in other namespaces reach its gRPC service over the lab links.
/// </summary>
public sealed class ControllerProcess
{
    public const string PathVariable = "BGPLB_CONTROLLER_PATH";

    private ControllerProcess(NetnsProcess process, string netns, int metricsPort)
    {
        Process = process;
        Namespace = netns;
        MetricsPort = metricsPort;
    }

    public NetnsProcess Process { get; }

    public string Namespace { get; }

    public int MetricsPort { get; }

    /// <summary>
    /// $BGPLB_CONTROLLER_PATH, else src/Controller/bin/CONFIGURATION/net10.0/bgplb-controller of the repository holding
    /// this assembly, CONFIGURATION being the one it was built with.
    /// </summary>
    public static string ResolveExecutable() => BuiltExecutable.Resolve("Controller", "bgplb-controller", PathVariable);

    /// <summary>
    /// Starts the controller in <paramref name="netns"/>; <paramref name="name"/> names its log files (NAME.stderr). With
    /// <paramref name="uid"/> it runs as that user and group (setpriv), so that file permissions apply to it as they do
    /// not to root.
    /// </summary>
    /// <param name="grpcSecurity">--grpc-tls-cert ... flags; default --grpc-insecure (the default listener is beyond loopback).</param>
    public static async Task<ControllerProcess> StartAsync(
        Lab lab, string netns, string configDirectory, string stateFile, string grpcListen = "0.0.0.0:7473", int metricsPort = 7472, string name = "controller",
        IReadOnlyList<string>? grpcSecurity = null, int? uid = null)
    {
        string[] command =
        [
            ResolveExecutable(),
            "--config", configDirectory,
            "--state", stateFile,
            "--grpc-listen", grpcListen,
            "--metrics-listen", $"127.0.0.1:{metricsPort}",
            "--log-level", "debug",
            .. grpcSecurity ?? ["--grpc-insecure"],
        ];
        var process = uid is { } id
            ? await lab.StartProcessAsync(netns, name, "setpriv", [$"--reuid={id}", $"--regid={id}", "--clear-groups", .. command])
            : await lab.StartProcessAsync(netns, name, command[0], command[1..]);
        return new ControllerProcess(process, netns, metricsPort);
    }

    /// <summary>GETs a path of the metrics listener (/metrics, /healthz, /readyz) from inside the namespace.</summary>
    public async Task<CommandResult> GetAsync(string path) =>
        await Command.InNamespaceAsync(
            Namespace,
            "python3",
            "-c",
            "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())",
            string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{MetricsPort}{path}"));

    /// <summary>Ready once the first configuration is allocated (and persisted).</summary>
    public Task WaitUntilReadyAsync(TimeSpan timeout) =>
        Process.WaitUntilReadyAsync("/readyz", timeout, async () => (await GetAsync("/readyz")).Succeeded);

    /// <summary>The controller's log: everything it wrote to stdout and stderr so far.</summary>
    public string ReadLog() => Process.ReadOutput();

    /// <summary>SIGKILL: no graceful stop, the state file is whatever was last saved.</summary>
    public async Task KillAsync()
    {
        await Process.SignalAsync("KILL");
        await Process.WaitForExitAsync(TimeSpan.FromSeconds(5));
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"bgplb-controller in {Namespace} pid {Process.Pid}");
}
