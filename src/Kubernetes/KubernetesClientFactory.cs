using k8s;

namespace BgpLb.Kubernetes;

/// <summary>Builds the API client an executable selected with <c>--kubeconfig FILE</c> or <c>--in-cluster</c>.</summary>
public static class KubernetesClientFactory
{
    /// <summary>
    /// Exactly one of <paramref name="kubeconfig"/> and <paramref name="inCluster"/> must be given. Throws
    /// <see cref="ArgumentException"/> otherwise, and KubernetesClient's <c>KubeConfigException</c> for an unusable file or
    /// when the process is not running in a pod.
    /// </summary>
    public static IKubernetes Create(string? kubeconfig, bool inCluster)
    {
        if (string.IsNullOrEmpty(kubeconfig) == !inCluster)
        {
            throw new ArgumentException("give exactly one of --kubeconfig FILE and --in-cluster");
        }
        var configuration = inCluster
            ? KubernetesClientConfiguration.InClusterConfig()
            : KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig);
        return new k8s.Kubernetes(configuration);
    }
}
