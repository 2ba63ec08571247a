using BgpLb.Allocation;
using BgpLb.Config;
using BgpLb.Planning;

namespace BgpLb.Speaker.Addresses;

/// <summary>
/// Standalone speaker without --controller (one node): allocates in process with the controller's
/// <see cref="AllocationTable"/>, so a change costs what it touches and addresses never move on unrelated changes;
/// Services that carry addresses (status.loadBalancer.ingress, metallb.io/loadBalancerIPs, spec.loadBalancerIP) keep them.
/// </summary>
public sealed class InProcessAddresses : IAddressSource
{
    private readonly ILogger<InProcessAddresses> _logger;
    private readonly string? _loadBalancerClass;
    private AllocationTable? _table;

    /// <param name="loadBalancerClass">--lb-class: the class of the Services to allocate for; null: Services without a class.</param>
    public InProcessAddresses(ILogger<InProcessAddresses> logger, string? loadBalancerClass = null)
    {
        _logger = logger;
        _loadBalancerClass = loadBalancerClass;
        AllocationLog.InProcess(logger);
    }

    public bool IsKnown => true;

    public void Update(ClusterState state, ClusterDelta delta, ISet<string> changed)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(delta);
        ArgumentNullException.ThrowIfNull(changed);
        var pools = state.Config.Pools.AsImmutableArray();
        IEnumerable<string> touched = delta.Services;
        if (_table is null)
        {
            _table = new AllocationTable(pools);
            touched = state.Services.Keys;
        }
        else if (delta.Namespaces.Count > 0)
        {
            touched = touched.Concat(state.Services.Values.Where(s => delta.Namespaces.Contains(s.Namespace)).Select(s => s.Key));
        }
        var upserted = new List<AllocationRequest>();
        var removed = new List<string>();
        foreach (var key in touched)
        {
            if (state.Services.TryGetValue(key, out var service) && service.IsOurs(_loadBalancerClass))
                upserted.Add(AllocationRequest.ForService(service, state.NamespaceLabels(service.Namespace)));
            else
                removed.Add(key);
        }
        var poolsChanged = delta.PreviousConfig is { } before && before.Pools != state.Config.Pools;
        if (upserted.Count == 0 && removed.Count == 0 && !poolsChanged)
            return;
        var changes = _table.Apply(new AllocationBatch { Pools = poolsChanged ? pools : null, Upserted = upserted, Removed = removed });
        Log(changes);
        foreach (var entry in changes.Changed)
            changed.Add(entry.Key);
        changed.UnionWith(changes.Removed);
    }

    public ServiceAddresses? AddressesOf(string service) =>
        _table?[service] is { IsAllocated: true } entry ? new ServiceAddresses(entry.Addresses, entry.Pool) : null;

    private void Log(AllocationChanges changes)
    {
        var level = LogLevels.ForBulk(changes.Changed.Count + changes.Removed.Count);
        if (level == LogLevel.Debug)
        {
            var allocated = changes.Changed.Count(e => e.IsAllocated);
            AllocationLog.ManyChanged(_logger, changes.Changed.Count + changes.Removed.Count, allocated, changes.Changed.Count - allocated, changes.Removed.Count);
        }
        foreach (var entry in changes.Changed)
        {
            if (entry.IsAllocated)
                AllocationLog.Allocated(_logger, level, entry.Key, entry.Addresses, entry.Pool!);
            else
                AllocationLog.NotAllocated(_logger, level == LogLevel.Debug ? level : LogLevel.Warning, entry.Key, entry.Failure, entry.Reason);
        }
        foreach (var key in changes.Removed)
            AllocationLog.Released(_logger, level, key);
    }
}
