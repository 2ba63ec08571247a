using k8s.Models;

namespace BgpLb.Kubernetes;

/// <summary>How an executable reaches the API server: <c>--kubeconfig FILE</c> or <c>--in-cluster</c>.</summary>
public sealed record KubernetesConnection(string? Kubeconfig, bool InCluster);

/// <summary>
/// Who this process is in the cluster, from the downward-API variables the manifests in config/ set: <c>POD_NAME</c>
/// (lease identity, event source), <c>POD_NAMESPACE</c> (where the metallb.io objects, Lease and status objects live)
/// and <c>POD_UID</c> (owner of the status objects). Outside a pod the host name and <c>metallb-system</c> stand in,
/// and status objects get no owner.
/// </summary>
public sealed record PodIdentity(string Name, string Namespace, string? Uid)
{
    public const string DefaultNamespace = "metallb-system";

    public static PodIdentity FromEnvironment(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        return new PodIdentity(
            NonEmpty(environment("POD_NAME")) ?? Environment.MachineName,
            NonEmpty(environment("POD_NAMESPACE")) ?? DefaultNamespace,
            NonEmpty(environment("POD_UID")));
    }

    /// <summary>The pod as owner of the objects it writes; null without a UID (an owner reference needs one).</summary>
    public V1OwnerReference? OwnerReference => Uid is null
        ? null
        : new V1OwnerReference { ApiVersion = "v1", Kind = "Pod", Name = Name, Uid = Uid };

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
