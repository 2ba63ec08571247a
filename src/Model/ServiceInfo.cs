using System.Net;
using System.Net.Sockets;

namespace BgpLb.Model;

/// <summary>Kubernetes spec.ipFamilyPolicy.</summary>
public enum FamilyPolicy
{
    SingleStack,
    PreferDualStack,
    RequireDualStack,
}

/// <summary>One (protocol, port) a Service exposes; two sharing Services must not have one in common.</summary>
public readonly record struct ServicePort(string Protocol, int Port)
{
    public override string ToString() => $"{Protocol}/{Port}";
}

/// <summary>
/// What BgpLb uses of one Service, read once at ingress (annotations, spec and status already interpreted).
/// Value equality: an update that changes nothing here is no change at all.
/// </summary>
/// <remarks>
/// The fields most Services leave unset live in one shared <see cref="ServiceExtras"/> object, so that 100,000 plain
/// Services do not carry seven empty references each.
/// </remarks>
public sealed record ServiceInfo
{
    private ServiceExtras _extras = ServiceExtras.None;

    /// <summary>"namespace/name".</summary>
    public required string Key { get; init; }
    public required string Namespace { get; init; }
    public string Name => Key[(Namespace.Length + 1)..];

    /// <summary>metadata.uid (null when the source has none, e.g. a YAML file): events name the Service by it.</summary>
    public string? Uid { get => _extras.Uid; init => _extras = ServiceExtras.Share(_extras with { Uid = value }); }

    /// <summary>
    /// spec.type LoadBalancer. Other Services are kept only while they still carry an allocation of ours
    /// (<see cref="AllocatedFromPool"/>), so that the controller can clear it.
    /// </summary>
    public bool IsLoadBalancer { get; init; } = true;
    public string? LoadBalancerClass { get => _extras.LoadBalancerClass; init => _extras = ServiceExtras.Share(_extras with { LoadBalancerClass = value }); }
    public LabelDictionary Labels { get; init; } = LabelDictionary.Empty;

    /// <summary>externalTrafficPolicy Local: announce only from nodes with a serving endpoint.</summary>
    public bool LocalTrafficPolicy { get; init; }

    /// <summary>"" for externalTrafficPolicy Cluster; the pod selector as a sorted k=v list for Local (sharing Services must have equal keys).</summary>
    public string BackendKey { get => _extras.BackendKey; init => _extras = ServiceExtras.Share(_extras with { BackendKey = value }); }

    public EquatableArray<ServicePort> Ports { get; init; } = [];
    public FamilyPolicy Policy { get; init; }

    /// <summary>The families the Service may get, primary first (one for SingleStack, two otherwise).</summary>
    public EquatableArray<AddressFamily> Families { get; init; } = ServiceFamilies.IPv4;

    /// <summary>metallb.io/loadBalancerIPs or spec.loadBalancerIP: at most one address per family.</summary>
    public EquatableArray<IPAddress> RequestedAddresses { get => _extras.RequestedAddresses; init => _extras = ServiceExtras.Share(_extras with { RequestedAddresses = value }); }

    /// <summary>metallb.io/address-pool.</summary>
    public string? Pool { get => _extras.Pool; init => _extras = ServiceExtras.Share(_extras with { Pool = value }); }

    /// <summary>metallb.io/allow-shared-ip; null when the Service does not share.</summary>
    public string? SharingKey { get => _extras.SharingKey; init => _extras = ServiceExtras.Share(_extras with { SharingKey = value }); }

    /// <summary>status.loadBalancer.ingress[].ip: the addresses the Service shows.</summary>
    public EquatableArray<IPAddress> Ingress { get; init; } = [];

    /// <summary>metallb.io/ip-allocated-from-pool: the pool the controller wrote.</summary>
    public string? AllocatedFromPool { get => _extras.AllocatedFromPool; init => _extras = ServiceExtras.Share(_extras with { AllocatedFromPool = value }); }

    /// <summary>Why the Service's request is unusable (e.g. both the annotation and spec.loadBalancerIP); null when it is fine.</summary>
    public string? Problem { get => _extras.Problem; init => _extras = ServiceExtras.Share(_extras with { Problem = value }); }

    /// <summary>The deprecated metallb.universe.tf/* annotations the Service uses (still honoured), sorted.</summary>
    public EquatableArray<string> DeprecatedAnnotations { get => _extras.DeprecatedAnnotations; init => _extras = ServiceExtras.Share(_extras with { DeprecatedAnnotations = value }); }

    /// <summary>metallb.io/* or metallb.universe.tf/* annotations that MetalLB does not know (typos: ignored), sorted.</summary>
    public EquatableArray<string> UnknownAnnotations { get => _extras.UnknownAnnotations; init => _extras = ServiceExtras.Share(_extras with { UnknownAnnotations = value }); }

    /// <summary>With no class configured only Services without a class are handled; otherwise only Services of that class.</summary>
    public bool HasClass(string? configuredClass) =>
        string.IsNullOrEmpty(configuredClass) ? LoadBalancerClass is null : LoadBalancerClass == configuredClass;

    /// <summary>A LoadBalancer Service of our class: the ones BgpLb allocates and announces.</summary>
    public bool IsOurs(string? configuredClass) => IsLoadBalancer && HasClass(configuredClass);

    private sealed record ServiceExtras
    {
        public static ServiceExtras None { get; } = new();

        public static ServiceExtras Share(ServiceExtras extras) => extras.Equals(None) ? None : extras;

        public string? Uid { get; init; }
        public string? LoadBalancerClass { get; init; }
        public string BackendKey { get; init; } = "";
        public EquatableArray<IPAddress> RequestedAddresses { get; init; } = [];
        public string? Pool { get; init; }
        public string? SharingKey { get; init; }
        public string? AllocatedFromPool { get; init; }
        public string? Problem { get; init; }
        public EquatableArray<string> DeprecatedAnnotations { get; init; } = [];
        public EquatableArray<string> UnknownAnnotations { get; init; } = [];
    }
}

/// <summary>Shared family lists, so that 100,000 Services do not hold 100,000 equal arrays.</summary>
public static class ServiceFamilies
{
    public static EquatableArray<AddressFamily> IPv4 { get; } = [AddressFamily.InterNetwork];
    public static EquatableArray<AddressFamily> IPv6 { get; } = [AddressFamily.InterNetworkV6];
    public static EquatableArray<AddressFamily> IPv4IPv6 { get; } = [AddressFamily.InterNetwork, AddressFamily.InterNetworkV6];
    public static EquatableArray<AddressFamily> IPv6IPv4 { get; } = [AddressFamily.InterNetworkV6, AddressFamily.InterNetwork];

    /// <summary>SingleStack keeps the primary family; the dual-stack policies get both, the primary first.</summary>
    public static EquatableArray<AddressFamily> Complete(FamilyPolicy policy, AddressFamily primary) => (policy, primary) switch
    {
        (FamilyPolicy.SingleStack, AddressFamily.InterNetworkV6) => IPv6,
        (FamilyPolicy.SingleStack, _) => IPv4,
        (_, AddressFamily.InterNetworkV6) => IPv6IPv4,
        _ => IPv4IPv6,
    };

    public static string Name(AddressFamily family) => family == AddressFamily.InterNetwork ? "IPv4" : "IPv6";
}

/// <summary>MetalLB's Service annotations and the labels it reads, with their deprecated metallb.universe.tf twins.</summary>
public static class MetalLbNames
{
    public const string LoadBalancerIPsAnnotation = "metallb.io/loadBalancerIPs";
    public const string LegacyLoadBalancerIPsAnnotation = "metallb.universe.tf/loadBalancerIPs";
    public const string AddressPoolAnnotation = "metallb.io/address-pool";
    public const string LegacyAddressPoolAnnotation = "metallb.universe.tf/address-pool";
    public const string AllowSharedIPAnnotation = "metallb.io/allow-shared-ip";
    public const string LegacyAllowSharedIPAnnotation = "metallb.universe.tf/allow-shared-ip";
    public const string AllocatedFromPoolAnnotation = "metallb.io/ip-allocated-from-pool";
    public const string LegacyAllocatedFromPoolAnnotation = "metallb.universe.tf/ip-allocated-from-pool";
    public const string ServiceNameLabel = "kubernetes.io/service-name";
    public const string ExcludeFromLoadBalancersLabel = "node.kubernetes.io/exclude-from-external-load-balancers";

    /// <summary>The deprecated Service annotations, each with the name that replaces it.</summary>
    public static IReadOnlyDictionary<string, string> DeprecatedAnnotations { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        [LegacyLoadBalancerIPsAnnotation] = LoadBalancerIPsAnnotation,
        [LegacyAddressPoolAnnotation] = AddressPoolAnnotation,
        [LegacyAllowSharedIPAnnotation] = AllowSharedIPAnnotation,
        [LegacyAllocatedFromPoolAnnotation] = AllocatedFromPoolAnnotation,
    };

    /// <summary>Whether <paramref name="annotation"/> is in MetalLB's namespaces (metallb.io/, metallb.universe.tf/) but not one it reads.</summary>
    public static bool IsUnknownAnnotation(string annotation) =>
        (annotation.StartsWith("metallb.io/", StringComparison.Ordinal) || annotation.StartsWith("metallb.universe.tf/", StringComparison.Ordinal))
        && annotation is not (LoadBalancerIPsAnnotation or AddressPoolAnnotation or AllowSharedIPAnnotation or AllocatedFromPoolAnnotation)
        && !DeprecatedAnnotations.ContainsKey(annotation);
}
