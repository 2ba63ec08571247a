using BgpLb.Config;
using BgpLb.Kubernetes;
using k8s;
using k8s.Exceptions;

namespace BgpLb.Controller;

/// <summary>The services of Kubernetes mode: the API server as configuration source, leader election and the writers.</summary>
internal static class KubernetesMode
{
    public const string LeaseName = "bgplb-controller";
    public const string Component = "bgplb-controller";

    public static IServiceCollection AddKubernetesController(this IServiceCollection services, KubernetesConnection connection, PodIdentity identity)
    {
        services.AddSingleton(identity);
        services.AddSingleton(_ => KubernetesClientFactory.Create(connection.Kubeconfig, connection.InCluster));
        services.AddSingleton(new ConfigOptions { MetalLbNamespace = identity.Namespace });
        services.AddSingleton(new KubeStoreOptions());
        services.AddSingleton<KubeStore>();
        services.AddSingleton<IResourceSource>(sp => sp.GetRequiredService<KubeStore>());
        services.AddSingleton(new LeaseElectorOptions { Namespace = identity.Namespace, Name = LeaseName, Identity = identity.Name });
        services.AddSingleton<LeaseElector>();
        services.AddSingleton<ServiceStatusWriter>();
        services.AddSingleton(sp => new PoolStatusWriter(sp.GetRequiredService<IKubernetes>(), identity.Namespace, sp.GetRequiredService<ILogger<PoolStatusWriter>>()));
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<EventRecorder>(sp, Component, identity.Name));
        services.AddSingleton(sp => new ConfigurationStateWriter(sp.GetRequiredService<IKubernetes>(), identity.Namespace, "controller", null,
            identity.OwnerReference, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ConfigurationStateWriter>>()));
        services.AddHostedService<KubernetesControllerService>();
        // Registered last so that it stops first: the lease is released before the writers stop.
        services.AddHostedService<LeaderElectionService>();
        return services;
    }

    /// <summary>Logs the start and builds the API client; an unusable kubeconfig (or no pod around) refuses the start.</summary>
    public static async Task CheckConnectionAsync(WebApplication app, ControllerOptions options, ILogger logger)
    {
        var identity = app.Services.GetRequiredService<PodIdentity>();
        var source = options.Kubernetes!.InCluster ? "in-cluster" : $"kubeconfig {options.Kubernetes.Kubeconfig}";
        ControllerLog.StartingInKubernetes(logger, source, identity.Name, identity.Namespace, options.GrpcListen, options.MetricsListen);
        try
        {
            app.Services.GetRequiredService<IKubernetes>();
        }
        catch (Exception e) when (e is KubeConfigException or IOException or ArgumentException)
        {
            ControllerLog.UnusableKubernetesConnection(logger, e.Message);
            await app.DisposeAsync();
            throw new ControllerStartupException(e.Message);
        }
    }
}

/// <summary>Runs the <see cref="LeaseElector"/> for the life of the process.</summary>
internal sealed class LeaderElectionService(LeaseElector elector) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => elector.RunAsync(stoppingToken);
}
