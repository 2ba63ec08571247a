using System.Diagnostics.Metrics;
using BgpLb.Allocation;

namespace BgpLb.Controller;

/// <summary>Allocator metrics under MetalLB's names (internal/allocator/stats.go), read from the owner's current state at scrape time.</summary>
public sealed class ControllerMetrics
{
    public const string MeterName = "BgpLb.Controller";

    public ControllerMetrics(IMeterFactory meterFactory, AllocationOwner owner)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        ArgumentNullException.ThrowIfNull(owner);
        var meter = meterFactory.Create(MeterName);
        void PerPool(string name, Func<PoolUsage, double> value, string description) =>
            meter.CreateObservableGauge(name,
                () => owner.Current.Result.Pools.Select(p => new Measurement<double>(value(p), new KeyValuePair<string, object?>("pool", p.Pool))),
                description: description);
        PerPool("metallb_allocator_addresses_in_use_total", p => p.AddressesInUse, "Number of IP addresses in use, per pool");
        PerPool("metallb_allocator_ipv4_addresses_in_use_total", p => p.IPv4AddressesInUse, "Number of IPV4 addresses in use, per pool");
        PerPool("metallb_allocator_ipv6_addresses_in_use_total", p => p.IPv6AddressesInUse, "Number of IPV6 addresses in use, per pool");
        PerPool("metallb_allocator_addresses_total", p => p.TotalAddresses, "Number of usable IP addresses, per pool");
        PerPool("metallb_allocator_ipv4_addresses_total", p => p.IPv4Addresses, "Number of usable IPV4 addresses, per pool");
        PerPool("metallb_allocator_ipv6_addresses_total", p => p.IPv6Addresses, "Number of usable IPV6 addresses, per pool");
        PerPool("metallb_allocator_services_allocated_total", p => p.Consumers, "Number of services allocated, per pool");
        meter.CreateObservableGauge("bgplb_controller_state_save_failing", () => owner.SaveError is null ? 0 : 1,
            description: "1 while allocation changes are held back because the state file cannot be saved (the log says why)");
    }
}
