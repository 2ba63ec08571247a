using System.Collections.Immutable;
using System.Net;

namespace BgpLb.Allocation;

/// <summary>
/// MetalLB-compatible address allocation as a pure function of (pools, requests, previous allocations).
/// Consumers that already hold valid addresses keep them and are placed first, so a restart or a new Service never moves
/// an address: first those whose addresses come from <c>previous</c>, then those that only show them in their status
/// (each group in key order), so that a new Service whose stale status names a held address cannot take it. Then
/// pending requests are served (requested addresses first), each from the lowest free address.
/// </summary>
public static class Allocator
{
    /// <summary>
    /// The requests of the Services BgpLb handles: LoadBalancer Services of <paramref name="loadBalancerClass"/> (no class
    /// configured: only Services without one), with their Namespace's labels.
    /// </summary>
    public static IEnumerable<AllocationRequest> RequestsFor(IEnumerable<ServiceInfo> services, Func<string, IReadOnlyDictionary<string, string>?> namespaceLabels,
        string? loadBalancerClass = null) =>
        services.Where(s => s.IsOurs(loadBalancerClass)).Select(s => AllocationRequest.ForService(s, namespaceLabels(s.Namespace)));

    /// <summary>
    /// The allocation rules themselves. <paramref name="previous"/> holds each key's addresses from the last run (or the
    /// state file); a request without one falls back to its <see cref="AllocationRequest.CurrentAddresses"/>.
    /// Of two requests with the same key the first counts.
    /// </summary>
    public static AllocationResult Allocate(ImmutableArray<AddressPool> pools, IReadOnlyList<AllocationRequest> requests,
        IReadOnlyDictionary<string, ImmutableArray<IPAddress>> previous)
    {
        ArgumentNullException.ThrowIfNull(requests);
        ArgumentNullException.ThrowIfNull(previous);
        return AllocationRun.Execute(pools, requests, previous);
    }
}
