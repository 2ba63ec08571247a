using System.Collections.Immutable;
using System.Net;
using System.Net.Http;
using BgpLb.Allocation;
using BgpLb.Config;
using BgpLb.Hosting;
using BgpLb.Kubernetes;
using k8s.Autorest;

namespace BgpLb.Controller;

/// <summary>
/// The controller's reconcile loop in Kubernetes mode. Each pass takes every change from the API server since the last
/// one and allocates what it touches with the same <see cref="AllocationOwner"/> as standalone mode; the previous
/// allocations are the Services' <c>status.loadBalancer.ingress</c>, so a restart never moves an address. Only the lease
/// holder writes: the status and pool annotation of the Services whose allocation or object changed, MetalLB's events,
/// the ConfigurationState and the status of the IPAddressPools whose counts changed. A new leader looks at every Service
/// and pool once; failed writes are retried after
/// <see cref="RetryDelay"/>.
/// </summary>
public sealed class KubernetesControllerService(
    ResourceFeed feed, WakeSignal wake, ClusterState state, ConfigReporter reporter, AllocationOwner owner, LeaseElector elector,
    ServiceStatusWriter statusWriter, EventRecorder events, ConfigurationStateWriter configurationState, PoolStatusWriter poolStatus, Readiness readiness, TimeProvider time,
    ILogger<KubernetesControllerService> logger)
    : BackgroundService
{
    public static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(5);

    /// <summary>Counts leaderships gained, so that losing and regaining between two passes still looks at everything.</summary>
    private int _terms;
    private int _shownTerm;
    /// <summary>The allocation outcome last made visible (status and events) per Service key, while leader.</summary>
    private readonly Dictionary<string, AllocationEntry> _shown = new(StringComparer.Ordinal);
    /// <summary>Services whose write failed and waits for a retry.</summary>
    private readonly HashSet<string> _failed = new(StringComparer.Ordinal);
    private ConfigurationSummary? _shownState;
    /// <summary>The status last written per IPAddressPool, while leader: a pool is written again only when its counts change.</summary>
    private readonly Dictionary<string, PoolStatus> _shownPools = new(StringComparer.Ordinal);
    private ulong _shownRevision;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        elector.LeadershipChanged += OnLeadershipChanged;
        try
        {
            var delta = state.Apply(await feed.StartAsync(stoppingToken));
            while (true)
            {
                reporter.Report(state, delta);
                var complete = await ReconcileAsync(delta, stoppingToken);
                await WaitForWorkAsync(retry: !complete, stoppingToken);
                delta = feed.TakePending() is { } batch ? state.Apply(batch) : new ClusterDelta();
            }
        }
        finally
        {
            elector.LeadershipChanged -= OnLeadershipChanged;
        }
    }

    private void OnLeadershipChanged(object? sender, bool leader)
    {
        if (leader)
            Interlocked.Increment(ref _terms);
        wake.Set();
    }

    private async Task WaitForWorkAsync(bool retry, CancellationToken stoppingToken)
    {
        using var delay = retry ? new CancellationTokenSource(RetryDelay, time) : new CancellationTokenSource();
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, delay.Token);
        try
        {
            await wake.WaitAsync(wait.Token);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            // retry delay elapsed
        }
    }

    /// <summary>One pass. Returns false when some write failed and should be retried.</summary>
    private async Task<bool> ReconcileAsync(ClusterDelta delta, CancellationToken cancellationToken)
    {
        var leader = elector.IsLeader;
        var term = Volatile.Read(ref _terms);
        var gained = leader && term != _shownTerm;
        if (gained)
        {
            _shownTerm = term;
            _shown.Clear();
            _failed.Clear();
            _shownState = null;
            _shownPools.Clear();
        }
        await owner.ApplyAsync(state, delta, gained ? StatusDecides.ForAllServices : leader ? StatusDecides.Never : StatusDecides.ForChangedServices, cancellationToken);
        readiness.MarkReady();
        var after = owner.Current;
        if (!leader)
        {
            ControllerLog.NotLeader(logger, after.Result.Entries.Count);
            _shownRevision = after.Revision;
            return true;
        }
        if (gained)
            ControllerLog.RewritingAll(logger);

        var keys = new HashSet<string>(delta.Services, StringComparer.Ordinal);
        keys.UnionWith(_failed);
        _failed.Clear();
        if (gained || !after.TryGetChangesSince(_shownRevision, out var changes))
        {
            keys.UnionWith(state.Services.Keys);
        }
        else
        {
            foreach (var change in changes)
            {
                keys.UnionWith(change.Upserted.Select(e => e.Key));
                keys.UnionWith(change.Removed);
            }
        }
        _shownRevision = after.Revision;

        var complete = await WriteConfigurationStateAsync(cancellationToken);
        // Clearing first: an address moving between Services is never shown on both at once.
        var result = after.Result;
        foreach (var key in keys.OrderBy(k => result.Entries.TryGetValue(k, out var e) && e.IsAllocated))
        {
            if (!state.Services.TryGetValue(key, out var service))
            {
                _shown.Remove(key);
                continue;
            }
            if (!await ShowAsync(service, result.Entries.GetValueOrDefault(key), rewrite: gained, cancellationToken))
            {
                _failed.Add(key);
                complete = false;
            }
        }
        return await WritePoolStatusAsync(result.Pools, cancellationToken) && complete;
    }

    /// <summary>Writes the status of the pools whose counts changed since last written (MetalLB's pool_status_controller.go).</summary>
    private async Task<bool> WritePoolStatusAsync(ImmutableArray<PoolUsage> pools, CancellationToken cancellationToken)
    {
        var complete = true;
        foreach (var name in _shownPools.Keys.Except(pools.Select(p => p.Pool)).ToList())
            _shownPools.Remove(name);
        foreach (var usage in pools)
        {
            var status = StatusOf(usage);
            if (_shownPools.TryGetValue(usage.Pool, out var shown) && shown == status)
                continue;
            try
            {
                await poolStatus.WriteAsync(usage.Pool, status, cancellationToken);
                _shownPools[usage.Pool] = status;
            }
            catch (Exception e) when (e is HttpOperationException or HttpRequestException)
            {
                ControllerLog.WriteFailed(logger, $"the status of IPAddressPool {usage.Pool}", RetryDelay, e.Message);
                complete = false;
            }
        }
        return complete;
    }

    private static PoolStatus StatusOf(PoolUsage usage) => new(usage.IPv4AddressesInUse, usage.IPv6AddressesInUse,
        Count(usage.IPv4Addresses - usage.IPv4AddressesInUse), Count(usage.IPv6Addresses - usage.IPv6AddressesInUse));

    // An IPv6 pool can hold more addresses than MetalLB's int64 fields count.
    private static long Count(double value) => value >= long.MaxValue ? long.MaxValue : (long)value;

    private async Task<bool> WriteConfigurationStateAsync(CancellationToken cancellationToken)
    {
        var summary = ConfigurationSummary.Of(state.Problems);
        if (_shownState == summary)
            return true;
        try
        {
            await configurationState.WriteAsync(summary, cancellationToken);
            _shownState = summary;
            return true;
        }
        catch (Exception e) when (e is HttpOperationException or HttpRequestException)
        {
            ControllerLog.WriteFailed(logger, "the ConfigurationState", RetryDelay, e.Message);
            return false;
        }
    }

    /// <summary>Makes one Service show its allocation (or nothing); emits MetalLB's events for what changed.</summary>
    private async Task<bool> ShowAsync(ServiceInfo service, AllocationEntry? entry, bool rewrite, CancellationToken cancellationToken)
    {
        var key = service.Key;
        var shownAddresses = service.Ingress;
        var shownPool = service.AllocatedFromPool;
        if (entry is null)
        {
            // Not ours (any more): clear only what we wrote, never another implementation's status.
            _shown.Remove(key);
            return shownPool is null || await WriteAsync(service, [], null, cancellationToken);
        }
        EquatableArray<IPAddress> addresses = entry.IsAllocated ? [.. entry.Addresses] : [];
        var pool = entry.IsAllocated ? entry.Pool : null;
        var differs = !shownAddresses.Equals(addresses) || shownPool != pool;
        if (_shown.TryGetValue(key, out var before) && before.Equals(entry) && !differs)
            return true;

        if ((differs || rewrite) && !await WriteAsync(service, addresses, pool, cancellationToken))
            return false;
        // First sight (start, new leader): only what the Service does not show yet is news; afterwards every change is.
        if (before is null ? entry.IsAllocated && !differs : before.Equals(entry))
        {
            _shown[key] = entry;
            return true;
        }
        foreach (var (type, reason, message) in Events(service, entry))
            await events.RecordAsync(EventRecorder.Reference(service), type, reason, message, cancellationToken);
        _shown[key] = entry;
        return true;
    }

    /// <summary>
    /// MetalLB's events (controller/service.go) for a Service whose allocation changed to <paramref name="entry"/>:
    /// ClearAssignment (Normal) when the address it shows goes, then IPAllocated (Normal), or LoadBalancerFailed (Warning)
    /// when an invalid request takes the address it showed, or AllocationFailed (Warning); and, as MetalLB checks only
    /// when something changes, deprecatedAnnotation (Warning) for each metallb.universe.tf/* annotation.
    /// </summary>
    internal static IEnumerable<(string Type, string Reason, string Message)> Events(ServiceInfo service, AllocationEntry entry)
    {
        var key = service.Key;
        var shown = service.Ingress;
        if (!shown.IsEmpty && !shown.SequenceEqual(entry.Addresses))
        {
            var why = entry.IsAllocated ? $"{string.Join(", ", shown)} replaced by {string.Join(", ", entry.Addresses)} from pool {entry.Pool}" : entry.Reason;
            yield return (EventRecorder.Normal, EventReasons.ClearAssignment,
                $"current IP for \"{key}\" not allowed by config, will attempt for new IP assignment: {why}");
        }
        if (entry.IsAllocated)
            yield return (EventRecorder.Normal, EventReasons.IPAllocated, $"Assigned IP [{string.Join(' ', entry.Addresses.Select(a => $"\"{a}\""))}]");
        else if (service.Problem is not null && !shown.IsEmpty)
            yield return (EventRecorder.Warning, EventReasons.LoadBalancerFailed, $"invalid requested loadbalancer IPs: {service.Problem}");
        else
            yield return (EventRecorder.Warning, EventReasons.AllocationFailed, $"Failed to allocate IP for \"{key}\": {entry.Failure}: {entry.Reason}");
        foreach (var annotation in service.DeprecatedAnnotations)
        {
            yield return (EventRecorder.Warning, EventReasons.DeprecatedAnnotation,
                $"Service uses deprecated annotation {annotation}; use {MetalLbNames.DeprecatedAnnotations[annotation]} instead");
        }
    }

    private async Task<bool> WriteAsync(ServiceInfo service, EquatableArray<IPAddress> addresses, string? pool, CancellationToken cancellationToken)
    {
        try
        {
            await statusWriter.WriteAsync(service.Namespace, service.Name, addresses, pool, cancellationToken);
            ControllerLog.WroteService(logger, service.Key, addresses.Count == 0 ? "no addresses" : string.Join(", ", addresses), pool ?? "none");
            return true;
        }
        catch (Exception e) when (e is HttpOperationException or HttpRequestException)
        {
            ControllerLog.WriteFailed(logger, $"the status of Service {service.Key}", RetryDelay, e.Message);
            return false;
        }
    }
}
