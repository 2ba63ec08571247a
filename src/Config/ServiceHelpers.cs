using System.Net;
using k8s.Models;

namespace BgpLb.Config;

/// <summary>MetalLB's rules for reading Services, EndpointSlices and Nodes (pure functions).</summary>
public static class ServiceHelpers
{
    public const string LoadBalancerIPsAnnotation = "metallb.io/loadBalancerIPs";
    public const string LegacyLoadBalancerIPsAnnotation = "metallb.universe.tf/loadBalancerIPs";
    public const string ServiceNameLabel = "kubernetes.io/service-name";
    public const string ExcludeFromLoadBalancersLabel = "node.kubernetes.io/exclude-from-external-load-balancers";

    public static bool IsLoadBalancer(V1Service service) => service.Spec?.Type == "LoadBalancer";

    /// <summary>With no class configured only Services without a class are handled; otherwise only Services of that class.</summary>
    public static bool MatchesLoadBalancerClass(V1Service service, string? configuredClass) =>
        string.IsNullOrEmpty(configuredClass)
            ? string.IsNullOrEmpty(service.Spec?.LoadBalancerClass)
            : service.Spec?.LoadBalancerClass == configuredClass;

    /// <summary>externalTrafficPolicy: Local (announce only from nodes with a serving endpoint); anything else is Cluster.</summary>
    public static bool IsLocalTrafficPolicy(V1Service service) => service.Spec?.ExternalTrafficPolicy == "Local";

    /// <summary>
    /// The addresses the Service already has, from the first source that has any: status.loadBalancer.ingress[].ip,
    /// the metallb.io/loadBalancerIPs annotation (or its metallb.universe.tf twin), spec.loadBalancerIP.
    /// Unparseable entries are skipped.
    /// </summary>
    public static IReadOnlyList<IPAddress> ExistingAddresses(V1Service service)
    {
        var ingress = Parse(service.Status?.LoadBalancer?.Ingress?.Select(i => i.Ip));
        if (ingress.Count > 0)
        {
            return ingress;
        }
        var annotations = service.Metadata?.Annotations;
        if (annotations is not null
            && (annotations.TryGetValue(LoadBalancerIPsAnnotation, out var list) || annotations.TryGetValue(LegacyLoadBalancerIPsAnnotation, out list)))
        {
            var requested = Parse(list.Split(','));
            if (requested.Count > 0)
            {
                return requested;
            }
        }
        return Parse([service.Spec?.LoadBalancerIP]);
    }

    /// <summary>An endpoint can serve when conditions.ready is unset or true, or conditions.serving is true (terminating but serving).</summary>
    public static bool CanServe(V1Endpoint endpoint) =>
        endpoint.Conditions?.Ready is null or true || endpoint.Conditions.Serving == true;

    /// <summary>The EndpointSlices of <paramref name="service"/>: same namespace, label kubernetes.io/service-name.</summary>
    public static IEnumerable<V1EndpointSlice> SlicesOf(V1Service service, IEnumerable<V1EndpointSlice> slices) =>
        slices.Where(s => s.Metadata?.NamespaceProperty == service.Metadata?.NamespaceProperty
            && s.Metadata?.Labels?.TryGetValue(ServiceNameLabel, out var name) == true && name == service.Metadata?.Name);

    public static bool HasServingEndpoint(V1Service service, IEnumerable<V1EndpointSlice> slices) =>
        SlicesOf(service, slices).Any(s => s.Endpoints?.Any(CanServe) == true);

    public static bool HasServingEndpointOnNode(V1Service service, IEnumerable<V1EndpointSlice> slices, string nodeName) =>
        SlicesOf(service, slices).Any(s => s.Endpoints?.Any(e => e.NodeName == nodeName && CanServe(e)) == true);

    /// <summary>Nodes that must not announce: NetworkUnavailable condition True, or the exclude-from-external-load-balancers label.</summary>
    public static bool IsExcludedFromLoadBalancers(V1Node node) =>
        node.Metadata?.Labels?.ContainsKey(ExcludeFromLoadBalancersLabel) == true
        || node.Status?.Conditions?.Any(c => c.Type == "NetworkUnavailable" && c.Status == "True") == true;

    /// <summary>The node's first InternalIP address in status.addresses, if any.</summary>
    public static IPAddress? InternalAddress(V1Node node) =>
        Parse(node.Status?.Addresses?.Where(a => a.Type == "InternalIP").Select(a => a.Address)).FirstOrDefault();

    private static List<IPAddress> Parse(IEnumerable<string?>? texts)
    {
        var result = new List<IPAddress>();
        foreach (var text in texts ?? [])
        {
            if (text is not null && StrictIP.TryParse(text.Trim(), out var address) && !result.Contains(address))
            {
                result.Add(address);
            }
        }
        return result;
    }
}
