using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using BgpLb.Config;
using k8s.Models;

namespace BgpLb.Allocation;

/// <summary>Reads a Service the way MetalLB's controller does (annotations, deprecated twins, families, ports).</summary>
public static class ServiceRequests
{
    public const string AddressPoolAnnotation = "metallb.io/address-pool";
    public const string LegacyAddressPoolAnnotation = "metallb.universe.tf/address-pool";
    public const string AllowSharedIPAnnotation = "metallb.io/allow-shared-ip";
    public const string LegacyAllowSharedIPAnnotation = "metallb.universe.tf/allow-shared-ip";

    /// <summary>
    /// The requests for every Service the controller handles: type LoadBalancer and of <paramref name="loadBalancerClass"/>
    /// (no class configured: only Services without one).
    /// </summary>
    public static IEnumerable<AllocationRequest> FromConfig(BgpLbConfig config, string? loadBalancerClass = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        var namespaceLabels = config.Namespaces
            .Where(n => n.Metadata?.Name is not null)
            .ToDictionary(n => n.Metadata.Name, n => n.Metadata.Labels, StringComparer.Ordinal);
        return config.Services
            .Where(s => ServiceHelpers.IsLoadBalancer(s) && ServiceHelpers.MatchesLoadBalancerClass(s, loadBalancerClass))
            .Select(s => FromService(s, namespaceLabels.GetValueOrDefault(NamespaceOf(s))));
    }

    public static string NamespaceOf(V1Service service) =>
        string.IsNullOrEmpty(service?.Metadata?.NamespaceProperty) ? "default" : service.Metadata.NamespaceProperty;

    public static string KeyOf(V1Service service) => $"{NamespaceOf(service)}/{service.Metadata?.Name}";

    public static AllocationRequest FromService(V1Service service, IDictionary<string, string>? namespaceLabels)
    {
        ArgumentNullException.ThrowIfNull(service);
        var annotations = service.Metadata?.Annotations;
        var spec = service.Spec ?? new V1ServiceSpec();
        var problems = new List<string>();

        var requested = RequestedAddresses(annotations, spec.LoadBalancerIP, problems);
        var policy = spec.IpFamilyPolicy switch
        {
            null or "" or "SingleStack" => FamilyPolicy.SingleStack,
            "PreferDualStack" => FamilyPolicy.PreferDualStack,
            "RequireDualStack" => FamilyPolicy.RequireDualStack,
            var other => Invalid(problems, $"unknown spec.ipFamilyPolicy '{other}'"),
        };
        var declared = DeclaredFamilies(spec, problems);
        if (policy == FamilyPolicy.RequireDualStack && declared.Length == 1)
            problems.Add("RequireDualStack needs two IP families but spec.ipFamilies/clusterIPs name one");
        ImmutableArray<IPAddress> current = [.. Parse(service.Status?.LoadBalancer?.Ingress?.Select(i => i.Ip) ?? [], null)];
        // Without ipFamilies or clusterIPs (a Service written by hand for standalone mode) the address it asks for or
        // already holds names its primary family; with none of those either, IPv4.
        var primary = declared.IsEmpty ? requested.Concat(current).Select(a => a.AddressFamily).Take(1).ToImmutableArray() : declared;

        return new AllocationRequest
        {
            Key = KeyOf(service),
            Namespace = NamespaceOf(service),
            Labels = service.Metadata?.Labels,
            NamespaceLabels = namespaceLabels,
            Policy = policy,
            // A single declared family on PreferDualStack means a single-stack cluster: keep one family, as MetalLB does.
            Families = policy == FamilyPolicy.PreferDualStack && declared.Length == 1 ? declared : CompleteFamilies(policy, primary),
            RequestedAddresses = requested,
            Pool = Annotation(annotations, AddressPoolAnnotation, LegacyAddressPoolAnnotation),
            SharingKey = Annotation(annotations, AllowSharedIPAnnotation, LegacyAllowSharedIPAnnotation),
            BackendKey = ServiceHelpers.IsLocalTrafficPolicy(service) ? SelectorKey(spec.Selector) : "",
            Ports = [.. (spec.Ports ?? []).Select(p => new ServicePort(string.IsNullOrEmpty(p.Protocol) ? "TCP" : p.Protocol, p.Port)).Distinct()],
            CurrentAddresses = current,
            Problem = problems.Count == 0 ? null : string.Join("; ", problems),
        };
    }

    /// <summary>SingleStack keeps the primary family; the dual-stack policies get both, the declared primary first.</summary>
    internal static ImmutableArray<AddressFamily> CompleteFamilies(FamilyPolicy policy, ImmutableArray<AddressFamily> declared)
    {
        var primary = declared.IsDefaultOrEmpty ? AddressFamily.InterNetwork : declared[0];
        if (policy == FamilyPolicy.SingleStack)
            return [primary];
        return [primary, primary == AddressFamily.InterNetwork ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork];
    }

    private static FamilyPolicy Invalid(List<string> problems, string problem)
    {
        problems.Add(problem);
        return FamilyPolicy.SingleStack;
    }

    private static ImmutableArray<AddressFamily> DeclaredFamilies(V1ServiceSpec spec, List<string> problems)
    {
        if (spec.IpFamilies is { Count: > 0 } names)
        {
            var families = new List<AddressFamily>();
            foreach (var name in names)
            {
                AddressFamily? family = name switch { "IPv4" => AddressFamily.InterNetwork, "IPv6" => AddressFamily.InterNetworkV6, _ => null };
                if (family is null)
                    problems.Add($"unknown IP family '{name}' in spec.ipFamilies (IPv4, IPv6)");
                else if (!families.Contains(family.Value))
                    families.Add(family.Value);
            }
            return [.. families];
        }
        var clusterIPs = spec.ClusterIPs is { Count: > 0 } ips ? ips : [spec.ClusterIP];
        return [.. Parse(clusterIPs.Where(ip => ip is not null && ip != "None"), null).Select(a => a.AddressFamily).Distinct()];
    }

    private static ImmutableArray<IPAddress> RequestedAddresses(IDictionary<string, string>? annotations, string? loadBalancerIP, List<string> problems)
    {
        var annotation = Annotation(annotations, ServiceHelpers.LoadBalancerIPsAnnotation, ServiceHelpers.LegacyLoadBalancerIPsAnnotation);
        var hasSpecIP = !string.IsNullOrWhiteSpace(loadBalancerIP);
        if (annotation is not null && hasSpecIP)
        {
            problems.Add($"service can not have both {ServiceHelpers.LoadBalancerIPsAnnotation} and spec.loadBalancerIP");
            return [];
        }
        var source = annotation is not null ? ServiceHelpers.LoadBalancerIPsAnnotation : "spec.loadBalancerIP";
        var texts = annotation is not null ? annotation.Split(',') : hasSpecIP ? [loadBalancerIP!] : [];
        var addresses = Parse(texts, text => problems.Add($"invalid IP '{text}' in {source}"));
        if (addresses.Count > 2 || addresses.Count == 2 && addresses[0].AddressFamily == addresses[1].AddressFamily)
        {
            problems.Add($"{source} may name at most one address per IP family, got {string.Join(", ", addresses)}");
            return [];
        }
        return [.. addresses];
    }

    private static List<IPAddress> Parse(IEnumerable<string?> texts, Action<string>? invalid)
    {
        var result = new List<IPAddress>();
        foreach (var text in texts)
        {
            if (string.IsNullOrWhiteSpace(text))
                continue;
            if (StrictIP.TryParse(text.Trim(), out var address))
            {
                if (!result.Contains(address))
                    result.Add(address);
            }
            else
            {
                invalid?.Invoke(text.Trim());
            }
        }
        return result;
    }

    private static string? Annotation(IDictionary<string, string>? annotations, string name, string legacyName) =>
        annotations is not null && (annotations.TryGetValue(name, out var value) || annotations.TryGetValue(legacyName, out value))
        && !string.IsNullOrWhiteSpace(value)
            ? value.Trim()
            : null;

    /// <summary>MetalLB's backend key for externalTrafficPolicy Local: the selector as a sorted k=v list.</summary>
    private static string SelectorKey(IDictionary<string, string>? selector) =>
        selector is null ? "" : string.Join(',', selector.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));
}
