using System.Collections.Immutable;
using System.Net;
using BgpLb.Kubernetes.Testing;
using k8s.Models;

namespace BgpLb.Allocation.Tests;

/// <summary>Terse builders for pools, Services and allocation runs.</summary>
internal static class Build
{
    public static AddressPool Pool(string name, params string[] addresses) => new()
    {
        Name = name,
        Cidrs = [.. addresses.SelectMany(a => AddressRanges.TryParse(a, out var networks, out var error) ? networks : throw new ArgumentException(error))],
    };

    public static V1Service Service(string name, string ns = "default", Dictionary<string, string>? annotations = null,
        Dictionary<string, string>? labels = null, string? policy = null, IList<string>? families = null, params int[] ports) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns, Annotations = annotations, Labels = labels },
        Spec = new V1ServiceSpec
        {
            Type = "LoadBalancer",
            IpFamilyPolicy = policy,
            IpFamilies = families,
            Ports = [.. ports.Select(p => new V1ServicePort { Port = p, Protocol = "TCP" })],
        },
    };

    public static V1Service WithIngress(this V1Service service, params string[] addresses)
    {
        service.Status = new V1ServiceStatus
        {
            LoadBalancer = new V1LoadBalancerStatus { Ingress = [.. addresses.Select(a => new V1LoadBalancerIngress { Ip = a })] },
        };
        return service;
    }

    public static Dictionary<string, string> Requesting(string addresses) => new() { [MetalLbNames.LoadBalancerIPsAnnotation] = addresses };

    public static Dictionary<string, string> FromPool(string pool) => new() { [MetalLbNames.AddressPoolAnnotation] = pool };

    public static Dictionary<string, string> Sharing(string key) => new() { [MetalLbNames.AllowSharedIPAnnotation] = key };

    /// <summary>The allocator's inputs: pools and the requests of the Services BgpLb handles.</summary>
    public sealed record Inputs(ImmutableArray<AddressPool> Pools, IReadOnlyList<AllocationRequest> Requests);

    public static Inputs ConfigOf(IEnumerable<AddressPool> pools, IEnumerable<V1Service> services, IEnumerable<V1Namespace>? namespaces = null,
        string? loadBalancerClass = null)
    {
        var labels = (namespaces ?? []).ToDictionary(n => n.Metadata.Name, n => (IReadOnlyDictionary<string, string>)Projected.Namespace(n).Labels);
        var projected = services.Select(Projected.Value).OfType<ServiceInfo>();
        return new Inputs([.. pools], [.. Allocator.RequestsFor(projected, ns => labels.GetValueOrDefault(ns), loadBalancerClass)]);
    }

    public static AllocationResult Allocate(Inputs inputs, IReadOnlyDictionary<string, ImmutableArray<IPAddress>> previous) =>
        Allocator.Allocate(inputs.Pools, inputs.Requests, previous);

    public static AllocationRequest Request(V1Service service) => AllocationRequest.ForService(Projected.Service(service), null);

    public static string Key(V1Service service) => $"{service.Metadata.NamespaceProperty ?? "default"}/{service.Metadata.Name}";

    public static AllocationResult Run(IEnumerable<AddressPool> pools, params V1Service[] services) =>
        Allocate(ConfigOf(pools, services), ImmutableDictionary<string, ImmutableArray<IPAddress>>.Empty);

    public static AllocationResult Rerun(AllocationResult previous, IEnumerable<AddressPool> pools, params V1Service[] services) =>
        Allocate(ConfigOf(pools, services), previous.Addresses);

    public static string[] AddressesOf(this AllocationResult result, string key) =>
        [.. result.Entries[key].Addresses.Select(a => a.ToString())];

    public static AllocationEntry Failed(this AllocationResult result, string key, AllocationFailure failure)
    {
        var entry = result.Entries[key];
        Assert.False(entry.IsAllocated, $"{key} unexpectedly got {string.Join(", ", entry.Addresses)}");
        Assert.Equal(failure, entry.Failure);
        Assert.Empty(entry.Addresses);
        return entry;
    }
}
