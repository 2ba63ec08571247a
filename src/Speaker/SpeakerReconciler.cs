using System.Collections.Immutable;
using System.Net;
using BgpLb.Bgp;
using BgpLb.Config;
using BgpLb.Hosting;
using BgpLb.L2.Announcing;
using BgpLb.L2.Membership;
using BgpLb.Planning;
using BgpLb.Speaker.Addresses;

namespace BgpLb.Speaker;

/// <summary>
/// The speaker's one reconcile loop. Each pass takes every change since the last one (objects from the source, merged by
/// key; addresses; live speakers), applies them to the <see cref="ClusterState"/>, plans again exactly the Services
/// they select (<see cref="NodePlanner"/>) and hands the route differences to the <see cref="PeerManager"/> and the L2
/// answers to the <see cref="L2Announcer"/>. In standalone mode a first configuration with errors stops the start.
/// Sessions open with the first plan, once its routes are in place.
/// </summary>
public sealed class SpeakerReconciler(
    SpeakerOptions options, ResourceFeed feed, WakeSignal wake, ClusterState state, ConfigReporter reporter, IAddressSource addresses,
    PeerManager peers, SpeakerMembership membership, L2Announcer announcer, IEnumerable<ISpeakerObserver> observers, Readiness readiness,
    ILogger<SpeakerReconciler> logger)
    : BackgroundService
{
    private const string Gone = "the Service is gone, no longer of type LoadBalancer, or has no address";

    private const int LargeStart = 10_000;

    private readonly NodePlanner _planner = new(options.NodeName, options.Scope.LoadBalancerClass, options.Scope.IgnoreExcludeLabel);
    private readonly ForeignClassLog _foreignClasses = new(options.Scope.LoadBalancerClass, logger);
    private ClusterDelta? _first;
    private IReadOnlySet<string> _alive = ImmutableHashSet<string>.Empty;
    private ImmutableArray<string> _warnings = [];
    private bool _announcerStarted;
    private bool _l2RefusalLogged;

    /// <summary>Refuses a standalone first configuration with errors before anything else runs.</summary>
    /// <exception cref="SpeakerStartupException">The first configuration has errors (logged).</exception>
    /// <exception cref="ListenerException">The BGP listener or the membership socket cannot be opened.</exception>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Kubernetes is null)
        {
            // Kubernetes mode reports problems in its ConfigurationState instead and runs on the valid rest; its first
            // batch waits for every kind to be listed, which must not hold up the start of the daemon.
            _first = state.Apply(await feed.StartAsync(cancellationToken));
            if (state.HasErrors)
            {
                reporter.Report(state, _first);
                var errors = state.Problems.Count(p => p.Severity == ConfigSeverity.Error);
                SpeakerLog.UnusableFirstConfiguration(logger, errors);
                throw new SpeakerStartupException($"the first configuration has {errors} errors");
            }
        }
        try
        {
            await peers.StartAsync(cancellationToken);
        }
        catch (System.Net.Sockets.SocketException e)
        {
            throw ListenerException.From("bgp-listen", options.BgpListenDescription, e);
        }
        if (options.MembershipEnabled)
        {
            try
            {
                await membership.StartAsync(cancellationToken);
            }
            catch (System.Net.Sockets.SocketException e)
            {
                throw ListenerException.From("memberlist-port", $"0.0.0.0:{options.MemberlistPort}", e);
            }
        }
        else
        {
            SpeakerLog.MembershipOff(logger);
        }
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delta = _first ?? state.Apply(await feed.StartAsync(stoppingToken));
        _first = null;
        using var following = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var liveness = FollowMembershipAsync(following.Token);
        try
        {
            await PassAsync(delta, first: true, stoppingToken);
            if (state.Services.Count >= LargeStart)
            {
                // Loading a large configuration leaves the heap full of what parsing it needed; give that back to the
                // system once, instead of keeping the peak as resident memory for the life of the process.
                GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            }
            while (true)
            {
                await wake.WaitAsync(stoppingToken);
                var batch = feed.TakePending();
                await PassAsync(batch is null ? new ClusterDelta() : state.Apply(batch), first: false, stoppingToken);
            }
        }
        finally
        {
            await following.CancelAsync();
            await liveness;
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (_announcerStarted)
            await announcer.StopAsync(cancellationToken);
        await membership.StopAsync(cancellationToken);
        SpeakerLog.Stopping(logger);
        await peers.StopAsync(cancellationToken);
    }

    private async Task PassAsync(ClusterDelta delta, bool first, CancellationToken cancellationToken)
    {
        reporter.Report(state, delta);
        if (first || delta.Nodes.Count > 0)
            membership.SetPeers(OtherSpeakers());
        _foreignClasses.Observe(state, first ? state.Services.Keys : delta.Services);
        var changed = new HashSet<string>(delta.Services, StringComparer.Ordinal);
        changed.UnionWith(delta.Endpoints);
        addresses.Update(state, delta, changed);
        if (!addresses.IsKnown)
            return; // nothing is announced, and no session opened, before the addresses are known

        // Without liveness no node is known to be alive, this one included: no L2 election is won here.
        var alive = options.MembershipEnabled ? membership.Alive : ImmutableSortedSet<string>.Empty;
        var contextMayHaveChanged = delta.ConfigChanged || delta.Nodes.Count > 0 || !alive.SetEquals(_alive);
        _alive = alive;
        var inputs = new PlanInputs(state.Config, state.Services, state.EndpointsOf, state.Nodes, alive, addresses.AddressesOf);
        var plan = _planner.Apply(inputs, contextMayHaveChanged, changed);
        if (plan.NewContext is { } context)
            LogWarnings(context.Warnings);

        peers.Update(plan.Peers, plan.Routes);
        if (!options.MembershipEnabled && !state.Config.L2Advertisements.IsEmpty && !_l2RefusalLogged)
        {
            SpeakerLog.L2Refused(logger, state.Config.L2Advertisements.Length);
            _l2RefusalLogged = true;
        }
        if (options.MembershipEnabled && (first || delta.ConfigChanged))
            announcer.SetExcludedInterfaces(state.Config.ExcludedL2Interfaces.Patterns.AsImmutableArray());
        if (!_announcerStarted && options.MembershipEnabled && !state.Config.L2Advertisements.IsEmpty)
        {
            await announcer.StartAsync(cancellationToken);
            _announcerStarted = true;
            plan.L2Changed = true;
        }
        if (_announcerStarted && plan.L2Changed)
            announcer.SetAnnouncements([.. _planner.Table.L2Answers.Select(a => new L2Announcement(a.Address, a.Interfaces.AsImmutableArray()))]);

        LogDecisions(plan.Plans);
        if (plan.Peers is not null || first)
            SpeakerLog.Applied(logger, _planner.Context!.Peers.Length, _planner.Table.RouteCount);
        var pass = new SpeakerPass(state, plan, delta.ProblemsChanged || first);
        foreach (var observer in observers)
            observer.Applied(pass);
        readiness.MarkReady();
    }

    private async Task FollowMembershipAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var _ in membership.Changes.ReadAllAsync(cancellationToken))
                wake.Set();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Where to reach the other speakers: the InternalIP of every other Node object.</summary>
    private Dictionary<string, IPAddress> OtherSpeakers() =>
        state.Nodes.Values
            .Where(n => n.Name != options.NodeName && n.InternalAddress is not null)
            .ToDictionary(n => n.Name, n => n.InternalAddress!, StringComparer.Ordinal);

    private void LogWarnings(ImmutableArray<string> warnings)
    {
        foreach (var warning in warnings.Except(_warnings))
            SpeakerLog.PlanWarning(logger, warning);
        _warnings = warnings;
    }

    /// <summary>Logs each address decision that changed, so a steady state is quiet and every change is one line.</summary>
    private void LogDecisions(List<PlanChange> changes)
    {
        var decisions = new List<(string Service, AddressPlan Address, bool Bgp)>();
        foreach (var (service, before, after) in changes)
        {
            if (after is null)
            {
                foreach (var address in before?.Addresses ?? [])
                {
                    if (address.Bgp is { Announced: true })
                        decisions.Add((service, address with { Bgp = address.Bgp with { Reason = AnnounceReason.ServiceGone, Detail = Gone } }, true));
                    if (address.L2 is { Announced: true })
                        decisions.Add((service, address with { L2 = address.L2 with { Reason = AnnounceReason.ServiceGone, Detail = Gone } }, false));
                }
                continue;
            }
            foreach (var address in after.Addresses)
            {
                var old = before?.Addresses.FirstOrDefault(a => a.Address.Equals(address.Address));
                if (address.Bgp is not null && !Equals(address.Bgp, old?.Bgp))
                    decisions.Add((service, address, true));
                if (address.L2 is not null && !Equals(address.L2, old?.L2))
                    decisions.Add((service, address, false));
            }
        }
        // A first load of thousands of Services is one summary line, not thousands.
        var level = LogLevels.ForBulk(decisions.Count);
        if (level == LogLevel.Debug)
        {
            var announced = decisions.Count(d => d.Bgp ? d.Address.Bgp!.Announced : d.Address.L2!.Announced);
            SpeakerLog.ManyDecisionsChanged(logger, decisions.Count, announced, decisions.Count - announced);
        }
        foreach (var (service, address, bgp) in decisions)
        {
            if (bgp && address.Bgp!.Announced)
                SpeakerLog.Announcing(logger, level, address.Address, service, address.Bgp.Peers);
            else if (bgp)
                SpeakerLog.NotAnnouncing(logger, level, address.Address, service, address.Bgp!.Reason, address.Bgp.Detail);
            else if (address.L2!.Announced)
                SpeakerLog.Owning(logger, level, address.Address, service, address.L2.Interfaces.IsEmpty ? "all interfaces" : string.Join(", ", address.L2.Interfaces));
            else
                SpeakerLog.NotOwning(logger, level, address.Address, service, address.L2.Reason, address.L2.Detail);
        }
    }
}

/// <summary>The speaker refused to start; the reason has been logged.</summary>
public sealed class SpeakerStartupException(string message) : Exception(message);
