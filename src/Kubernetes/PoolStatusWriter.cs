using System.Text.Json.Nodes;
using BgpLb.Config;
using k8s;
using k8s.Autorest;
using Microsoft.Extensions.Logging;

namespace BgpLb.Kubernetes;

/// <summary>An IPAddressPool's status as MetalLB (v0.14+) writes it: addresses assigned and available, per family.</summary>
public readonly record struct PoolStatus(long AssignedIPv4, long AssignedIPv6, long AvailableIPv4, long AvailableIPv6);

/// <summary>Writes IPAddressPool status (metallb.io/v1beta1, status subresource) with a JSON merge patch.</summary>
public sealed class PoolStatusWriter(IKubernetes client, string metalLbNamespace, ILogger<PoolStatusWriter> logger)
{
    private const string Version = "v1beta1";

    /// <summary>A pool that does not exist (any more) is skipped; other API errors throw <see cref="HttpOperationException"/>.</summary>
    public async Task WriteAsync(string pool, PoolStatus status, CancellationToken cancellationToken)
    {
        var patch = new JsonObject
        {
            ["status"] = new JsonObject
            {
                ["assignedIPv4"] = status.AssignedIPv4,
                ["assignedIPv6"] = status.AssignedIPv6,
                ["availableIPv4"] = status.AvailableIPv4,
                ["availableIPv6"] = status.AvailableIPv6,
            },
        };
        var what = $"the status of IPAddressPool {metalLbNamespace}/{pool}";
        try
        {
            await client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(ServiceStatusWriter.MergePatch(patch), ObjectProjector.MetalLbGroup, Version,
                metalLbNamespace, "ipaddresspools", pool, cancellationToken: cancellationToken);
            KubeLog.Wrote(logger, what);
        }
        catch (HttpOperationException e) when (Conflicts.IsNotFound(e))
        {
            // deleted meanwhile: nothing to show
        }
    }
}
