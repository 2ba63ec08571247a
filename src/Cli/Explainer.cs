using System.Globalization;
using System.Net;
using BgpLb.Allocation;
using BgpLb.Planning;
using BgpLb.StatusApi;

namespace BgpLb.Cli;

/// <summary>The result of one bounded TCP connect of <c>--probe PORT</c>: null <see cref="Error"/> when it connected.</summary>
public sealed record ProbeResult(IPAddress Address, int Port, string? Error);

/// <summary>
/// <c>bgplb explain</c>: walks a Service's path step by step (Service, allocation, advertisements, nodes, BGP, L2, probe)
/// with the daemons' own functions — the controller's allocator through <see cref="ClusterSnapshot"/>, the speakers'
/// <see cref="Planner"/> per node, and the speakers' /status — so that it says what their logs and status say.
/// The walk stops at the first step that fails: the later ones depend on it. A pure function of its inputs.
/// </summary>
public static class Explainer
{
    private const string Bgp = "BGP";
    private const string L2 = "L2";

    /// <param name="speakers">The /status of every --speaker (limited to the Service or not).</param>
    /// <param name="probes">The results of --probe; null without it.</param>
    public static Explanation Explain(ClusterSnapshot cluster, string service, IReadOnlyList<SpeakerStatus> speakers, IReadOnlyList<ProbeResult>? probes)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(speakers);
        var walk = new Walk(cluster, service, speakers);
        walk.Add(1, "service", walk.ServiceStep);
        walk.Add(2, "allocation", walk.AllocationStep);
        walk.Add(3, "advertisements", walk.AdvertisementStep);
        walk.Add(4, "nodes", walk.NodeStep);
        walk.Add(5, "bgp", walk.BgpStep);
        walk.Add(6, "l2", walk.L2Step);
        walk.Add(7, "probe", () => ProbeStep(probes));
        var failed = walk.Steps.Where(s => s.Verdict == Verdict.Failed).Select(s => s.Step).ToList();
        return new Explanation(Explanation.CurrentVersion, service, failed.Count == 0 ? Verdict.Held : Verdict.Failed, failed,
            [.. walk.Addresses?.Addresses.Select(a => a.ToString()) ?? []], walk.Addresses?.Pool, walk.Steps, walk.Decisions, walk.Routes, walk.L2Answers,
            cluster.Records.Events, cluster.Records.Unread);
    }

    private static ExplainStep ProbeStep(IReadOnlyList<ProbeResult>? probes)
    {
        if (probes is null)
            return NotApplicable(7, "probe", "no --probe PORT given");
        var failures = probes.Where(p => p.Error is not null).ToList();
        var lines = probes.Select(p => $"{Endpoint(p)}: {p.Error ?? "connected"}").ToList();
        return failures.Count == 0
            ? new ExplainStep(7, "probe", Verdict.Held, null, $"{string.Join(", ", probes.Select(Endpoint))} accepted the connection", null, lines)
            : new ExplainStep(7, "probe", Verdict.Failed, "ProbeFailed", $"{Endpoint(failures[0])}: {failures[0].Error}",
                "the address is announced but no backend answered on the port: check the Service's port, its pods, and the path from here "
                + "(firewall, the router's route for the address)", lines);
    }

    private static string Endpoint(ProbeResult probe) => new IPEndPoint(probe.Address, probe.Port).ToString();

    private static ExplainStep NotApplicable(int step, string name, string why) => new(step, name, Verdict.NotApplicable, null, why, null, []);

    /// <summary>The state of one walk: what the steps so far found.</summary>
    private sealed class Walk(ClusterSnapshot cluster, string key, IReadOnlyList<SpeakerStatus> speakers)
    {
        private ServiceInfo? _service;
        private List<(string Node, ServicePlan? Plan)> _plans = [];

        public List<ExplainStep> Steps { get; } = [];
        public List<NodeDecision> Decisions { get; } = [];
        public List<PeerRoute> Routes { get; } = [];
        public List<L2Answer> L2Answers { get; } = [];
        public ServiceAddresses? Addresses { get; private set; }

        /// <summary>Runs the step unless one before it failed.</summary>
        public void Add(int number, string name, Func<ExplainStep> step) =>
            Steps.Add(Steps.FirstOrDefault(s => s.Verdict == Verdict.Failed) is { } failed
                ? NotApplicable(number, name, $"not checked: step {failed.Step} ({failed.Name}) failed")
                : step());

        public ExplainStep ServiceStep()
        {
            const int Step = 1;
            const string Name = "service";
            var state = cluster.State;
            var objectProblems = state.Problems
                .Where(p => p.Resource is { Kind: "Service" } r && $"{r.Namespace}/{r.Name}" == key)
                .Select(p => p.ToString())
                .ToList();
            if (!state.Services.TryGetValue(key, out var service))
            {
                return objectProblems.Count > 0
                    ? new ExplainStep(Step, Name, Verdict.Failed, "InvalidService", $"Service {key} cannot be read: {objectProblems[0]}", "correct the field named", objectProblems)
                    : new ExplainStep(Step, Name, Verdict.Failed, "ServiceNotFound",
                        $"no Service {key} of type LoadBalancer in {cluster.SourceDescription}",
                        "check the namespace and the name; only Services of type LoadBalancer are read", []);
            }
            if (!service.IsLoadBalancer)
                return new ExplainStep(Step, Name, Verdict.Failed, "NotLoadBalancer", $"Service {key} is not of type LoadBalancer (it still carries an allocation)",
                    "set spec.type: LoadBalancer", []);
            if (!service.HasClass(cluster.Scope.LoadBalancerClass))
            {
                var ours = cluster.Scope.LoadBalancerClass is { } configured ? $"'{configured}' (--lb-class)" : "none (without --lb-class)";
                return new ExplainStep(Step, Name, Verdict.Failed, "OtherLoadBalancerClass",
                    $"spec.loadBalancerClass is {(service.LoadBalancerClass is { } c ? $"'{c}'" : "not set")}; bgplb handles the class {ours}",
                    "set spec.loadBalancerClass to the class the daemons run with (--lb-class), or remove it when they run without", []);
            }
            var details = service.DeprecatedAnnotations
                .Select(a => $"annotation {a} is deprecated (still honoured): use {MetalLbNames.DeprecatedAnnotations[a]}")
                .Concat(objectProblems)
                .ToList();
            if (service.Problem is { } problem)
                return new ExplainStep(Step, Name, Verdict.Failed, "InvalidRequest", $"Service {key}: {problem}", Fixes.For(AllocationFailure.InvalidRequest), details);
            if (!service.UnknownAnnotations.IsEmpty)
            {
                return new ExplainStep(Step, Name, Verdict.Failed, "UnknownAnnotation",
                    $"unknown annotation{(service.UnknownAnnotations.Length > 1 ? "s" : "")} {string.Join(", ", service.UnknownAnnotations)} (ignored)",
                    $"correct the name: MetalLB reads {MetalLbNames.LoadBalancerIPsAnnotation}, {MetalLbNames.AddressPoolAnnotation}, {MetalLbNames.AllowSharedIPAnnotation}",
                    details);
            }
            _service = service;
            var policy = service.LocalTrafficPolicy ? "Local" : "Cluster";
            return new ExplainStep(Step, Name, Verdict.Held, null,
                $"LoadBalancer Service {key}, class {service.LoadBalancerClass ?? "(none)"}, externalTrafficPolicy {policy}, annotations valid", null, details);
        }

        public ExplainStep AllocationStep()
        {
            const int Step = 2;
            const string Name = "allocation";
            var entry = cluster.Allocations.Entries.GetValueOrDefault(key);
            Addresses = cluster.AddressesOf(key);
            if (Addresses is { } held)
            {
                var pool = held.Pool ?? cluster.State.Config.PoolOf(held.Addresses[0])?.Name;
                Addresses = held with { Pool = pool };
                return new ExplainStep(Step, Name, Verdict.Held, null,
                    $"{string.Join(", ", held.Addresses)} from pool {(pool is null ? "(none)" : $"'{pool}'")} ({cluster.SourceDescription})", null,
                    entry is { IsAllocated: true } ? [$"allocator: {entry.Reason}"] : []);
            }
            if (entry is null or { IsAllocated: true })
            {
                // Kubernetes: the allocator would give an address, but the controller has not written it into the status.
                var would = entry is null ? "" : $" (the allocator would give {string.Join(", ", entry.Addresses)} from pool '{entry.Pool}')";
                return new ExplainStep(Step, Name, Verdict.Failed, "NotAllocated", $"the Service has no address in status.loadBalancer.ingress{would}",
                    "check that bgplb-controller runs, is the leader, and handles this class (--lb-class); kubectl get events for the Service", []);
            }
            return new ExplainStep(Step, Name, Verdict.Failed, entry.Failure.ToString(), $"no address: {entry.Reason}", Fixes.For(entry.Failure), []);
        }

        public ExplainStep AdvertisementStep()
        {
            const int Step = 3;
            const string Name = "advertisements";
            var state = cluster.State;
            var held = Addresses!;
            _plans = Plan();
            var details = new List<string>();
            var config = state.Config;
            foreach (var pool in held.Addresses.Select(a => PoolOf(a)).Distinct())
            {
                if (pool is null)
                    continue;
                foreach (var advertisement in config.BgpAdvertisements.Where(a => a.Pools.Contains(pool)))
                {
                    details.Add($"BGPAdvertisement {advertisement.Name} selects pool '{pool}': {ServiceSelection(advertisement.ServiceSelectors)}; "
                        + $"nodes: {Nodes(advertisement.NodeSelectors)}; peers: {(advertisement.Peers.IsEmpty ? "all" : string.Join(", ", advertisement.Peers))}");
                }
                foreach (var advertisement in config.L2Advertisements.Where(a => a.Pools.Contains(pool)))
                {
                    details.Add($"L2Advertisement {advertisement.Name} selects pool '{pool}': {ServiceSelection(advertisement.ServiceSelectors)}; "
                        + $"nodes: {Nodes(advertisement.NodeSelectors)}; interfaces: {(advertisement.Interfaces.IsEmpty ? "all" : string.Join(", ", advertisement.Interfaces))}");
                }
                foreach (var advertisement in config.BgpAdvertisements.Where(a => !a.Pools.Contains(pool)))
                    details.Add($"BGPAdvertisement {advertisement.Name} does not select pool '{pool}' (its pools: {string.Join(", ", advertisement.Pools)})");
                foreach (var advertisement in config.L2Advertisements.Where(a => !a.Pools.Contains(pool)))
                    details.Add($"L2Advertisement {advertisement.Name} does not select pool '{pool}' (its pools: {string.Join(", ", advertisement.Pools)})");
            }
            var unadvertised = config.Pools.Where(p => !config.BgpAdvertisements.Any(a => a.Pools.Contains(p.Name)) && !config.L2Advertisements.Any(a => a.Pools.Contains(p.Name)))
                .Select(p => p.Name).ToList();
            if (unadvertised.Count > 0)
                details.Add($"pools that no advertisement selects: {string.Join(", ", unadvertised)}");
            details.AddRange(state.Problems.Where(p => p.Resource is { Kind: "BGPAdvertisement" or "L2Advertisement" or "IPAddressPool" })
                .Select(p => $"ignored (invalid): {p}"));

            // Reasons that hold for every node, as the planner gives them.
            var plan = _plans.Select(p => p.Plan).FirstOrDefault(p => p is not null);
            foreach (var address in plan?.Addresses ?? [])
            {
                var (reason, detail) = address.Bgp is { } bgp ? (bgp.Reason, bgp.Detail) : (address.L2!.Reason, address.L2.Detail);
                if (reason is AnnounceReason.AddressNotInPool or AnnounceReason.NoAdvertisementForPool or AnnounceReason.ServiceNotSelected)
                    return new ExplainStep(Step, Name, Verdict.Failed, reason.ToString(), $"{address.Address}: {detail}", Fixes.For(reason), details);
            }
            bool Selects(EquatableArray<string> pools, EquatableArray<LabelSelector> services) =>
                held.Addresses.Any(x => PoolOf(x) is { } p && pools.Contains(p)) && LabelSelector.MatchesAny(services, _service!.Labels);
            var selecting = config.BgpAdvertisements.Where(a => Selects(a.Pools, a.ServiceSelectors)).Select(a => "BGPAdvertisement " + a.Name)
                .Concat(config.L2Advertisements.Where(a => Selects(a.Pools, a.ServiceSelectors)).Select(a => "L2Advertisement " + a.Name));
            return new ExplainStep(Step, Name, Verdict.Held, null, $"pool '{held.Pool}' is advertised to the Service by {string.Join(", ", selecting)}", null, details);
        }

        public ExplainStep NodeStep()
        {
            const int Step = 4;
            const string Name = "nodes";
            foreach (var (node, plan) in _plans)
            {
                // The node's own speaker's decisions when it reported any for the Service, else the planner's for it.
                if (speakers.FirstOrDefault(s => s.Node == node)?.Services.FirstOrDefault(s => s.Service == key) is { } reported)
                {
                    foreach (var address in reported.Addresses)
                    {
                        Decide(node, address.Address, address.Bgp is { } b ? (b.Announced, b.Reason, b.Detail) : null, address.L2 is { } l ? (l.Announced, l.Reason, l.Detail) : null, "speaker");
                    }
                    continue;
                }
                // With every speaker known (Kubernetes, the pod proxy), a node without one announces nothing, whatever the planner says.
                var noSpeaker = cluster.HasEverySpeaker && !speakers.Any(s => s.Node == node);
                foreach (var address in plan?.Addresses ?? [])
                {
                    Decide(node, address.Address.ToString(), SpeakerNotRunningIf(noSpeaker, address.Bgp is { } b ? (b.Announced, b.Reason, b.Detail) : null),
                        SpeakerNotRunningIf(noSpeaker, address.L2 is { } l ? (l.Announced, l.Reason, l.Detail) : null), "computed");
                }
            }
            var computedNote = speakers.Count == 0 ? "" : cluster.HasEverySpeaker ? " [computed: no speaker pod]" : " [computed: no --speaker for this node]";
            var details = Decisions.Select(d => $"{d.Node} {d.Protocol} {d.Address}: {(d.Announced ? "announces" : $"does not announce ({d.Reason}: {d.Detail})")}"
                + (d.Source == "computed" ? computedNote : "")).ToList();
            if (_plans.Count == 0)
            {
                return new ExplainStep(Step, Name, Verdict.Failed, "NoNodes", "no Node objects and no --speaker: no node to announce from",
                    "add a Node object per speaker node (its name is the speaker's --node, with its InternalIP)", details);
            }
            foreach (var address in Addresses!.Addresses.Select(a => a.ToString()))
            {
                var decisions = Decisions.Where(d => d.Address == address).ToList();
                if (decisions.Any(d => d.Announced))
                    continue;
                // A node that would announce but runs no speaker is the cause; otherwise the most common reason.
                var reason = decisions.Any(d => d.Reason == AnnounceReason.SpeakerNotRunning)
                    ? AnnounceReason.SpeakerNotRunning
                    : decisions.GroupBy(d => d.Reason).OrderByDescending(g => g.Count()).Select(g => g.Key).FirstOrDefault(AnnounceReason.ServiceGone);
                var example = decisions.FirstOrDefault(d => d.Reason == reason);
                var nodes = decisions.Where(d => d.Reason == reason).Select(d => d.Node).Distinct().ToList();
                return new ExplainStep(Step, Name, Verdict.Failed, reason.ToString(),
                    $"no node announces {address}: {string.Join(", ", nodes)}: {example?.Detail ?? "no decision"}", Fixes.For(reason), details);
            }
            var announcing = Decisions.Where(d => d.Announced).Select(d => $"{d.Node} ({d.Protocol})").Distinct();
            return new ExplainStep(Step, Name, Verdict.Held, null, $"announced by {string.Join(", ", announcing)}", null, details);
        }

        public ExplainStep BgpStep()
        {
            const int Step = 5;
            const string Name = "bgp";
            if (!Decisions.Any(d => d.Protocol == Bgp))
                return NotApplicable(Step, Name, "the address's pool is announced in L2 mode only");
            if (speakers.Count == 0)
            {
                // Kubernetes: the speakers' ServiceBGPStatus objects still say to which peers each node announces.
                var records = cluster.Records.Announcements.Where(a => a.Protocol == Bgp)
                    .Select(a => $"ServiceBGPStatus of {a.Node}: announced to {(a.Targets.Count == 0 ? "no peer" : string.Join(", ", a.Targets))}").ToList();
                return new ExplainStep(Step, Name, Verdict.NotApplicable, null,
                    $"sessions and routes not checked: {cluster.SpeakersUnread ?? "no --speaker URL given"}", null, records);
            }
            var problems = new List<(string Code, string Text)>();
            foreach (var status in speakers)
            {
                var announced = status.Services.FirstOrDefault(s => s.Service == key)?.Addresses
                    .Where(a => a.Bgp is { Announced: true }).ToList() ?? [];
                foreach (var session in status.Sessions)
                {
                    var routes = session.Routes.Where(r => r.Services.Contains(key)).ToList();
                    foreach (var route in routes)
                    {
                        Routes.Add(new PeerRoute(status.Node, session.Peer, session.Address, session.State, session.UptimeSeconds, session.LastError,
                            route.Prefix, route.Advertised, route.SentAt));
                    }
                    if (!announced.Any(a => a.Bgp!.Peers.Contains(session.Peer)))
                        continue;
                    if (session.State != "Established")
                    {
                        problems.Add(("SessionNotEstablished", $"{status.Node} -> {session.Peer} ({session.Address}): session {session.State}"
                            + (session.LastError is { } error ? $", last error: {error}" : "")));
                    }
                    else
                    {
                        foreach (var route in routes.Where(r => !r.Advertised))
                            problems.Add(("RouteNotAdvertised", $"{status.Node} -> {session.Peer}: {route.Prefix} planned but not in the Adj-RIB-Out"));
                    }
                }
            }
            var details = Routes.Select(r => $"{r.Node} -> {r.Peer} ({r.PeerAddress}) {r.State}{Uptime(r.UptimeSeconds)}: {r.Prefix} "
                + (r.Advertised ? "advertised" + (r.SentAt is { } sent ? $", sent at {sent:O}" : "") : "not advertised") + (r.LastError is { } e ? $"; last error: {e}" : "")).ToList();
            if (problems.Count > 0)
            {
                return new ExplainStep(Step, Name, Verdict.Failed, problems[0].Code, problems[0].Text,
                    problems[0].Code == "SessionNotEstablished"
                        ? "check the BGPPeer (address, ASNs, port, password) against the router's configuration and that the router accepts the session; the last error names the side that refused"
                        : "the session is up but the route is not sent yet: wait a moment and retry, or look at the speaker's log",
                    [.. problems.Skip(1).Select(p => p.Text), .. details]);
            }
            if (Routes.Count == 0)
            {
                var nodes = Decisions.Where(d => d.Protocol == Bgp && d.Announced).Select(d => d.Node).Distinct();
                return NotApplicable(Step, Name, $"no --speaker of a node that announces ({string.Join(", ", nodes)})");
            }
            var advertised = Routes.Where(r => r.Advertised).ToList();
            return new ExplainStep(Step, Name, Verdict.Held, null,
                $"{advertised.Count} route{(advertised.Count == 1 ? "" : "s")} advertised on Established sessions: "
                + string.Join(", ", advertised.Select(r => $"{r.Node} -> {r.Peer}")), null, details);
        }

        public ExplainStep L2Step()
        {
            const int Step = 6;
            const string Name = "l2";
            var l2 = Decisions.Where(d => d.Protocol == L2).ToList();
            if (l2.Count == 0)
                return NotApplicable(Step, Name, "the address is not announced in L2 mode");
            var owners = l2.Where(d => d.Announced).ToList();
            var live = speakers.Count > 0
                ? string.Join(", ", speakers.SelectMany(s => s.L2.LiveSpeakers).Distinct().Order(StringComparer.Ordinal))
                : "assumed on every node (no --speaker)";
            var details = new List<string> { $"live speakers: {live}" };
            details.AddRange(cluster.Records.Announcements.Where(a => a.Protocol == L2)
                .Select(a => $"ServiceL2Status of {a.Node}: answered on {(a.Targets.Count == 0 ? "no interface" : string.Join(", ", a.Targets))}"));
            foreach (var status in speakers)
            {
                var gratuitous = status.L2.GratuitousSentAt;
                L2Answers.AddRange(status.L2.Answering.Where(a => Addresses!.Addresses.Any(s => s.ToString() == a))
                    .Select(a => new L2Answer(status.Node, a, gratuitous?.TryGetValue(a, out var at) == true ? at : null)));
            }
            details.AddRange(L2Answers.Select(a => $"{a.Node} answers ARP/NDP for {a.Address}"
                + (a.GratuitousSentAt is { } sent ? $"; last gratuitous ARP/NA at {sent:O}" : "; no gratuitous ARP/NA reported")));
            var conflicts = speakers.SelectMany(s => s.L2.Conflicts.Select(c => (s.Node, Conflict: c)))
                .Where(c => Addresses!.Addresses.Any(a => a.ToString() == c.Conflict.Address)).ToList();
            details.AddRange(conflicts.Select(c => $"{c.Node}: {c.Conflict.OtherMac} also answered for {c.Conflict.Address} on {c.Conflict.Interface} at {c.Conflict.DetectedAt:O}"));
            if (conflicts.Count > 0)
            {
                var (node, conflict) = conflicts[0];
                return new ExplainStep(Step, Name, Verdict.Failed, nameof(AnnounceReason.AddressConflict),
                    $"{conflict.Address}: host {conflict.OtherMac} also answers for it (seen by {node} on {conflict.Interface})", Fixes.For(AnnounceReason.AddressConflict), details);
            }
            foreach (var owner in owners)
            {
                if (speakers.FirstOrDefault(s => s.Node == owner.Node) is { } status && !status.L2.Answering.Contains(owner.Address))
                {
                    return new ExplainStep(Step, Name, Verdict.Failed, "OwnerNotAnswering", $"{owner.Node} owns {owner.Address} but does not answer ARP/NDP for it",
                        "check the speaker's log on the node (raw sockets need CAP_NET_RAW; the interface must be up)", details);
                }
            }
            return new ExplainStep(Step, Name, Verdict.Held, null,
                string.Join("; ", owners.Select(o => $"{o.Node} owns {o.Address}" + (o.Source == "computed" ? " (computed)" : " and answers ARP/NDP"))), null, details);
        }

        private static (bool Announced, AnnounceReason Reason, string Detail)? SpeakerNotRunningIf(bool noSpeaker, (bool Announced, AnnounceReason Reason, string Detail)? decision) =>
            noSpeaker && decision is { Announced: true }
                ? (false, AnnounceReason.SpeakerNotRunning, "no Running speaker pod on the node (the planner would announce from it)")
                : decision;

        private void Decide(string node, string address, (bool Announced, AnnounceReason Reason, string Detail)? bgp,
            (bool Announced, AnnounceReason Reason, string Detail)? l2, string source)
        {
            if (bgp is { } b)
                Decisions.Add(new NodeDecision(node, address, Bgp, b.Announced, b.Reason, b.Detail, source));
            if (l2 is { } l)
                Decisions.Add(new NodeDecision(node, address, L2, l.Announced, l.Reason, l.Detail, source));
        }

        /// <summary>Every node's plan for the Service, as that node's speaker makes it.</summary>
        private List<(string Node, ServicePlan? Plan)> Plan()
        {
            var state = cluster.State;
            var names = state.Nodes.Keys.Concat(speakers.Select(s => s.Node)).Distinct().Order(StringComparer.Ordinal).ToList();
            // The live speakers of the L2 elections: as the speakers see them; without any, one on every node.
            IReadOnlySet<string> live = speakers.Count > 0 ? speakers.SelectMany(s => s.L2.LiveSpeakers).ToHashSet(StringComparer.Ordinal) : names.ToHashSet(StringComparer.Ordinal);
            var endpoints = state.EndpointsOf(key);
            return [.. names.Select(node => (node, Planner.Plan(
                new PlanContext(state.Config, node, state.Nodes, live, cluster.Scope.LoadBalancerClass, cluster.Scope.IgnoreExcludeLabel),
                _service!, Addresses, endpoints)))];
        }

        private string? PoolOf(IPAddress address) =>
            Addresses!.Pool is { } named && cluster.State.Config.Pools.Any(p => p.Name == named && p.Cidrs.Any(c => c.Contains(address)))
                ? named
                : cluster.State.Config.PoolOf(address)?.Name;

        private string ServiceSelection(EquatableArray<LabelSelector> selectors) =>
            selectors.IsEmpty ? "every Service"
            : LabelSelector.MatchesAny(selectors, _service!.Labels) ? "its serviceSelectors match the Service"
            : "its serviceSelectors do not match the Service";

        private string Nodes(EquatableArray<LabelSelector> selectors)
        {
            var nodes = cluster.State.Nodes.Values.Where(n => LabelSelector.MatchesAny(selectors, n.Labels)).Select(n => n.Name).Order(StringComparer.Ordinal).ToList();
            return nodes.Count == 0 ? "none of the Node objects" : string.Join(", ", nodes);
        }

        private static string Uptime(double? seconds) =>
            seconds is { } s ? string.Create(CultureInfo.InvariantCulture, $" for {TimeSpan.FromSeconds(Math.Round(s)):c}") : "";
    }
}
