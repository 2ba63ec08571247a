using System.Text.Json.Nodes;
using BgpLb.Config;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace BgpLb.Kubernetes;

/// <summary>Label keys MetalLB puts on its status objects.</summary>
public static class StatusLabels
{
    public const string Node = "metallb.io/node";
    public const string ServiceName = "metallb.io/service-name";
    public const string ServiceNamespace = "metallb.io/service-namespace";
    public const string ComponentType = "metallb.io/component-type";
    public const string NodeName = "metallb.io/node-name";
}

/// <summary>
/// Create / status-update / delete of metallb.io/v1beta1 status objects (ServiceBGPStatus, ServiceL2Status,
/// ConfigurationState) in the MetalLB namespace. Their data lives in the status subresource, so a new object is created
/// first and its status written second. Status writes carry the resourceVersion; a 409 re-reads and tries again.
/// </summary>
internal sealed class StatusObjects(IKubernetes client, string metalLbNamespace, string plural, string kind, V1OwnerReference? owner, ILogger logger)
{
    private const string Version = "v1beta1";

    public async Task<IReadOnlyList<JsonObject>> ListAsync(string labelSelector, CancellationToken cancellationToken)
    {
        var list = await client.CustomObjects.ListNamespacedCustomObjectAsync<JsonObject>(ObjectProjector.MetalLbGroup, Version, metalLbNamespace, plural,
            labelSelector: labelSelector, cancellationToken: cancellationToken);
        return [.. (list["items"] as JsonArray ?? []).OfType<JsonObject>()];
    }

    public async Task<JsonObject?> GetAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            return await client.CustomObjects.GetNamespacedCustomObjectAsync<JsonObject>(ObjectProjector.MetalLbGroup, Version, metalLbNamespace, plural, name,
                cancellationToken);
        }
        catch (HttpOperationException e) when (Conflicts.IsNotFound(e))
        {
            return null;
        }
    }

    /// <summary>Creates an object named <paramref name="name"/>, or <paramref name="generateName"/> plus a suffix, then writes its status.</summary>
    public async Task CreateAsync(string? name, string? generateName, IDictionary<string, string> labels, JsonObject status, CancellationToken cancellationToken)
    {
        var metadata = new JsonObject
        {
            ["labels"] = new JsonObject([.. labels.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value))]),
        };
        if (name is not null)
        {
            metadata["name"] = name;
        }
        else
        {
            metadata["generateName"] = generateName;
        }
        if (owner is not null)
        {
            metadata["ownerReferences"] = new JsonArray(JsonNode.Parse(KubernetesJson.Serialize(owner)));
        }
        var body = new JsonObject
        {
            ["apiVersion"] = $"{ObjectProjector.MetalLbGroup}/{Version}",
            ["kind"] = kind,
            ["metadata"] = metadata,
            ["spec"] = new JsonObject(),
        };
        var created = await client.CustomObjects.CreateNamespacedCustomObjectAsync<JsonObject>(body, ObjectProjector.MetalLbGroup, Version, metalLbNamespace, plural,
            cancellationToken: cancellationToken);
        await UpdateStatusAsync(created, status, cancellationToken);
    }

    /// <summary>Writes <paramref name="status"/> unless the object already has it. Returns false when the object has gone.</summary>
    public async Task<bool> UpdateStatusAsync(JsonObject current, JsonObject status, CancellationToken cancellationToken)
    {
        var name = current["metadata"]!["name"]!.GetValue<string>();
        var what = $"{kind} {metalLbNamespace}/{name}";
        for (var attempt = 1; ; attempt++)
        {
            if (JsonNode.DeepEquals(current["status"], status))
            {
                return true;
            }
            var updated = (JsonObject)current.DeepClone();
            updated["status"] = status.DeepClone();
            try
            {
                await client.CustomObjects.ReplaceNamespacedCustomObjectStatusAsync(updated, ObjectProjector.MetalLbGroup, Version, metalLbNamespace, plural, name,
                    cancellationToken: cancellationToken);
                KubeLog.Wrote(logger, what);
                return true;
            }
            catch (HttpOperationException e) when (Conflicts.IsConflict(e) && attempt < Conflicts.MaxAttempts)
            {
                KubeLog.WriteConflict(logger, what, attempt);
                if (await GetAsync(name, cancellationToken) is not { } reread)
                {
                    return false;
                }
                current = reread;
            }
            catch (HttpOperationException e) when (Conflicts.IsNotFound(e))
            {
                return false;
            }
        }
    }

    public async Task DeleteAsync(JsonObject obj, CancellationToken cancellationToken)
    {
        try
        {
            await client.CustomObjects.DeleteNamespacedCustomObjectAsync(ObjectProjector.MetalLbGroup, Version, metalLbNamespace, plural,
                obj["metadata"]!["name"]!.GetValue<string>(), cancellationToken: cancellationToken);
        }
        catch (HttpOperationException e) when (Conflicts.IsNotFound(e))
        {
        }
    }
}

/// <summary>
/// One status object per (Service, this node), converged to a desired set: missing ones are created, changed ones
/// updated, and ones for Services no longer in the set deleted. Used by <see cref="BgpStatusWriter"/> and <see cref="L2StatusWriter"/>.
/// </summary>
internal sealed class PerServiceStatusSet(StatusObjects objects, string node, string namePrefix)
{
    public async Task ConvergeAsync(IEnumerable<(string ServiceNamespace, string ServiceName, JsonObject Status)> desired, CancellationToken cancellationToken)
    {
        var existing = new Dictionary<(string, string), JsonObject>();
        foreach (var obj in await objects.ListAsync($"{StatusLabels.Node}={node}", cancellationToken))
        {
            var labels = obj["metadata"]?["labels"];
            var key = (labels?[StatusLabels.ServiceNamespace]?.GetValue<string>() ?? "", labels?[StatusLabels.ServiceName]?.GetValue<string>() ?? "");
            if (!existing.TryAdd(key, obj))
            {
                await objects.DeleteAsync(obj, cancellationToken); // a duplicate, e.g. left by a crash between create and status write
            }
        }
        foreach (var (ns, name, status) in desired)
        {
            status["node"] = node;
            status["serviceName"] = name;
            status["serviceNamespace"] = ns;
            if (existing.Remove((ns, name), out var current) && await objects.UpdateStatusAsync(current, status, cancellationToken))
            {
                continue;
            }
            var labels = new Dictionary<string, string>
            {
                [StatusLabels.Node] = node,
                [StatusLabels.ServiceName] = name,
                [StatusLabels.ServiceNamespace] = ns,
            };
            await objects.CreateAsync(null, namePrefix, labels, status, cancellationToken);
        }
        foreach (var stale in existing.Values)
        {
            await objects.DeleteAsync(stale, cancellationToken);
        }
    }
}
