using System.Collections.Immutable;
using System.Net;
using BgpLb.Allocation;
using BgpLb.Config;
using BgpLb.Speaker.Allocations;

namespace BgpLb.Speaker.Kubernetes;

/// <summary>
/// Kubernetes mode without --controller: the addresses are what bgplb-controller wrote into each LoadBalancer
/// Service's <c>status.loadBalancer.ingress</c>, as MetalLB's speaker reads them. A Service without status is not
/// announced (a requested address is only an allocation once the controller accepted it). They change only with the
/// configuration, since the Services are part of it.
/// </summary>
public sealed class ServiceStatusAllocations : IAllocationSource
{
    public long Version => 0;

    public IReadOnlyDictionary<string, ImmutableArray<IPAddress>> AddressesFor(BgpLbConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var addresses = new Dictionary<string, ImmutableArray<IPAddress>>(StringComparer.Ordinal);
        foreach (var service in config.Services.Where(ServiceHelpers.IsLoadBalancer))
        {
            var ingress = (service.Status?.LoadBalancer?.Ingress ?? [])
                .Select(i => StrictIP.TryParse(i.Ip, out var address) ? address : null)
                .OfType<IPAddress>()
                .Distinct()
                .ToImmutableArray();
            if (!ingress.IsEmpty)
                addresses[ServiceRequests.KeyOf(service)] = ingress;
        }
        return addresses;
    }

    public Task WaitForChangeAsync(long version, CancellationToken cancellationToken) => Task.Delay(Timeout.Infinite, cancellationToken);
}
