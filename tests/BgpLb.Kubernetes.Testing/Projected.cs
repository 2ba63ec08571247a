using System.Reflection;
using System.Text.Json;
using BgpLb.Config;
using k8s;
using k8s.Models;

namespace BgpLb.Kubernetes.Testing;

/// <summary>
/// Kubernetes objects as the product sees them: serialized as the API server would send them and read by the one
/// ingress projector (<see cref="ObjectProjector"/>), so tests build Services with KubernetesClient's models and get the
/// model records the components consume.
/// </summary>
public static class Projected
{
    private static readonly ConfigOptions Options = new();

    /// <summary>The object's projection; null when BgpLb does not use it (e.g. a ClusterIP Service).</summary>
    public static object? Value(IKubernetesObject<V1ObjectMeta> resource)
    {
        ArgumentNullException.ThrowIfNull(resource);
        var projection = Project(resource);
        return Assert(projection).Value;
    }

    public static ServiceInfo Service(V1Service service) => (ServiceInfo)(Value(service) ?? throw new InvalidOperationException("not a Service BgpLb uses"));

    public static EndpointSliceInfo Slice(V1EndpointSlice slice) => (EndpointSliceInfo)Value(slice)!;

    public static NodeInfo Node(V1Node node) => (NodeInfo)Value(node)!;

    public static NamespaceInfo Namespace(V1Namespace ns) => (NamespaceInfo)Value(ns)!;

    /// <summary>A change that puts <paramref name="resource"/> into a <see cref="ResourceBatch"/>.</summary>
    public static ResourceChange Change(IKubernetesObject<V1ObjectMeta> resource)
    {
        var source = Assert(Project(resource));
        return new ResourceChange(source.Key, source.Value);
    }

    private static Projection Project(IKubernetesObject<V1ObjectMeta> resource)
    {
        using var document = JsonDocument.Parse(KubernetesJson.Serialize(resource));
        var projection = new Projection();
        var entity = resource.GetType().GetCustomAttribute<KubernetesEntityAttribute>()!;
        var apiVersion = string.IsNullOrEmpty(entity.Group) ? entity.ApiVersion : $"{entity.Group}/{entity.ApiVersion}";
        ObjectProjector.Project("test", null, document.RootElement, Options, projection, (apiVersion, entity.Kind));
        return projection;
    }

    private static SourceObject Assert(Projection projection) =>
        projection.Problems.Count > 0
            ? throw new InvalidOperationException(string.Join("; ", projection.Problems))
            : projection.Objects.Single();
}
