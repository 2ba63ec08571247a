using System.Net;
using BgpLb.Bgp;
using CsCheck;
using static BgpLb.Planning.Tests.PlannerAssertions;

namespace BgpLb.Planning.Tests;

/// <summary>
/// What the plans add up to: routes shared by several Services (one address, or aggregation) merge their attributes in
/// Service-key order whatever the order of changes, and exactly the routes whose effective attributes change are reported.
/// </summary>
public sealed class AnnouncementTableTests
{
    private static readonly PeerKey Tor = new(IP("198.18.0.1"), 179, null);
    private static readonly PeerKey Spine = new(IP("198.18.0.2"), 179, null);

    private static ServicePlan Plan(string service, params PlannedRoute[] routes) => new(service, [], [.. routes]);

    private static ServicePlan L2Plan(string service, string address, params string[] interfaces) =>
        new(service, [new AddressPlan(IP(address), "pool", null, new L2Decision("node-a", AnnounceReason.Announced, "announced", [.. interfaces]))], []);

    private static PlannedRoute Route(string prefix, RouteAttributes attributes, PeerKey? peer = null) =>
        new(peer ?? Tor, IPNetwork.Parse(prefix), attributes);

    private static Dictionary<IPNetwork, RouteAttributes> RoutesOf(AnnouncementTable table, PeerKey peer) =>
        table.RoutesOf(peer).ToDictionary(r => r.Prefix, r => r.Attributes);

    private static List<RouteChange> Set(AnnouncementTable table, ServicePlan plan)
    {
        var changes = new List<RouteChange>();
        table.Set(plan.Service, plan, changes);
        return changes;
    }

    private static List<RouteChange> Remove(AnnouncementTable table, string service)
    {
        var changes = new List<RouteChange>();
        table.Set(service, null, changes);
        return changes;
    }

    // a sorts before b: its localPref counts; the communities are unioned.
    private static readonly RouteAttributes A = Attributes(100, "1:1");
    private static readonly RouteAttributes B = Attributes(200, "2:2");
    private static readonly RouteAttributes Merged = Attributes(100, "1:1", "2:2");

    [Theory]
    [InlineData("203.0.113.1/32", "203.0.113.1/32")] // one shared address
    [InlineData("203.0.113.0/28", "203.0.113.0/28")] // two addresses aggregated onto one prefix
    public void Contributions_merge_in_Service_key_order_whatever_the_order_of_changes(string prefixA, string prefixB)
    {
        var forward = new AnnouncementTable();
        var first = Set(forward, Plan("default/a", Route(prefixA, A)));
        var second = Set(forward, Plan("default/b", Route(prefixB, B)));

        var backward = new AnnouncementTable();
        Set(backward, Plan("default/b", Route(prefixB, B)));
        Set(backward, Plan("default/a", Route(prefixA, A)));

        var prefix = IPNetwork.Parse(prefixA);
        Assert.Equal([new RouteChange(Tor, prefix, A)], first);
        Assert.Equal([new RouteChange(Tor, prefix, Merged)], second);
        Assert.Equal(new Dictionary<IPNetwork, RouteAttributes> { [prefix] = Merged }, RoutesOf(forward, Tor));
        Assert.Equal(RoutesOf(forward, Tor), RoutesOf(backward, Tor));
        Assert.Equal(1, forward.RouteCount);
    }

    [Fact]
    public void Removing_one_contributor_rederives_the_route_from_the_others()
    {
        var table = new AnnouncementTable();
        Set(table, Plan("default/a", Route("203.0.113.1/32", A)));
        Set(table, Plan("default/b", Route("203.0.113.1/32", B)));
        var prefix = IPNetwork.Parse("203.0.113.1/32");

        Assert.Equal([new RouteChange(Tor, prefix, B)], Remove(table, "default/a"));
        Assert.Equal(B, Assert.Single(table.RoutesOf(Tor)).Attributes);

        Assert.Equal([new RouteChange(Tor, prefix, null)], Remove(table, "default/b"));
        Assert.Empty(table.RoutesOf(Tor));
        Assert.Empty(table.PeersWithRoutes);
        Assert.Empty(table.Plans);
    }

    [Fact]
    public void No_change_is_reported_when_the_effective_attributes_stay_equal()
    {
        var table = new AnnouncementTable();
        Set(table, Plan("default/a", Route("203.0.113.1/32", A)));
        Set(table, Plan("default/b", Route("203.0.113.1/32", B)));

        // The same plan again, a contributor that adds nothing, and one whose localPref is outranked by a's.
        Assert.Empty(Set(table, Plan("default/b", Route("203.0.113.1/32", B))));
        Assert.Empty(Set(table, Plan("default/c", Route("203.0.113.1/32", Attributes(null, "2:2")))));
        Assert.Empty(Set(table, Plan("default/b", Route("203.0.113.1/32", Attributes(300, "2:2")))));
        Assert.Equal(Merged, Assert.Single(table.RoutesOf(Tor)).Attributes);
    }

    [Fact]
    public void Exactly_the_changed_routes_are_reported_once_each()
    {
        var table = new AnnouncementTable();
        Set(table, Plan("default/a", Route("203.0.113.1/32", A), Route("203.0.113.2/32", A), Route("203.0.113.1/32", A, Spine)));

        // One route keeps its attributes, one changes them, one goes, one comes.
        var changes = Set(table, Plan("default/a", Route("203.0.113.1/32", A), Route("203.0.113.2/32", B), Route("203.0.113.3/32", A, Spine)));

        Assert.Equal(
            [
                new RouteChange(Tor, IPNetwork.Parse("203.0.113.2/32"), B),
                new RouteChange(Spine, IPNetwork.Parse("203.0.113.1/32"), null),
                new RouteChange(Spine, IPNetwork.Parse("203.0.113.3/32"), A),
            ],
            changes.OrderBy(c => c.Peer.ToString(), StringComparer.Ordinal).ThenBy(c => c.Prefix.ToString(), StringComparer.Ordinal));
    }

    [Fact]
    public void A_contributor_that_changes_its_attributes_is_replaced_in_place()
    {
        // Regression: a changed contribution used to be withdrawn and added again, so a route shared with a Service that
        // sorts first reported two changes (without b's community, then with it) although its attributes stayed equal.
        var table = new AnnouncementTable();
        Set(table, Plan("default/a", Route("203.0.113.1/32", Attributes(100))));
        Set(table, Plan("default/b", Route("203.0.113.1/32", Attributes(200, "2:2"))));

        Assert.Empty(Set(table, Plan("default/b", Route("203.0.113.1/32", Attributes(300, "2:2")))));

        var changes = Set(table, Plan("default/b", Route("203.0.113.1/32", Attributes(300, "3:3"))));
        Assert.Equal([new RouteChange(Tor, IPNetwork.Parse("203.0.113.1/32"), Attributes(100, "3:3"))], changes);
    }

    [Fact]
    public void Several_Services_on_one_address_give_one_L2_answer_with_the_interfaces_of_the_first()
    {
        var table = new AnnouncementTable();
        var none = new List<RouteChange>();
        Assert.True(table.Set("default/b", L2Plan("default/b", "203.0.113.1", "eth0"), none));
        Assert.Equal(["eth0"], Assert.Single(table.L2Answers).Interfaces.ToArray());

        // a sorts first: its interfaces win, whatever the order of the changes.
        Assert.True(table.Set("default/a", L2Plan("default/a", "203.0.113.1", "eth1"), none));
        Assert.Equal(new L2Answer(IP("203.0.113.1"), ["eth1"]), Assert.Single(table.L2Answers));
        Assert.False(table.Set("default/c", L2Plan("default/c", "203.0.113.1", "eth2"), none));
        Assert.False(table.Set("default/b", L2Plan("default/b", "203.0.113.1", "eth3"), none));

        Assert.True(table.Set("default/a", null, none));
        Assert.Equal(["eth3"], Assert.Single(table.L2Answers).Interfaces.ToArray());
        Assert.True(table.Set("default/b", null, none));
        Assert.False(table.Set("default/x", null, none));
        Assert.True(table.Set("default/c", null, none));
        Assert.Empty(table.L2Answers);
        Assert.Empty(none);
    }

    [Fact]
    public void Addresses_not_announced_in_L2_give_no_answer()
    {
        var table = new AnnouncementTable();
        var plan = new ServicePlan("default/a", [new AddressPlan(IP("203.0.113.1"), "pool", null, new L2Decision("node-b", AnnounceReason.NotElected, "node node-b is the elected owner", []))], []);
        Assert.False(table.Set("default/a", plan, []));
        Assert.Empty(table.L2Answers);
        Assert.Same(plan, table.Plans["default/a"]);
    }

    // ---- property: any sequence of Set calls reports exactly the differences and ends where merging from scratch ends ----

    private static readonly string[] Services = ["default/a", "default/b", "default/c", "default/d"];
    private static readonly PeerKey[] Peers = [Tor, Spine];
    private static readonly IPNetwork[] Prefixes = [IPNetwork.Parse("203.0.113.1/32"), IPNetwork.Parse("203.0.113.0/28"), IPNetwork.Parse("2001:db8::/124")];
    private static readonly IPAddress[] Addresses = [IP("203.0.113.1"), IP("203.0.113.2")];
    private static readonly string[][] InterfaceChoices = [[], ["eth0"], ["eth1"], ["eth0", "eth1"]];

    private static readonly Gen<RouteAttributes> GenAttributes =
        Gen.Select(Gen.OneOf<uint?>(null, 100u, 200u), Gen.Int[0, 7], Gen.Bool)
            .Select((localPref, communities, large) => new RouteAttributes(localPref,
                Enumerable.Range(0, 3).Where(i => (communities & 1 << i) != 0).Select(i => (uint)(64512 << 16 | i)),
                large ? [new BgpLb.Bgp.LargeCommunity(64512, 1, 1)] : []));

    private static Gen<ServicePlan?> GenPlan(string service) =>
        Gen.Frequency(
            (1, Gen.Const((ServicePlan?)null)),
            (5, Gen.Select(
                Gen.Select(Gen.Int[0, Peers.Length - 1], Gen.Int[0, Prefixes.Length - 1], GenAttributes).Array[0, 4],
                Gen.Select(Gen.Int[0, Addresses.Length - 1], Gen.Int[0, InterfaceChoices.Length - 1], Gen.Bool).Array[0, 2])
                .Select(ServicePlan? (routes, answers) => new ServicePlan(service,
                    [.. answers.DistinctBy(a => a.Item1).Select(a => new AddressPlan(Addresses[a.Item1], "pool", null,
                        new L2Decision(a.Item3 ? "node-a" : "node-b", a.Item3 ? AnnounceReason.Announced : AnnounceReason.NotElected, "r", [.. InterfaceChoices[a.Item2]])))],
                    [.. routes.DistinctBy(r => (r.Item1, r.Item2)).Select(r => new PlannedRoute(Peers[r.Item1], Prefixes[r.Item2], r.Item3))]))));

    private static readonly Gen<(string Service, ServicePlan? Plan)[]> GenSets =
        Gen.Int[0, Services.Length - 1].SelectMany(i => GenPlan(Services[i]).Select(p => (Services[i], p))).Array[1, 30];

    /// <summary>The reference merge, written independently: localPref of the first Service that sets one, communities unioned.</summary>
    private static Dictionary<(PeerKey, IPNetwork), RouteAttributes> Expected(Dictionary<string, ServicePlan> plans)
    {
        var result = new Dictionary<(PeerKey, IPNetwork), RouteAttributes>();
        foreach (var group in plans.OrderBy(p => p.Key, StringComparer.Ordinal).SelectMany(p => p.Value.Routes).GroupBy(r => (r.Peer, r.Prefix)))
        {
            result[group.Key] = new RouteAttributes(
                group.Select(r => r.Attributes.LocalPref).FirstOrDefault(p => p is not null),
                group.SelectMany(r => r.Attributes.Communities),
                group.SelectMany(r => r.Attributes.LargeCommunities));
        }
        return result;
    }

    private static HashSet<L2Answer> ExpectedAnswers(Dictionary<string, ServicePlan> plans) =>
    [
        .. plans.OrderBy(p => p.Key, StringComparer.Ordinal)
            .SelectMany(p => p.Value.Addresses.Where(a => a.L2 is { Announced: true }))
            .GroupBy(a => a.Address)
            .Select(g => new L2Answer(g.Key, g.First().L2!.Interfaces)),
    ];

    private static Dictionary<(PeerKey, IPNetwork), RouteAttributes> Snapshot(AnnouncementTable table) =>
        table.PeersWithRoutes.SelectMany(p => table.RoutesOf(p).Select(r => (Key: (p, r.Prefix), r.Attributes))).ToDictionary(x => x.Key, x => x.Attributes);

    [Fact]
    public void Any_sequence_of_changes_reports_exactly_the_differences_and_ends_where_merging_from_scratch_ends() =>
        GenSets.Sample(Check, iter: 1000, print: sets => string.Join(" | ", sets.Select(s => $"{s.Service}: {s.Plan?.ToString() ?? "gone"}")));

    private static void Check((string Service, ServicePlan? Plan)[] sets)
    {
        var table = new AnnouncementTable();
        var plans = new Dictionary<string, ServicePlan>(StringComparer.Ordinal);
        foreach (var (service, plan) in sets)
        {
            var before = Snapshot(table);
            var answersBefore = table.L2Answers.ToHashSet();
            var changes = new List<RouteChange>();
            var l2Changed = table.Set(service, plan, changes);
            if (plan is null)
                plans.Remove(service);
            else
                plans[service] = plan;

            var after = Snapshot(table);
            var expected = Expected(plans);
            if (!(expected.Count == after.Count && expected.All(e => after.TryGetValue(e.Key, out var a) && a.Equals(e.Value))))
                Assert.Fail($"routes after {service}: expected {string.Join("; ", expected.Select(e => $"{e.Key} {Describe(e.Value)}"))}, got {string.Join("; ", after.Select(e => $"{e.Key} {Describe(e.Value)}"))}");
            var differing = before.Keys.Union(after.Keys)
                .Where(k => !Equals(before.GetValueOrDefault(k), after.GetValueOrDefault(k)))
                .ToHashSet();
            if (!(changes.Count == differing.Count && changes.All(c => differing.Contains((c.Peer, c.Prefix))
                    && Equals(c.Attributes, after.GetValueOrDefault((c.Peer, c.Prefix))))))
                Assert.Fail($"{service}: reported {string.Join("; ", changes.Select(c => $"{c.Peer} {c.Prefix} {Describe(c.Attributes)}"))} for differences at {string.Join("; ", differing)}");
            var answers = table.L2Answers.ToHashSet();
            Assert.True(answers.SetEquals(ExpectedAnswers(plans)), $"L2 answers after {service}");
            Assert.Equal(!answers.SetEquals(answersBefore), l2Changed);
            Assert.Equal(after.Count, table.RouteCount);
        }
    }
}
