using BgpLb.Config;
using BgpLb.Hosting;

namespace BgpLb.Controller;

/// <summary>
/// The controller's reconcile loop in standalone mode: each pass takes every change of the configuration directory
/// since the last one and allocates what it touches. A first configuration with errors stops the start.
/// </summary>
public sealed class ControllerService(ResourceFeed feed, WakeSignal wake, ClusterState state, ConfigReporter reporter, AllocationOwner owner,
    Readiness readiness, ILogger<ControllerService> logger) : BackgroundService
{
    private ClusterDelta? _first;

    /// <exception cref="ControllerStartupException">The first configuration has errors (logged).</exception>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        _first = state.Apply(await feed.StartAsync(cancellationToken));
        reporter.Report(state, _first);
        if (state.HasErrors)
        {
            // An operator should fix it before addresses are handed out.
            var errors = state.Problems.Count(p => p.Severity == ConfigSeverity.Error);
            ControllerLog.UnusableFirstConfiguration(logger, errors);
            throw new ControllerStartupException($"the first configuration has {errors} errors");
        }
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delta = _first!;
        _first = null;
        while (true)
        {
            await owner.ApplyAsync(state, delta, StatusDecides.Never, stoppingToken);
            readiness.MarkReady();
            await wake.WaitAsync(stoppingToken);
            delta = feed.TakePending() is { } batch ? state.Apply(batch) : new ClusterDelta();
            reporter.Report(state, delta);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        ControllerLog.Stopping(logger);
        await base.StopAsync(cancellationToken);
    }
}
