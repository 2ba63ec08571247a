using BgpLb.Config;
using BgpLb.Hosting;

namespace BgpLb.Controller;

/// <summary>
/// The controller's reconcile loop in standalone mode: each pass takes every change of the configuration directory
/// since the last one and allocates what it touches. A first configuration with errors stops the start.
/// </summary>
public sealed class ControllerService(ResourceFeed feed, WakeSignal wake, ClusterState state, ConfigReporter reporter, AllocationOwner owner,
    Readiness readiness, TimeProvider time, ILogger<ControllerService> logger) : BackgroundService
{
    /// <summary>While the state cannot be saved, saving is tried again after this, doubling up to <see cref="MaxSaveRetry"/>.</summary>
    public static readonly TimeSpan FirstSaveRetry = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan MaxSaveRetry = TimeSpan.FromSeconds(30);

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
        var retry = FirstSaveRetry;
        while (true)
        {
            await owner.ApplyAsync(state, delta, StatusDecides.Never, stoppingToken);
            if (owner.SaveError is { } error)
            {
                readiness.MarkNotReady(error);
                if (!await WakeOrTimeoutAsync(retry, stoppingToken))
                {
                    retry = retry * 2 < MaxSaveRetry ? retry * 2 : MaxSaveRetry;
                    delta = new ClusterDelta(); // nothing new: the owner saves what it holds back
                    continue;
                }
            }
            else
            {
                readiness.MarkReady();
                retry = FirstSaveRetry;
                await wake.WaitAsync(stoppingToken);
            }
            delta = feed.TakePending() is { } batch ? state.Apply(batch) : new ClusterDelta();
            reporter.Report(state, delta);
        }
    }

    /// <summary>True when woken by a change, false after <paramref name="timeout"/>.</summary>
    private async Task<bool> WakeOrTimeoutAsync(TimeSpan timeout, CancellationToken stoppingToken)
    {
        using var timer = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, timer.Token);
        try
        {
            await wake.WaitAsync(linked.Token);
            return true;
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            return false;
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        ControllerLog.Stopping(logger);
        await base.StopAsync(cancellationToken);
    }
}
