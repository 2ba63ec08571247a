using System.Collections.Immutable;
using System.Net;
using BgpLb.Config;

namespace BgpLb.Allocation;

/// <summary>
/// MetalLB-compatible address allocation as a pure function of (pools, requests, previous allocations).
/// Consumers that already hold valid addresses keep them and are placed first, so a restart or a new Service never moves
/// an address; then pending requests are served (requested addresses first), each from the lowest free address.
/// </summary>
public static class Allocator
{
    /// <summary>Allocates for every LoadBalancer Service in <paramref name="config"/> plus the <paramref name="external"/> named requests.</summary>
    public static AllocationResult Allocate(BgpLbConfig config, IReadOnlyDictionary<string, ImmutableArray<IPAddress>> previous,
        IEnumerable<AllocationRequest>? external = null, string? loadBalancerClass = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        return Allocate(config.Pools.AsImmutableArray(), [.. ServiceRequests.FromConfig(config, loadBalancerClass), .. external ?? []], previous);
    }

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
        return new AllocationRun(pools).Execute(requests, previous);
    }
}
