using System.Collections.Immutable;
using System.Net;
using BgpLb.Allocation.Client;
using BgpLb.Config;

namespace BgpLb.Speaker.Allocations;

/// <summary>
/// Standalone speaker with --controller: announces exactly what bgplb-controller allocated. Follows its watch stream
/// (the <see cref="AllocationWatcher"/> reconnects with backoff); while the controller is unreachable the last known
/// allocations stay in force, so losing it never withdraws a route. Before the first snapshot nothing is known.
/// </summary>
public sealed class ControllerAllocations(AllocationWatcher watcher, Uri controller, ILogger<ControllerAllocations> logger)
    : BackgroundService, IAllocationSource
{
    private volatile IReadOnlyDictionary<string, ImmutableArray<IPAddress>>? _addresses;
    private readonly ChangeSignal _changes = new();

    public long Version => _changes.Version;

    /// <summary>The controller's allocations whatever the local configuration says; null before its first snapshot.</summary>
    public IReadOnlyDictionary<string, ImmutableArray<IPAddress>>? AddressesFor(BgpLbConfig config) => _addresses;

    public Task WaitForChangeAsync(long version, CancellationToken cancellationToken) => _changes.WaitForChangeAsync(version, cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        AllocationLog.WaitingForController(logger, controller);
        await foreach (var snapshot in watcher.WatchAsync(stoppingToken))
        {
            var addresses = snapshot.Allocated.ToImmutableDictionary(e => e.Key, e => e.Addresses, StringComparer.Ordinal);
            if (_addresses is null)
                AllocationLog.FirstSnapshot(logger, controller, addresses.Count, snapshot.Revision);
            else
                AllocationLog.Snapshot(logger, controller, addresses.Count, snapshot.Revision);
            _addresses = addresses;
            _changes.Signal();
        }
    }
}
