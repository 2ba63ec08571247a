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

/// <summary>What is kept of a status object: enough to write its status again (never the whole object with its managedFields).</summary>
internal sealed record StatusObject(string Name, string ResourceVersion, JsonNode? Status)
{
    public static StatusObject Of(JsonObject obj) => new(
        obj["metadata"]!["name"]!.GetValue<string>(), obj["metadata"]!["resourceVersion"]?.GetValue<string>() ?? "", obj["status"]?.DeepClone());
}

/// <summary>
/// Create / status-update / delete of metallb.io/v1beta1 status objects (ServiceBGPStatus, ServiceL2Status,
/// ConfigurationState) in the MetalLB namespace. Their data lives in the status subresource, so a new object is created
/// first and its status written second. Status writes carry the resourceVersion; a 409 re-reads and tries again.
/// </summary>
internal sealed class StatusObjects(IKubernetes client, string metalLbNamespace, string plural, string kind, V1OwnerReference? owner, ILogger logger)
{
    private const string Version = "v1beta1";
    private static readonly string ApiVersion = $"{ObjectProjector.MetalLbGroup}/{Version}";

    public async Task<IReadOnlyList<JsonObject>> ListAsync(string labelSelector, CancellationToken cancellationToken)
    {
        var list = await client.CustomObjects.ListNamespacedCustomObjectAsync<JsonObject>(ObjectProjector.MetalLbGroup, Version, metalLbNamespace, plural,
            labelSelector: labelSelector, cancellationToken: cancellationToken);
        return [.. (list["items"] as JsonArray ?? []).OfType<JsonObject>()];
    }

    public async Task<StatusObject?> GetAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            return StatusObject.Of(await client.CustomObjects.GetNamespacedCustomObjectAsync<JsonObject>(ObjectProjector.MetalLbGroup, Version, metalLbNamespace,
                plural, name, cancellationToken));
        }
        catch (HttpOperationException e) when (Conflicts.IsNotFound(e))
        {
            return null;
        }
    }

    /// <summary>Creates an object named <paramref name="name"/>, or <paramref name="generateName"/> plus a suffix, then writes its status; returns it.</summary>
    public async Task<StatusObject> CreateAsync(string? name, string? generateName, IDictionary<string, string> labels, JsonObject status, CancellationToken cancellationToken)
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
            ["apiVersion"] = ApiVersion,
            ["kind"] = kind,
            ["metadata"] = metadata,
            ["spec"] = new JsonObject(),
        };
        var created = StatusObject.Of(await client.CustomObjects.CreateNamespacedCustomObjectAsync<JsonObject>(body, ObjectProjector.MetalLbGroup, Version,
            metalLbNamespace, plural, cancellationToken: cancellationToken));
        // Gone already (deleted between the two calls): what was created is all there is; the next write creates it again.
        return await UpdateStatusAsync(created, status, cancellationToken) ?? created;
    }

    /// <summary>
    /// Writes <paramref name="status"/> unless the object already has it. The body is the object's name, resourceVersion
    /// and status: the status subresource takes nothing else. Returns the object as written, or null when it has gone.
    /// </summary>
    public async Task<StatusObject?> UpdateStatusAsync(StatusObject current, JsonObject status, CancellationToken cancellationToken)
    {
        var what = $"{kind} {metalLbNamespace}/{current.Name}";
        for (var attempt = 1; ; attempt++)
        {
            if (JsonNode.DeepEquals(current.Status, status))
            {
                return current;
            }
            var body = new JsonObject
            {
                ["apiVersion"] = ApiVersion,
                ["kind"] = kind,
                ["metadata"] = new JsonObject { ["name"] = current.Name, ["namespace"] = metalLbNamespace, ["resourceVersion"] = current.ResourceVersion },
                ["status"] = status.DeepClone(),
            };
            try
            {
                var written = await client.CustomObjects.ReplaceNamespacedCustomObjectStatusAsync<JsonObject>(body, ObjectProjector.MetalLbGroup, Version,
                    metalLbNamespace, plural, current.Name, cancellationToken: cancellationToken);
                KubeLog.Wrote(logger, what);
                return StatusObject.Of(written);
            }
            catch (HttpOperationException e) when (Conflicts.IsConflict(e) && attempt < Conflicts.MaxAttempts)
            {
                KubeLog.WriteConflict(logger, what, attempt);
                if (await GetAsync(current.Name, cancellationToken) is not { } reread)
                {
                    return null;
                }
                current = reread;
            }
            catch (HttpOperationException e) when (Conflicts.IsNotFound(e))
            {
                return null;
            }
        }
    }

    public async Task DeleteAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            await client.CustomObjects.DeleteNamespacedCustomObjectAsync(ObjectProjector.MetalLbGroup, Version, metalLbNamespace, plural, name,
                cancellationToken: cancellationToken);
        }
        catch (HttpOperationException e) when (Conflicts.IsNotFound(e))
        {
        }
    }
}

/// <summary>
/// One status object per (Service, this node): <see cref="ConvergeAsync"/> makes the whole set match (listing what
/// exists, deleting what is stale, e.g. left by an earlier run), <see cref="SetAsync"/> then changes one Service's object
/// from what it knows without listing again. A failed write forgets what it knew, so the next call lists again.
/// Used by <see cref="BgpStatusWriter"/> and <see cref="L2StatusWriter"/>; one caller at a time.
/// </summary>
internal sealed class PerServiceStatusSet(StatusObjects objects, string node, string namePrefix)
{
    private Dictionary<(string Namespace, string Name), StatusObject>? _known;

    public async Task ConvergeAsync(IEnumerable<(string ServiceNamespace, string ServiceName, JsonObject Status)> desired, CancellationToken cancellationToken)
    {
        var known = await ListAsync(cancellationToken);
        var stale = new HashSet<(string, string)>(known.Keys);
        foreach (var (ns, name, status) in desired)
        {
            stale.Remove((ns, name));
            await SetAsync(ns, name, status, cancellationToken);
        }
        foreach (var (ns, name) in stale)
            await SetAsync(ns, name, null, cancellationToken);
    }

    /// <summary>Makes the object of Service <paramref name="ns"/>/<paramref name="name"/> show <paramref name="status"/>; null deletes it.</summary>
    public async Task SetAsync(string ns, string name, JsonObject? status, CancellationToken cancellationToken)
    {
        var known = _known ?? await ListAsync(cancellationToken);
        _known = null; // until this write is known to have worked
        if (status is null)
        {
            if (known.Remove((ns, name), out var existing))
                await objects.DeleteAsync(existing.Name, cancellationToken);
            _known = known;
            return;
        }
        status["node"] = node;
        status["serviceName"] = name;
        status["serviceNamespace"] = ns;
        if (known.TryGetValue((ns, name), out var current) && await objects.UpdateStatusAsync(current, status, cancellationToken) is { } written)
        {
            known[(ns, name)] = written;
            _known = known;
            return;
        }
        var labels = new Dictionary<string, string>
        {
            [StatusLabels.Node] = node,
            [StatusLabels.ServiceName] = name,
            [StatusLabels.ServiceNamespace] = ns,
        };
        known[(ns, name)] = await objects.CreateAsync(null, namePrefix, labels, status, cancellationToken);
        _known = known;
    }

    private async Task<Dictionary<(string, string), StatusObject>> ListAsync(CancellationToken cancellationToken)
    {
        var known = new Dictionary<(string, string), StatusObject>();
        foreach (var obj in await objects.ListAsync($"{StatusLabels.Node}={node}", cancellationToken))
        {
            var labels = obj["metadata"]?["labels"];
            var key = (labels?[StatusLabels.ServiceNamespace]?.GetValue<string>() ?? "", labels?[StatusLabels.ServiceName]?.GetValue<string>() ?? "");
            if (!known.TryAdd(key, StatusObject.Of(obj)))
                await objects.DeleteAsync(obj["metadata"]!["name"]!.GetValue<string>(), cancellationToken); // a duplicate, e.g. left by a crash between create and status write
        }
        return known;
    }
}
