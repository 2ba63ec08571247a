using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace BgpLb.Kubernetes;

/// <summary>
/// Writes a Service's allocation as MetalLB does: <c>status.loadBalancer.ingress[].ip</c> (status subresource) and the
/// <c>metallb.io/ip-allocated-from-pool</c> annotation. Both are JSON merge patches carrying the resourceVersion just
/// read, so a concurrent change is never overwritten: a 409 Conflict re-reads the Service and tries again.
/// </summary>
public sealed class ServiceStatusWriter(IKubernetes client, ILogger<ServiceStatusWriter> logger)
{
    public const string PoolAnnotation = "metallb.io/ip-allocated-from-pool";

    /// <summary>
    /// Makes the Service show <paramref name="addresses"/> (empty clears the ingress) and <paramref name="pool"/> (null
    /// removes the annotation); writes nothing that is already so. Returns false when the Service does not exist (any
    /// more). Throws <see cref="HttpOperationException"/> for other API errors or after repeated conflicts.
    /// </summary>
    public async Task<bool> WriteAsync(string serviceNamespace, string serviceName, IReadOnlyList<IPAddress> addresses, string? pool,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        var what = $"status of Service {serviceNamespace}/{serviceName}";
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var service = await client.CoreV1.ReadNamespacedServiceAsync(serviceName, serviceNamespace, cancellationToken: cancellationToken);
                var resourceVersion = service.Metadata.ResourceVersion;
                if (CurrentPool(service) != pool)
                {
                    var patch = new JsonObject
                    {
                        ["metadata"] = new JsonObject
                        {
                            ["resourceVersion"] = resourceVersion,
                            ["annotations"] = new JsonObject { [PoolAnnotation] = pool },
                        },
                    };
                    service = await client.CoreV1.PatchNamespacedServiceAsync(MergePatch(patch), serviceName, serviceNamespace,
                        cancellationToken: cancellationToken);
                    resourceVersion = service.Metadata.ResourceVersion;
                }
                var current = service.Status?.LoadBalancer?.Ingress?.Select(i => i.Ip).ToList() ?? [];
                if (!current.SequenceEqual(addresses.Select(a => a.ToString())))
                {
                    var patch = new JsonObject
                    {
                        ["metadata"] = new JsonObject { ["resourceVersion"] = resourceVersion },
                        ["status"] = new JsonObject
                        {
                            ["loadBalancer"] = new JsonObject
                            {
                                ["ingress"] = addresses.Count == 0
                                    ? null
                                    : new JsonArray([.. addresses.Select(a => new JsonObject { ["ip"] = a.ToString() })]),
                            },
                        },
                    };
                    await client.CoreV1.PatchNamespacedServiceStatusAsync(MergePatch(patch), serviceName, serviceNamespace,
                        cancellationToken: cancellationToken);
                }
                KubeLog.Wrote(logger, what);
                return true;
            }
            catch (HttpOperationException e) when (Conflicts.IsNotFound(e))
            {
                return false;
            }
            catch (HttpOperationException e) when (Conflicts.IsConflict(e) && attempt < Conflicts.MaxAttempts)
            {
                KubeLog.WriteConflict(logger, what, attempt);
            }
        }
    }

    private static string? CurrentPool(V1Service service) =>
        service.Metadata.Annotations is { } annotations && annotations.TryGetValue(PoolAnnotation, out var value) ? value : null;

    internal static V1Patch MergePatch(JsonObject patch) => new(patch.ToJsonString(), V1Patch.PatchType.MergePatch);
}
