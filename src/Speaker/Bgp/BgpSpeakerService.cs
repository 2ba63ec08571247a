using BgpLb.Bgp;
using BgpLb.Config;
using BgpLb.Hosting;
using BgpLb.Speaker.Allocations;

namespace BgpLb.Speaker.Bgp;

/// <summary>
/// The speaker's reconcile loop: every change of the configuration or of the allocations recomputes the whole BGP plan for this node and hands it to
/// the <see cref="PeerManager"/>, which converges sessions and routes to it (level-based; only differences reach the wire).
/// </summary>
public sealed class BgpSpeakerService(
    SpeakerOptions options, ConfigBroadcast configs, IAllocationSource allocations, PeerManager peers, SpeakerMetrics metrics, Readiness readiness, ILogger<BgpSpeakerService> logger,
    IEnumerable<IBgpPlanObserver> observers)
    : BackgroundService
{
    private const int MaxDecisionLinesAtInformation = 100;

    private BgpPlan? _previous;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await peers.StartAsync(cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var (update, addresses) in AllocatedConfig.WatchAsync(configs.WatchAsync(stoppingToken), allocations, stoppingToken))
        {
            var plan = BgpAnnouncementPlanner.Plan(update.Config, options.NodeName, addresses);
            LogChanges(plan);
            peers.Apply(plan.Peers);
            metrics.ConfigurationApplied(plan, update.HasErrors);
            foreach (var observer in observers)
                observer.PlanApplied(update, plan);
            readiness.MarkReady();
            _previous = plan;
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        SpeakerLog.Stopping(logger);
        await peers.StopAsync(cancellationToken);
    }

    /// <summary>Logs what changed since the previous plan, so a steady state is quiet and every change is one line.</summary>
    private void LogChanges(BgpPlan plan)
    {
        foreach (var warning in plan.Warnings.Except(_previous?.Warnings ?? []))
            SpeakerLog.PlanWarning(logger, warning);
        var before = (_previous?.Addresses ?? []).ToHashSet();
        var changed = plan.Addresses.Where(d => !before.Contains(d)).ToList();
        // A first load of thousands of Services is one summary line, not thousands.
        var level = changed.Count > MaxDecisionLinesAtInformation ? LogLevel.Debug : LogLevel.Information;
        if (level == LogLevel.Debug)
        {
            var announced = changed.Count(d => d.Announced);
            SpeakerLog.ManyDecisionsChanged(logger, changed.Count, announced, changed.Count - announced);
        }
        foreach (var decision in changed)
        {
            if (decision.Announced)
                SpeakerLog.Announcing(logger, level, decision.Address, decision.Service, decision.Peers);
            else
                SpeakerLog.NotAnnouncing(logger, level, decision.Address, decision.Service, decision.Reason);
        }
        var routes = plan.Peers.Sum(p => p.Routes.Count);
        SpeakerLog.Applied(logger, plan.Peers.Length, routes);
    }
}
