using System.Collections.Immutable;
using System.Net;
using BgpLb.Allocation;
using BgpLb.Config;
using BgpLb.Planning;

namespace BgpLb.Speaker.Addresses;

/// <summary>
/// Standalone speaker without --controller (one node): allocates with the controller's allocator in process, fed the
/// previous result, so addresses never move on a change; Services that carry addresses (status.loadBalancer.ingress,
/// metallb.io/loadBalancerIPs, spec.loadBalancerIP) keep them.
/// </summary>
public sealed class InProcessAddresses : IAddressSource
{
    private readonly ILogger<InProcessAddresses> _logger;
    private AllocationResult _result = AllocationResult.Empty;
    private bool _started;

    public InProcessAddresses(ILogger<InProcessAddresses> logger)
    {
        _logger = logger;
        AllocationLog.InProcess(logger);
    }

    public bool IsKnown => true;

    public void Update(ClusterState state, ClusterDelta delta, ISet<string> changed)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(delta);
        ArgumentNullException.ThrowIfNull(changed);
        if (_started && delta.Services.Count == 0 && delta.Namespaces.Count == 0 && !(delta.ConfigChanged && delta.PreviousConfig!.Pools != state.Config.Pools))
            return;
        _started = true;
        var requests = Allocator.RequestsFor(state.Services.Values, ns => state.NamespaceLabels(ns)).ToList();
        var result = Allocator.Allocate(state.Config.Pools.AsImmutableArray(), requests, _result.Addresses);
        var updated = result.Entries.Values.Where(e => !(_result.Entries.TryGetValue(e.Key, out var old) && old.Equals(e))).ToList();
        var released = _result.Entries.Keys.Where(k => !result.Entries.ContainsKey(k)).ToList();
        var level = LogLevels.ForBulk(updated.Count + released.Count);
        if (level == LogLevel.Debug)
        {
            var allocated = updated.Count(e => e.IsAllocated);
            AllocationLog.ManyChanged(_logger, updated.Count + released.Count, allocated, updated.Count - allocated, released.Count);
        }
        foreach (var entry in updated)
        {
            changed.Add(entry.Key);
            if (entry.IsAllocated)
                AllocationLog.Allocated(_logger, level, entry.Key, entry.Addresses, entry.Pool!);
            else
                AllocationLog.NotAllocated(_logger, level == LogLevel.Debug ? level : LogLevel.Warning, entry.Key, entry.Failure, entry.Reason);
        }
        foreach (var key in released)
        {
            changed.Add(key);
            AllocationLog.Released(_logger, level, key);
        }
        _result = result;
    }

    public ServiceAddresses? AddressesOf(string service) =>
        _result.Entries.TryGetValue(service, out var entry) && entry.IsAllocated ? new ServiceAddresses([.. entry.Addresses], entry.Pool) : null;
}
