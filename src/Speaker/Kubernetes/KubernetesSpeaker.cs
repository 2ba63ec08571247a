using BgpLb.Config;
using BgpLb.Kubernetes;
using BgpLb.L2.Announcing;
using k8s;
using k8s.Exceptions;


namespace BgpLb.Speaker.Kubernetes;

/// <summary>The services of Kubernetes mode: the API server as configuration source, and the status writers.</summary>
internal static class KubernetesSpeaker
{
    public const string Component = "bgplb-speaker";

    public static IServiceCollection AddKubernetesSpeaker(this IServiceCollection services, SpeakerOptions options, KubernetesConnection connection,
        PodIdentity identity)
    {
        var node = options.NodeName;
        services.AddSingleton(_ => KubernetesClientFactory.Create(connection.Kubeconfig, connection.InCluster));
        services.AddSingleton(new ConfigOptions { MetalLbNamespace = identity.Namespace });
        services.AddSingleton(new KubeStoreOptions());
        services.AddSingleton<KubeStore>();
        services.AddSingleton<IResourceSource>(sp => sp.GetRequiredService<KubeStore>());
        services.AddSingleton(sp => new BgpStatusWriter(sp.GetRequiredService<IKubernetes>(), identity.Namespace, node, identity.OwnerReference,
            sp.GetRequiredService<ILogger<BgpStatusWriter>>()));
        services.AddSingleton(sp => new L2StatusWriter(sp.GetRequiredService<IKubernetes>(), identity.Namespace, node, identity.OwnerReference,
            sp.GetRequiredService<ILogger<L2StatusWriter>>()));
        services.AddSingleton(sp => new ConfigurationStateWriter(sp.GetRequiredService<IKubernetes>(), identity.Namespace, "speaker", node,
            identity.OwnerReference, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ConfigurationStateWriter>>()));
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<EventRecorder>(sp, Component, node));
        services.AddSingleton(sp =>
        {
            var status = ActivatorUtilities.CreateInstance<SpeakerStatusService>(sp);
            sp.GetRequiredService<L2Announcer>().ConflictDetected += status.Conflicted;
            return status;
        });
        services.AddSingleton<ISpeakerObserver>(sp => sp.GetRequiredService<SpeakerStatusService>());
        services.AddHostedService(sp => sp.GetRequiredService<SpeakerStatusService>());
        return services;
    }

    /// <summary>Builds the API client; false (logged) for an unusable kubeconfig or when not running in a pod.</summary>
    public static bool CanConnect(IServiceProvider services, ILogger logger)
    {
        try
        {
            services.GetRequiredService<IKubernetes>();
            return true;
        }
        catch (Exception e) when (e is KubeConfigException or IOException or ArgumentException)
        {
            SpeakerKubeLog.UnusableKubernetesConnection(logger, e.Message);
            return false;
        }
    }
}
