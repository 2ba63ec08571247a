using System.Net;
using System.Net.Sockets;
using BgpLb.Bgp;
using BgpLb.Bgp.Transport;
using BgpLb.Config;
using BgpLb.Hosting;
using BgpLb.Kubernetes;
using BgpLb.L2.Announcing;
using BgpLb.L2.Membership;
using BgpLb.Speaker;
using BgpLb.Speaker.Addresses;
using BgpLb.Speaker.Kubernetes;
using BgpLb.StatusApi;

SpeakerOptions options;
try
{
    options = SpeakerOptions.Parse(args, Environment.GetEnvironmentVariable);
}
catch (CommandLineException e)
{
    await Console.Error.WriteLineAsync($"bgplb-speaker: {e.Message}");
    return ExitCodes.Usage;
}

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.AddDaemonLogging(options.LogLevel);
builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(options.MetricsListen));
builder.Host.ConfigureHostOptions(host => host.ShutdownTimeout = TimeSpan.FromSeconds(10));

var services = builder.Services;
services.AddSingleton(options);
services.AddSingleton(TimeProvider.System);
services.AddMetrics();
services.AddOperationalEndpoints();
if (options.Kubernetes is { } kubernetes)
    services.AddKubernetesSpeaker(options, kubernetes, PodIdentity.FromEnvironment(Environment.GetEnvironmentVariable));
else
    services.AddSingleton(new ConfigOptions()).AddSingleton<IResourceSource>(sp => ActivatorUtilities.CreateInstance<FileStore>(sp, options.ConfigDirectory!));
services.AddSingleton<WakeSignal>();
services.AddSingleton<ResourceFeed>();
services.AddSingleton<ClusterState>();
services.AddSingleton<ConfigMetrics>();
services.AddSingleton<ConfigReporter>();
services.AddAddressSource(options);
services.AddSingleton<BgpMetrics>();
services.AddSingleton<SpeakerMetrics>();
services.AddSingleton<ISpeakerObserver>(sp => sp.GetRequiredService<SpeakerMetrics>());
services.AddSingleton<SpeakerStatusReport>();
services.AddSingleton<ISpeakerObserver>(sp => sp.GetRequiredService<SpeakerStatusReport>());
services.AddSingleton<IBgpTransportFactory, SocketBgpTransportFactory>();
services.AddSingleton(new PeerManagerOptions { ListenEndPoint = options.BgpListen });
services.AddSingleton<PeerManager>();
services.AddSingleton(new MembershipOptions { NodeName = options.NodeName, Port = options.MemberlistPort, Keys = options.MemberlistKeys });
services.AddSingleton<SpeakerMembership>();
services.AddSingleton(new L2AnnouncerOptions());
services.AddSingleton<L2Announcer>();
services.AddHostedService<SpeakerReconciler>();

var app = builder.Build();
app.MapOperationalEndpoints();
app.MapGet("/status", (SpeakerStatusReport report, string? service) => Results.Json(report.Build(service), StatusJsonContext.Default.SpeakerStatus));
// Listen from the start: counters (metallb_layer2_*) incremented before the first scrape would otherwise be lost.
app.Services.GetRequiredService<PrometheusExporter>();

var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("BgpLb.Speaker");
SpeakerLog.Starting(logger, options.NodeName, options.SourceDescription, options.BgpListenDescription, options.MetricsListen);
if (options.Kubernetes is not null && !KubernetesSpeaker.CanConnect(app.Services, logger))
    return ExitCodes.StartupFailed;

try
{
    ListenerException.Probe("metrics-listen", options.MetricsListen);
    if (options.BgpListen is { } bgpListen)
        ListenerException.Probe("bgp-listen", bgpListen);
    if (options.MembershipEnabled)
        ListenerException.Probe("memberlist-port", new IPEndPoint(IPAddress.Any, options.MemberlistPort), ProtocolType.Udp);
    await app.StartAsync();
}
catch (SpeakerStartupException)
{
    return ExitCodes.StartupFailed; // logged
}
catch (ListenerException listener)
{
    await Console.Error.WriteLineAsync($"bgplb-speaker: {listener.Message}");
    return ExitCodes.CannotListen;
}
await app.WaitForShutdownAsync();
await app.DisposeAsync();
return 0;
