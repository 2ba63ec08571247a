using System.Threading.Channels;
using BgpLb.Config;
using BgpLb.L2.Announcing;
using BgpLb.L2.Membership;
using BgpLb.Speaker.Allocations;

namespace BgpLb.Speaker.L2;

/// <summary>
/// The L2 reconcile loop: every configuration change or change of the live speakers recomputes the L2 plan for this node
/// and hands the owned addresses to the <see cref="L2Announcer"/> (level-based). The raw-socket responders open with
/// the first configuration that has an L2Advertisement. On stop the addresses are released first, then the leave
/// message tells the other speakers to take over at once.
/// </summary>
public sealed class L2SpeakerService(
    SpeakerOptions options, ConfigBroadcast configs, IAllocationSource allocations, SpeakerMembership membership, L2Announcer announcer, SpeakerMetrics metrics,
    ILogger<L2SpeakerService> logger, IEnumerable<IL2PlanObserver> observers)
    : BackgroundService
{
    private readonly Channel<bool> _dirty = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest });
    private volatile AllocatedConfig? _config;
    private L2Plan? _previous;
    private bool _announcerStarted;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await membership.StartAsync(cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var any = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        Task[] loops = [FollowConfigAsync(any.Token), FollowMembershipAsync(any.Token), ReconcileLoopAsync(any.Token)];
        await Task.WhenAny(loops);
        await any.CancelAsync();
        await Task.WhenAll(loops);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (_announcerStarted)
            await announcer.StopAsync(cancellationToken);
        await membership.StopAsync(cancellationToken);
    }

    private async Task FollowConfigAsync(CancellationToken cancellationToken)
    {
        await foreach (var allocated in AllocatedConfig.WatchAsync(configs.WatchAsync(cancellationToken), allocations, cancellationToken))
        {
            _config = allocated;
            membership.SetPeers(L2AnnouncementPlanner.Peers(allocated.Update.Config, options.NodeName));
            _dirty.Writer.TryWrite(true);
        }
    }

    private async Task FollowMembershipAsync(CancellationToken cancellationToken)
    {
        await foreach (var _ in membership.Changes.ReadAllAsync(cancellationToken))
            _dirty.Writer.TryWrite(true);
    }

    private async Task ReconcileLoopAsync(CancellationToken cancellationToken)
    {
        await foreach (var _ in _dirty.Reader.ReadAllAsync(cancellationToken))
        {
            if (_config is not { Update.Config: var config, Addresses: var addresses })
                continue;
            var alive = membership.Alive;
            var plan = L2AnnouncementPlanner.Plan(config, options.NodeName, addresses, alive);
            if (!_announcerStarted && !config.L2Advertisements.IsEmpty)
            {
                await announcer.StartAsync(cancellationToken);
                _announcerStarted = true;
            }
            if (_announcerStarted)
                announcer.SetAnnouncements(plan.Announcements);
            metrics.L2PlanApplied(plan);
            foreach (var observer in observers)
                observer.L2PlanApplied(plan);
            LogChanges(plan, alive.Count);
            _previous = plan;
        }
    }

    private void LogChanges(L2Plan plan, int alive)
    {
        var before = (_previous?.Addresses ?? []).ToHashSet();
        foreach (var decision in plan.Addresses.Where(d => !before.Contains(d)))
        {
            if (decision.Announced)
                L2SpeakerLog.Owning(logger, decision.Address, decision.Service, decision.Interfaces.IsEmpty ? "all interfaces" : string.Join(", ", decision.Interfaces));
            else
                L2SpeakerLog.NotOwning(logger, decision.Address, decision.Service, decision.Reason);
        }
        L2SpeakerLog.Applied(logger, plan.Announcements.Length, alive);
    }
}

internal static partial class L2SpeakerLog
{
    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "L2: this node owns {Address} of {Service} (answering on {Interfaces})")]
    public static partial void Owning(ILogger logger, System.Net.IPAddress address, string service, string interfaces);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Information, Message = "L2: not answering for {Address} of {Service}: {Reason}")]
    public static partial void NotOwning(ILogger logger, System.Net.IPAddress address, string service, string reason);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Debug, Message = "L2: applied plan, {Owned} addresses owned, {Alive} live speakers")]
    public static partial void Applied(ILogger logger, int owned, int alive);
}
