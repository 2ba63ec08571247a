using System.Net;
using System.Net.Http;
using System.Threading.Channels;
using BgpLb.Allocation;
using BgpLb.Config;
using BgpLb.Hosting;
using BgpLb.Kubernetes;
using k8s.Autorest;
using k8s.Models;

namespace BgpLb.Controller;

/// <summary>
/// The controller's reconcile loop in Kubernetes mode. Every configuration change (and every change of leadership)
/// re-allocates everything with the same <see cref="AllocationOwner"/> as standalone mode; the previous allocations are
/// the Services' <c>status.loadBalancer.ingress</c>, so a restart never moves an address. Only the lease holder writes:
/// Service status and pool annotation where they differ, MetalLB's events, and the ConfigurationState. A new leader
/// rewrites everything; failed writes are retried after <see cref="RetryDelay"/>.
/// </summary>
public sealed class KubernetesControllerService(
    ConfigFeed feed, AllocationOwner owner, LeaseElector elector, ServiceStatusWriter statusWriter, EventRecorder events,
    ConfigurationStateWriter configurationState, Readiness readiness, TimeProvider time, ILogger<KubernetesControllerService> logger)
    : BackgroundService
{
    public static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(5);

    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private volatile ConfigUpdate? _latest;
    /// <summary>Counts leaderships gained, so that losing and regaining between two passes still rewrites everything.</summary>
    private int _terms;
    private int _shownTerm;
    /// <summary>The allocation outcome last made visible (status and events) per Service key, while leader.</summary>
    private readonly Dictionary<string, AllocationEntry> _shown = new(StringComparer.Ordinal);
    private (ConfigurationResult, string)? _shownState;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        elector.LeadershipChanged += OnLeadershipChanged;
        var pump = PumpAsync(stoppingToken);
        try
        {
            var retry = false;
            while (true)
            {
                await WaitForWorkAsync(retry, stoppingToken);
                retry = _latest is { } update && !await ReconcileAsync(update, stoppingToken);
            }
        }
        finally
        {
            elector.LeadershipChanged -= OnLeadershipChanged;
            await pump;
        }
    }

    private void OnLeadershipChanged(object? sender, bool leader)
    {
        if (leader)
            Interlocked.Increment(ref _terms);
        _wake.Writer.TryWrite(true);
    }

    /// <summary>Keeps only the latest configuration; the loop picks it up when it is free.</summary>
    private async Task PumpAsync(CancellationToken stoppingToken)
    {
        Exception? failure = null;
        try
        {
            await foreach (var update in feed.WatchAsync(stoppingToken))
            {
                _latest = update;
                _wake.Writer.TryWrite(true);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            failure = e;
        }
        _wake.Writer.TryComplete(failure);
    }

    private async Task WaitForWorkAsync(bool retry, CancellationToken stoppingToken)
    {
        using var delay = retry ? new CancellationTokenSource(RetryDelay, time) : new CancellationTokenSource();
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, delay.Token);
        try
        {
            if (!await _wake.Reader.WaitToReadAsync(wait.Token))
                await _wake.Reader.Completion; // rethrows the watch's failure
            _wake.Reader.TryRead(out _);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            // retry delay elapsed
        }
        stoppingToken.ThrowIfCancellationRequested();
    }

    /// <summary>One level-based pass. Returns false when some write failed and the pass should be repeated.</summary>
    private async Task<bool> ReconcileAsync(ConfigUpdate update, CancellationToken cancellationToken)
    {
        var leader = elector.IsLeader;
        var term = Volatile.Read(ref _terms);
        var gained = leader && term != _shownTerm;
        if (gained)
        {
            _shownTerm = term;
            _shown.Clear();
            _shownState = null;
        }
        await owner.ApplyConfigAsync(update.Config, cancellationToken, servicesAreAuthoritative: !leader || gained);
        readiness.MarkReady();
        var result = owner.Current.Result;
        if (!leader)
        {
            ControllerLog.NotLeader(logger, result.Entries.Count);
            return true;
        }
        if (gained)
            ControllerLog.RewritingAll(logger);
        var complete = await WriteConfigurationStateAsync(update, cancellationToken);
        // Clearing first: an address moving between Services is never shown on both at once.
        foreach (var service in update.Config.Services.OrderBy(s => result.Entries.TryGetValue(ServiceRequests.KeyOf(s), out var e) && e.IsAllocated))
            complete &= await ShowAsync(service, result, rewrite: gained, cancellationToken);
        var present = update.Config.Services.Select(ServiceRequests.KeyOf).ToHashSet(StringComparer.Ordinal);
        foreach (var gone in _shown.Keys.Where(k => !present.Contains(k)).ToList())
            _shown.Remove(gone);
        return complete;
    }

    private async Task<bool> WriteConfigurationStateAsync(ConfigUpdate update, CancellationToken cancellationToken)
    {
        var state = ConfigurationSummary.Of(update);
        if (_shownState == state)
            return true;
        try
        {
            await configurationState.WriteAsync(state.Result, state.ErrorSummary, cancellationToken);
            _shownState = state;
            return true;
        }
        catch (Exception e) when (e is HttpOperationException or HttpRequestException)
        {
            ControllerLog.WriteFailed(logger, "the ConfigurationState", RetryDelay, e.Message);
            return false;
        }
    }

    /// <summary>Makes one Service show its allocation (or nothing); emits MetalLB's events for what changed.</summary>
    private async Task<bool> ShowAsync(V1Service service, AllocationResult result, bool rewrite, CancellationToken cancellationToken)
    {
        var key = ServiceRequests.KeyOf(service);
        var shownAddresses = (service.Status?.LoadBalancer?.Ingress ?? []).Select(i => i.Ip).Where(ip => ip is not null).ToList();
        var shownPool = service.Metadata?.Annotations?.TryGetValue(ServiceStatusWriter.PoolAnnotation, out var p) == true ? p : null;
        if (!result.Entries.TryGetValue(key, out var entry))
        {
            // Not ours (any more): clear only what we wrote, never another implementation's status.
            if (shownPool is null)
                return true;
            return await WriteAsync(service, key, [], null, cancellationToken);
        }
        var addresses = entry.IsAllocated ? entry.Addresses : [];
        var pool = entry.IsAllocated ? entry.Pool : null;
        var differs = !shownAddresses.SequenceEqual(addresses.Select(a => a.ToString())) || shownPool != pool;
        if (_shown.TryGetValue(key, out var before) && before.Equals(entry) && !differs)
            return true;

        if ((differs || rewrite) && !await WriteAsync(service, key, addresses, pool, cancellationToken))
            return false;
        // First sight (start, new leader): only what the Service does not show yet is news; afterwards every change is.
        if (before is null ? entry.IsAllocated && !differs : before.Equals(entry))
        {
            _shown[key] = entry;
            return true;
        }
        var involved = EventRecorder.Reference(service);
        if (shownAddresses.Count > 0 && !shownAddresses.SequenceEqual(addresses.Select(a => a.ToString())))
        {
            await events.RecordAsync(involved, EventRecorder.Warning, EventReasons.ClearAssignment,
                entry.IsAllocated ? "current IP not allowed by config, clearing" : $"current IP not allowed by config, clearing: {entry.Reason}",
                cancellationToken);
        }
        if (entry.IsAllocated)
        {
            await events.RecordAsync(involved, EventRecorder.Normal, EventReasons.IPAllocated,
                $"Assigned IP [{string.Join(' ', entry.Addresses.Select(a => $"\"{a}\""))}]", cancellationToken);
        }
        else
        {
            await events.RecordAsync(involved, EventRecorder.Warning, EventReasons.AllocationFailed,
                $"Failed to allocate IP for \"{key}\": {entry.Failure}: {entry.Reason}", cancellationToken);
        }
        _shown[key] = entry;
        return true;
    }

    private async Task<bool> WriteAsync(V1Service service, string key, IReadOnlyList<IPAddress> addresses, string? pool, CancellationToken cancellationToken)
    {
        try
        {
            await statusWriter.WriteAsync(ServiceRequests.NamespaceOf(service), service.Metadata.Name, addresses, pool, cancellationToken);
            ControllerLog.WroteService(logger, key, addresses.Count == 0 ? "no addresses" : string.Join(", ", addresses), pool ?? "none");
            return true;
        }
        catch (Exception e) when (e is HttpOperationException or HttpRequestException)
        {
            ControllerLog.WriteFailed(logger, $"the status of Service {key}", RetryDelay, e.Message);
            return false;
        }
    }

}
