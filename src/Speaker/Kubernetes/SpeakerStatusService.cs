using System.Net.Http;
using System.Threading.Channels;
using BgpLb.Allocation;
using BgpLb.Config;
using BgpLb.Kubernetes;
using BgpLb.Speaker.Bgp;
using BgpLb.Speaker.L2;
using k8s.Autorest;
using k8s.Models;

namespace BgpLb.Speaker.Kubernetes;

/// <summary>
/// Makes the cluster show what this speaker does, off the reconcile loop: the ConfigurationState <c>speaker-NODE</c>
/// after every configuration update, one ServiceBGPStatus per announced Service listing its BGPPeers, and MetalLB's
/// <c>nodeAssigned</c> event when a Service starts being announced from this node; likewise one ServiceL2Status per
/// Service whose addresses this node answers for in L2 mode, listing the interfaces. Only the latest plan counts; a
/// failed write is retried after <see cref="RetryDelay"/>.
/// </summary>
public sealed class SpeakerStatusService(
    SpeakerOptions options, ConfigurationStateWriter configurationState, BgpStatusWriter bgpStatus, L2StatusWriter l2Status, EventRecorder events,
    TimeProvider time, ILogger<SpeakerStatusService> logger)
    : BackgroundService, IBgpPlanObserver, IL2PlanObserver
{
    public static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(5);

    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private volatile Tuple<ConfigUpdate, BgpPlan>? _latest;
    private volatile L2Plan? _latestL2;
    private (ConfigurationResult, string)? _shownState;
    private string? _shownStatuses;
    private string? _shownL2Statuses;
    private HashSet<string> _announced = new(StringComparer.Ordinal);
    private HashSet<string> _announcedL2 = new(StringComparer.Ordinal);

    public void PlanApplied(ConfigUpdate update, BgpPlan plan)
    {
        _latest = Tuple.Create(update, plan);
        _wake.Writer.TryWrite(true);
    }

    public void L2PlanApplied(L2Plan plan)
    {
        _latestL2 = plan;
        _wake.Writer.TryWrite(true);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var retry = false;
        while (true)
        {
            using (var delay = retry ? new CancellationTokenSource(RetryDelay, time) : new CancellationTokenSource())
            using (var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, delay.Token))
            {
                try
                {
                    await _wake.Reader.ReadAsync(wait.Token);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                    // retry delay elapsed
                }
            }
            if (_latest is { } latest)
                retry = !await ShowAsync(latest.Item1, latest.Item2, stoppingToken);
            if (_latestL2 is { } l2 && _latest is { } current)
                retry |= !await ShowL2Async(current.Item1, l2, stoppingToken);
        }
    }

    private async Task<bool> ShowAsync(ConfigUpdate update, BgpPlan plan, CancellationToken cancellationToken)
    {
        var complete = await TryAsync("the ConfigurationState", async () =>
        {
            var state = ConfigurationSummary.Of(update);
            if (_shownState != state)
            {
                await configurationState.WriteAsync(state.Result, state.ErrorSummary, cancellationToken);
                _shownState = state;
            }
        });

        var announced = plan.Addresses.Where(d => d.Announced)
            .GroupBy(d => d.Service, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (Service: g.Key, Peers: g.SelectMany(d => d.Peers).Distinct().Order(StringComparer.Ordinal).ToList()))
            .ToList();
        var statuses = string.Join('\n', announced.Select(a => $"{a.Service}={string.Join(',', a.Peers)}"));
        complete &= await TryAsync("the ServiceBGPStatus objects", async () =>
        {
            if (_shownStatuses != statuses)
            {
                await bgpStatus.ConvergeAsync([.. announced.Select(a => new ServiceBgpStatusEntry(Namespace(a.Service), Name(a.Service), a.Peers))],
                    cancellationToken);
                _shownStatuses = statuses;
            }
        });

        _announced = await RecordNodeAssignedAsync(update, announced.Select(a => a.Service), _announced, "bgp", cancellationToken);
        return complete;
    }

    private async Task<bool> ShowL2Async(ConfigUpdate update, L2Plan plan, CancellationToken cancellationToken)
    {
        var owned = plan.Addresses.Where(d => d.Announced)
            .GroupBy(d => d.Service, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (Service: g.Key, Interfaces: g.SelectMany(d => d.Interfaces).Distinct().Order(StringComparer.Ordinal).ToList()))
            .ToList();
        var statuses = string.Join('\n', owned.Select(o => $"{o.Service}={string.Join(',', o.Interfaces)}"));
        var complete = await TryAsync("the ServiceL2Status objects", async () =>
        {
            if (_shownL2Statuses != statuses)
            {
                await l2Status.ConvergeAsync([.. owned.Select(o => new ServiceL2StatusEntry(Namespace(o.Service), Name(o.Service), o.Interfaces))],
                    cancellationToken);
                _shownL2Statuses = statuses;
            }
        });

        _announcedL2 = await RecordNodeAssignedAsync(update, owned.Select(o => o.Service), _announcedL2, "layer2", cancellationToken);
        return complete;
    }

    /// <summary>MetalLB's nodeAssigned event for each Service that starts being announced; returns the new announced set.</summary>
    private async Task<HashSet<string>> RecordNodeAssignedAsync(
        ConfigUpdate update, IEnumerable<string> announcedNow, HashSet<string> announcedBefore, string protocol, CancellationToken cancellationToken)
    {
        var now = announcedNow.ToHashSet(StringComparer.Ordinal);
        foreach (var service in update.Config.Services)
        {
            var key = ServiceRequests.KeyOf(service);
            if (now.Contains(key) && !announcedBefore.Contains(key))
            {
                await events.RecordAsync(EventRecorder.Reference(service), EventRecorder.Normal, EventReasons.NodeAssigned,
                    $"announcing from node \"{options.NodeName}\" with protocol \"{protocol}\"", cancellationToken);
            }
        }
        return now;
    }

    private async Task<bool> TryAsync(string what, Func<Task> write)
    {
        try
        {
            await write();
            return true;
        }
        catch (Exception e) when (e is HttpOperationException or HttpRequestException)
        {
            SpeakerKubeLog.WriteFailed(logger, what, RetryDelay, e.Message);
            return false;
        }
    }

    private static string Namespace(string service) => service[..service.IndexOf('/', StringComparison.Ordinal)];

    private static string Name(string service) => service[(service.IndexOf('/', StringComparison.Ordinal) + 1)..];

}
