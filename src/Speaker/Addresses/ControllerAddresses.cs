using BgpLb.Allocation.Client;
using BgpLb.Config;
using BgpLb.Planning;

namespace BgpLb.Speaker.Addresses;

/// <summary>
/// Standalone speaker with --controller: announces exactly what bgplb-controller allocated. Follows its watch stream
/// (the <see cref="AllocationWatcher"/> reconnects with backoff and resumes); while the controller is unreachable the
/// last known allocations stay in force, so losing it never withdraws a route. Before the first snapshot nothing is
/// known. Changes are kept by key until the reconcile loop takes them.
/// </summary>
public sealed class ControllerAddresses(AllocationWatcher watcher, Uri controller, WakeSignal wake, ILogger<ControllerAddresses> logger)
    : BackgroundService, IAddressSource
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, ServiceAddresses> _addresses = new(StringComparer.Ordinal);
    private readonly HashSet<string> _changed = new(StringComparer.Ordinal);
    private volatile bool _known;

    public bool IsKnown => _known;

    public void Update(ClusterState state, ClusterDelta delta, ISet<string> changed)
    {
        ArgumentNullException.ThrowIfNull(changed);
        lock (_gate)
        {
            changed.UnionWith(_changed);
            _changed.Clear();
        }
    }

    public ServiceAddresses? AddressesOf(string service)
    {
        lock (_gate)
            return _addresses.GetValueOrDefault(service);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        AllocationLog.WaitingForController(logger, controller);
        await foreach (var update in watcher.WatchAsync(stoppingToken))
        {
            int count;
            lock (_gate)
            {
                if (update.Snapshot)
                {
                    var listed = update.Upserted.Where(e => e.IsAllocated).Select(e => e.Key).ToHashSet(StringComparer.Ordinal);
                    foreach (var gone in _addresses.Keys.Where(k => !listed.Contains(k)).ToList())
                        Remove(gone);
                }
                foreach (var entry in update.Upserted)
                {
                    if (entry.IsAllocated)
                        Set(entry.Key, new ServiceAddresses([.. entry.Addresses], entry.Pool));
                    else
                        Remove(entry.Key);
                }
                foreach (var key in update.Removed)
                    Remove(key);
                count = _addresses.Count;
            }
            if (!_known)
                AllocationLog.FirstSnapshot(logger, controller, count, update.Revision);
            else
                AllocationLog.Snapshot(logger, controller, count, update.Revision);
            _known = true;
            wake.Set();
        }
    }

    private void Set(string key, ServiceAddresses addresses)
    {
        if (_addresses.TryGetValue(key, out var old) && old.Equals(addresses))
            return;
        _addresses[key] = addresses;
        _changed.Add(key);
    }

    private void Remove(string key)
    {
        if (_addresses.Remove(key))
            _changed.Add(key);
    }
}
