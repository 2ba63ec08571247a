using System.Collections.Immutable;
using System.Net;
using System.Runtime.CompilerServices;
using BgpLb.Allocation;
using BgpLb.Config;

namespace BgpLb.Speaker.Allocations;

/// <summary>
/// Standalone speaker without --controller (one node): allocates with the controller's <see cref="Allocator"/> in
/// process. Each configuration is allocated once, fed the previous result, so addresses never move on a config change;
/// Services that carry addresses (status.loadBalancer.ingress, metallb.io/loadBalancerIPs, spec.loadBalancerIP) keep them.
/// </summary>
public sealed class InProcessAllocations : IAllocationSource
{
    private readonly ILogger<InProcessAllocations> _logger;
    private readonly Lock _gate = new();
    // Several reconcile loops may ask for the same configuration: it is allocated only the first time.
    private readonly ConditionalWeakTable<BgpLbConfig, ImmutableDictionary<string, ImmutableArray<IPAddress>>> _results = [];
    private AllocationResult _previous = AllocationResult.Empty;

    public InProcessAllocations(ILogger<InProcessAllocations> logger)
    {
        _logger = logger;
        AllocationLog.InProcess(logger);
    }

    /// <summary>Allocations change only with the configuration.</summary>
    public long Version => 0;

    public IReadOnlyDictionary<string, ImmutableArray<IPAddress>> AddressesFor(BgpLbConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        lock (_gate)
        {
            if (!_results.TryGetValue(config, out var addresses))
            {
                var result = Allocator.Allocate(config, _previous.Addresses);
                LogChanges(_previous, result);
                _previous = result;
                addresses = result.Addresses;
                _results.Add(config, addresses);
            }
            return addresses;
        }
    }

    public Task WaitForChangeAsync(long version, CancellationToken cancellationToken) =>
        Task.Delay(Timeout.Infinite, cancellationToken);

    private void LogChanges(AllocationResult before, AllocationResult after)
    {
        foreach (var entry in after.Entries.Values)
        {
            if (before.Entries.TryGetValue(entry.Key, out var old) && old.Equals(entry))
                continue;
            if (entry.IsAllocated)
                AllocationLog.Allocated(_logger, entry.Key, entry.Addresses, entry.Pool!);
            else
                AllocationLog.NotAllocated(_logger, entry.Key, entry.Failure, entry.Reason);
        }
        foreach (var key in before.Entries.Keys.Where(k => !after.Entries.ContainsKey(k)))
            AllocationLog.Released(_logger, key);
    }
}
