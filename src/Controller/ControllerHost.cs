using System.Net;
using BgpLb.Allocation.Client;
using BgpLb.Config;
using BgpLb.Controller.Webhook;
using BgpLb.Hosting;
using BgpLb.Kubernetes;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace BgpLb.Controller;

/// <summary>The controller refused to start; the reason has been logged.</summary>
public sealed class ControllerStartupException(string message) : Exception(message);

/// <summary>
/// bgplb-controller assembled and started: state file loaded, first configuration checked, allocation service (gRPC over
/// HTTP/2, TLS and caller authentication as configured) and operational endpoints listening. Port 0 binds an ephemeral port; the bound ones are exposed.
/// </summary>
public sealed class ControllerHost : IAsyncDisposable
{
    private readonly ListenOptions _grpc;
    private readonly ListenOptions _metrics;
    private readonly ListenOptions? _webhook;

    private ControllerHost(WebApplication app, ListenOptions grpc, ListenOptions metrics, ListenOptions? webhook)
    {
        App = app;
        _grpc = grpc;
        _metrics = metrics;
        _webhook = webhook;
    }

    public WebApplication App { get; }
    public IPEndPoint GrpcEndPoint => _grpc.IPEndPoint!;
    public IPEndPoint MetricsEndPoint => _metrics.IPEndPoint!;
    /// <summary>The admission webhook's listener; null without --webhook-listen.</summary>
    public IPEndPoint? WebhookEndPoint => _webhook?.IPEndPoint;
    public AllocationOwner Owner => App.Services.GetRequiredService<AllocationOwner>();

    /// <summary>Throws <see cref="ControllerStartupException"/> (already logged) on a corrupt state file or an unusable first configuration.</summary>
    public static async Task<ControllerHost> StartAsync(ControllerOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.AddDaemonLogging(options.LogLevel);
        ListenOptions? grpc = null;
        ListenOptions? metrics = null;
        ListenOptions? webhook = null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(options.GrpcListen, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                kestrel.ApplicationServices.GetRequiredService<GrpcSecurity>().Configure(listen);
                grpc = listen;
            });
            kestrel.Listen(options.MetricsListen, listen => metrics = listen);
            if (options.Webhook is { } webhookOptions)
            {
                kestrel.Listen(webhookOptions.Listen, listen =>
                {
                    WebhookHosting.Configure(listen, kestrel.ApplicationServices.GetRequiredService<WebhookServingCertificate>());
                    webhook = listen;
                });
            }
        });
        builder.Host.ConfigureHostOptions(host => host.ShutdownTimeout = TimeSpan.FromSeconds(10));

        var kubernetes = options.Kubernetes;
        var stateFile = options.StateFile is null ? null : new StateFile(options.StateFile);
        StateData? initial = kubernetes is null ? null : StateData.Empty;
        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddOperationalEndpoints();
        services.AddSingleton(sp => new GrpcSecurity(options.GrpcSecurity, sp.GetRequiredService<ILogger<GrpcSecurity>>(), sp.GetRequiredService<TimeProvider>()));
        services.AddGrpc(grpc => grpc.Interceptors.Add<CallerAuthentication>());
        var identity = kubernetes is null ? null : PodIdentity.FromEnvironment(Environment.GetEnvironmentVariable);
        if (options.Webhook is { } webhookService)
            services.AddAdmissionWebhook(webhookService, options.StateFile, identity);
        if (kubernetes is null)
        {
            services.AddSingleton(new ConfigOptions());
            services.AddSingleton<IResourceSource>(sp => ActivatorUtilities.CreateInstance<FileStore>(sp, options.ConfigDirectory!));
            services.AddHostedService<ControllerService>();
        }
        else
        {
            services.AddKubernetesController(kubernetes, identity!);
        }
        services.AddSingleton<WakeSignal>();
        services.AddSingleton<ResourceFeed>();
        services.AddSingleton<ClusterState>();
        services.AddSingleton<ConfigMetrics>();
        services.AddSingleton<ConfigReporter>();
        services.AddSingleton(sp => new AllocationOwner(stateFile, initial!, options, sp.GetRequiredService<ILogger<AllocationOwner>>()));
        services.AddSingleton<ControllerMetrics>();

        var app = builder.Build();
        app.MapOperationalEndpoints();
        app.MapGrpcService<AllocationGrpcService>();
        if (options.Webhook is not null)
            app.MapAdmissionWebhook();

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("BgpLb.Controller");
        if (kubernetes is not null)
            await KubernetesMode.CheckConnectionAsync(app, options, logger);
        else
            await LoadStateAsync(app, options, stateFile!, state => initial = state, logger);
        app.Services.GetRequiredService<ControllerMetrics>();
        try
        {
            ResolveSecurity(app, options, logger);
            ListenerException.Probe("grpc-listen", options.GrpcListen);
            ListenerException.Probe("metrics-listen", options.MetricsListen);
            if (options.Webhook is { } probed)
                ListenerException.Probe("webhook-listen", probed.Listen);
            await app.StartAsync(cancellationToken);
        }
        catch (Exception e) when (e is ControllerStartupException or ListenerException)
        {
            await app.DisposeAsync();
            throw;
        }
        return new ControllerHost(app, grpc!, metrics!, webhook);
    }

    /// <summary>The credential files were checked when the flags were parsed; this reports one that went bad since.</summary>
    private static void ResolveSecurity(WebApplication app, ControllerOptions options, ILogger logger)
    {
        try
        {
            app.Services.GetRequiredService<GrpcSecurity>();
            if (options.Webhook is not null)
                app.Services.GetRequiredService<WebhookServingCertificate>();
        }
        catch (CredentialException e)
        {
            ControllerLog.RefusingToStart(logger, e.Message);
            throw new ControllerStartupException(e.Message);
        }
    }

    private static async Task LoadStateAsync(WebApplication app, ControllerOptions options, StateFile stateFile, Action<StateData> loaded, ILogger logger)
    {
        ControllerLog.Starting(logger, options.ConfigDirectory!, options.StateFile!, options.GrpcListen, options.MetricsListen);
        try
        {
            var initial = stateFile.Load(out var discarded);
            if (discarded is not null)
                ControllerLog.DiscardedInterruptedWrite(logger, discarded, stateFile.Path);
            ControllerLog.StateLoaded(logger, initial.Allocations.Count, initial.External.Count, stateFile.Path);
            loaded(initial);
        }
        catch (Exception e) when (e is StateFileException or IOException or UnauthorizedAccessException)
        {
            ControllerLog.RefusingToStart(logger, e.Message);
            await app.DisposeAsync();
            throw new ControllerStartupException(e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
