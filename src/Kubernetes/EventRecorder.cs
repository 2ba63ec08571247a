using System.Globalization;
using System.Net.Http;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace BgpLb.Kubernetes;

/// <summary>MetalLB's event reasons (controller and speaker), so `kubectl describe service` reads the same.</summary>
public static class EventReasons
{
    public const string IPAllocated = "IPAllocated";
    public const string AllocationFailed = "AllocationFailed";
    public const string ClearAssignment = "ClearAssignment";
    public const string LoadBalancerFailed = "LoadBalancerFailed";
    public const string DeprecatedAnnotation = "deprecatedAnnotation";
    public const string NodeAssigned = "nodeAssigned";
    public const string AnnounceFailed = "announceFailed";
}

/// <summary>
/// Records core/v1 Events on objects. A repeat of an event already recorded (same object, type, reason and message)
/// increments its count and lastTimestamp instead of creating another object, as client-go's recorder does. Recording
/// is best effort: API failures are logged, never thrown. The deduplication cache is bounded (oldest entries go first).
/// </summary>
public sealed class EventRecorder(IKubernetes client, string component, string? host, TimeProvider time, ILogger<EventRecorder> logger)
{
    public const string Normal = "Normal";
    public const string Warning = "Warning";
    internal const int CacheCapacity = 4096;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, (string Name, int Count)> _recorded = [];
    private readonly Queue<string> _order = new();

    /// <summary>A reference to <paramref name="obj"/> for <see cref="RecordAsync"/>.</summary>
    public static V1ObjectReference Reference(IKubernetesObject<V1ObjectMeta> obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        return new V1ObjectReference
        {
            ApiVersion = obj.ApiVersion,
            Kind = obj.Kind,
            NamespaceProperty = obj.Metadata.NamespaceProperty,
            Name = obj.Metadata.Name,
            Uid = obj.Metadata.Uid,
            ResourceVersion = obj.Metadata.ResourceVersion,
        };
    }

    /// <summary>A reference to a Service as the model knows it (by uid, so that kubectl describe shows the event).</summary>
    public static V1ObjectReference Reference(ServiceInfo service)
    {
        ArgumentNullException.ThrowIfNull(service);
        return new V1ObjectReference
        {
            ApiVersion = "v1",
            Kind = "Service",
            NamespaceProperty = service.Namespace,
            Name = service.Name,
            Uid = service.Uid,
        };
    }

    /// <param name="type"><see cref="Normal"/> or <see cref="Warning"/>.</param>
    public async Task RecordAsync(V1ObjectReference involved, string type, string reason, string message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(involved);
        var ns = string.IsNullOrEmpty(involved.NamespaceProperty) ? "default" : involved.NamespaceProperty;
        var key = string.Join('\0', ns, involved.Kind, involved.Name, involved.Uid, type, reason, message);
        var now = time.GetUtcNow().UtcDateTime;
        (string Name, int Count) previous;
        lock (_lock)
        {
            _recorded.TryGetValue(key, out previous);
        }
        try
        {
            if (previous.Name is not null && await IncrementAsync(ns, previous.Name, previous.Count + 1, now, cancellationToken))
            {
                Remember(key, previous.Name, previous.Count + 1);
                return;
            }
            var name = $"{involved.Name}.{(now - DateTime.UnixEpoch).Ticks * 100:x}";
            await client.CoreV1.CreateNamespacedEventAsync(new Corev1Event
            {
                Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
                InvolvedObject = involved,
                Type = type,
                Reason = reason,
                Message = message,
                Source = new V1EventSource { Component = component, Host = host },
                ReportingComponent = component,
                ReportingInstance = host ?? component,
                FirstTimestamp = now,
                LastTimestamp = now,
                Count = 1,
            }, ns, cancellationToken: cancellationToken);
            Remember(key, name, 1);
        }
        catch (Exception e) when (e is HttpOperationException or HttpRequestException || e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            KubeLog.EventFailed(logger, reason, $"{involved.Kind} {ns}/{involved.Name}", e.Message);
        }
    }

    /// <summary>Returns false when the event has gone (events expire after an hour by default) and must be created again.</summary>
    private async Task<bool> IncrementAsync(string ns, string name, int count, DateTime now, CancellationToken cancellationToken)
    {
        var patch = new JsonObject
        {
            ["count"] = count,
            ["lastTimestamp"] = now.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        };
        try
        {
            await client.CoreV1.PatchNamespacedEventAsync(ServiceStatusWriter.MergePatch(patch), name, ns, cancellationToken: cancellationToken);
            return true;
        }
        catch (HttpOperationException e) when (Conflicts.IsNotFound(e))
        {
            return false;
        }
    }

    private void Remember(string key, string name, int count)
    {
        lock (_lock)
        {
            if (!_recorded.ContainsKey(key))
            {
                _order.Enqueue(key);
                if (_order.Count > CacheCapacity)
                {
                    _recorded.Remove(_order.Dequeue());
                }
            }
            _recorded[key] = (name, count);
        }
    }
}
