using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;

namespace BgpLb.Allocation;

/// <summary>
/// What one consumer asks of the allocator: a LoadBalancer Service (<see cref="ForService"/>) or a
/// named allocation made over gRPC by a tool outside Kubernetes (<see cref="External"/>).
/// </summary>
public sealed record AllocationRequest
{
    /// <summary>"namespace/name" for Services; the caller-chosen name (no '/') for external allocations.</summary>
    public required string Key { get; init; }

    /// <summary>The Service's namespace; empty for external allocations.</summary>
    public string Namespace { get; init; } = "";
    public IReadOnlyDictionary<string, string>? Labels { get; init; }
    public IReadOnlyDictionary<string, string>? NamespaceLabels { get; init; }

    public FamilyPolicy Policy { get; init; } = FamilyPolicy.SingleStack;

    /// <summary>The families the consumer may get, primary first (one for SingleStack, two otherwise).</summary>
    public ImmutableArray<AddressFamily> Families { get; init; } = [AddressFamily.InterNetwork];

    /// <summary>Explicitly requested addresses (metallb.io/loadBalancerIPs or spec.loadBalancerIP), at most one per family.</summary>
    public ImmutableArray<IPAddress> RequestedAddresses { get; init; } = [];

    /// <summary>metallb.io/address-pool.</summary>
    public string? Pool { get; init; }

    /// <summary>metallb.io/allow-shared-ip; null when the consumer does not share.</summary>
    public string? SharingKey { get; init; }

    /// <summary>"" for externalTrafficPolicy Cluster; the pod selector for Local (sharing Services must have equal keys).</summary>
    public string BackendKey { get; init; } = "";

    public ImmutableArray<ServicePort> Ports { get; init; } = [];

    /// <summary>Addresses the consumer holds according to itself (status.loadBalancer.ingress); used when there is no previous allocation.</summary>
    public ImmutableArray<IPAddress> CurrentAddresses { get; init; } = [];

    /// <summary>Why the request itself is unusable (e.g. both the annotation and spec.loadBalancerIP); null when it is fine.</summary>
    public string? Problem { get; init; }

    public bool IsExternal => Namespace.Length == 0;

    /// <summary>A named allocation for a tool outside Kubernetes. It can use pools without a namespace or selector restriction.</summary>
    public static AllocationRequest External(string name, FamilyPolicy policy = FamilyPolicy.SingleStack,
        ImmutableArray<AddressFamily> families = default, string? pool = null, ImmutableArray<IPAddress> requestedAddresses = default,
        string? sharingKey = null, ImmutableArray<ServicePort> ports = default)
    {
        var chosen = families.IsDefaultOrEmpty ? [AddressFamily.InterNetwork] : families;
        var requested = requestedAddresses.IsDefault ? [] : requestedAddresses.Select(a => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a).Distinct().ToImmutableArray();
        return new AllocationRequest
        {
            Key = name,
            Policy = policy,
            Families = [.. ServiceFamilies.Complete(policy, chosen[0])],
            Pool = string.IsNullOrEmpty(pool) ? null : pool,
            RequestedAddresses = requested,
            SharingKey = string.IsNullOrEmpty(sharingKey) ? null : sharingKey,
            Ports = ports.IsDefault ? [] : ports,
            Problem = ValidateExternalName(name) ?? ValidateRequested(requested),
        };
    }

    /// <summary>The request of a Service as read at ingress; <paramref name="namespaceLabels"/> are its Namespace's labels.</summary>
    public static AllocationRequest ForService(ServiceInfo service, IReadOnlyDictionary<string, string>? namespaceLabels)
    {
        ArgumentNullException.ThrowIfNull(service);
        return new AllocationRequest
        {
            Key = service.Key,
            Namespace = service.Namespace,
            Labels = service.Labels,
            NamespaceLabels = namespaceLabels,
            Policy = service.Policy,
            Families = service.Families.AsImmutableArray(),
            RequestedAddresses = service.RequestedAddresses.AsImmutableArray(),
            Pool = service.Pool,
            SharingKey = service.SharingKey,
            BackendKey = service.BackendKey,
            Ports = service.Ports.AsImmutableArray(),
            CurrentAddresses = service.Ingress.AsImmutableArray(),
            Problem = service.Problem,
        };
    }

    // As for Services: an allocation holds at most one address per family.
    private static string? ValidateRequested(ImmutableArray<IPAddress> requested) =>
        requested.Length > 2 || requested.Length == 2 && requested[0].AddressFamily == requested[1].AddressFamily
            ? $"requested addresses may name at most one address per IP family, got {string.Join(", ", requested)}"
            : null;

    /// <summary>Null when <paramref name="name"/> is usable as an external allocation name.</summary>
    public static string? ValidateExternalName(string name) =>
        string.IsNullOrWhiteSpace(name) ? "the allocation name must not be empty"
        : name.Contains('/', StringComparison.Ordinal) ? $"allocation name '{name}' must not contain '/' (reserved for namespace/name of Services)"
        : name.Length > 253 ? "the allocation name must be at most 253 characters"
        : null;
}
