using BgpLb.Config;
using BgpLb.Hosting;

namespace BgpLb.Controller;

/// <summary>The controller's reconcile loop: every configuration change re-allocates everything (level-based).</summary>
public sealed class ControllerService(ConfigFeed feed, AllocationOwner owner, Readiness readiness, ILogger<ControllerService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var update in feed.WatchAsync(stoppingToken))
        {
            await owner.ApplyConfigAsync(update.Config, stoppingToken);
            readiness.MarkReady();
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        ControllerLog.Stopping(logger);
        await base.StopAsync(cancellationToken);
    }
}
