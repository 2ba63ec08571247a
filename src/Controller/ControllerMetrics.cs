using System.Diagnostics.Metrics;

namespace BgpLb.Controller;

/// <summary>Allocator metrics under MetalLB's names, read from the owner's current state at scrape time.</summary>
public sealed class ControllerMetrics
{
    public const string MeterName = "BgpLb.Controller";

    public ControllerMetrics(IMeterFactory meterFactory, AllocationOwner owner)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        ArgumentNullException.ThrowIfNull(owner);
        var meter = meterFactory.Create(MeterName);
        meter.CreateObservableGauge("metallb_allocator_addresses_in_use_total",
            () => owner.Current.Result.Pools.Select(p => new Measurement<double>(p.AddressesInUse, new KeyValuePair<string, object?>("pool", p.Pool))),
            description: "Number of IP addresses in use, per pool");
        meter.CreateObservableGauge("metallb_allocator_addresses_total",
            () => owner.Current.Result.Pools.Select(p => new Measurement<double>(p.TotalAddresses, new KeyValuePair<string, object?>("pool", p.Pool))),
            description: "Number of usable IP addresses, per pool");
        meter.CreateObservableGauge("bgplb_controller_state_save_failing", () => owner.SaveError is null ? 0 : 1,
            description: "1 while allocation changes are held back because the state file cannot be saved (the log says why)");
    }
}
