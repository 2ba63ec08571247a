using System.Net;
using System.Net.Sockets;
using BgpLb.Bgp.Rib;

namespace BgpLb.Bgp.Tests.Rib;

public class AdjRibOutTests
{
    private static readonly RouteAttributes A = new(null, [1u], []);
    private static readonly RouteAttributes B = new(null, [2u], []);
    private static readonly DateTimeOffset T0 = new(2026, 12, 6, 9, 0, 0, TimeSpan.Zero);

    private static Route R(string cidr, RouteAttributes? attributes = null) => new(IPNetwork.Parse(cidr), attributes ?? RouteAttributes.Empty);
    private static IPNetwork N(string cidr) => IPNetwork.Parse(cidr);

    [Fact]
    public void First_sync_announces_everything_grouped_by_family_and_attributes()
    {
        var rib = new AdjRibOut();
        rib.SetDesired([R("192.0.2.1/32", A), R("192.0.2.2/32", A), R("192.0.2.3/32", B), R("2001:db8::1/128", A)]);
        rib.ResetAdvertised();

        var changes = rib.TakeChanges(ipv4: true, ipv6: true, T0);

        Assert.Empty(changes.Withdrawn);
        Assert.Equal(3, changes.Announced.Count);
        var v4a = Assert.Single(changes.Announced, g => g.Family == AddressFamily.InterNetwork && g.Attributes.Equals(A));
        Assert.Equal([N("192.0.2.1/32"), N("192.0.2.2/32")], v4a.Prefixes.OrderBy(p => p.ToString()));
        Assert.Equal(4, rib.AdvertisedCount);
        Assert.Equal(0, rib.PendingCount);
        Assert.True(rib.TakeChanges(true, true, T0).IsEmpty);
    }

    [Fact]
    public void Change_yields_only_the_difference()
    {
        var rib = new AdjRibOut();
        rib.SetDesired([R("192.0.2.1/32", A), R("192.0.2.2/32", A), R("192.0.2.3/32", A)]);
        rib.ResetAdvertised();
        rib.TakeChanges(true, true, T0);

        Assert.True(rib.SetDesired([R("192.0.2.1/32", A), R("192.0.2.3/32", B), R("192.0.2.4/32", A)]));
        var changes = rib.TakeChanges(true, true, T0);

        Assert.Equal([N("192.0.2.2/32")], changes.Withdrawn);
        Assert.Equal([N("192.0.2.3/32")], Assert.Single(changes.Announced, g => g.Attributes.Equals(B)).Prefixes);
        Assert.Equal([N("192.0.2.4/32")], Assert.Single(changes.Announced, g => g.Attributes.Equals(A)).Prefixes);
    }

    [Fact]
    public void Same_desired_set_is_not_a_change()
    {
        var rib = new AdjRibOut();
        rib.SetDesired([R("192.0.2.1/32", A)]);
        Assert.False(rib.SetDesired([R("192.0.2.1/32", new RouteAttributes(null, [1u, 1u], []))]));
    }

    [Fact]
    public void Churn_is_coalesced_latest_state_wins()
    {
        var rib = new AdjRibOut();
        rib.SetDesired([R("192.0.2.1/32", A)]);
        rib.ResetAdvertised();
        rib.TakeChanges(true, true, T0);

        for (var i = 0; i < 1000; i++)
        {
            rib.SetDesired([R("192.0.2.1/32", i % 2 == 0 ? B : A), R($"10.0.{i % 3}.0/24")]);
        }
        rib.SetDesired([R("192.0.2.1/32", A)]);

        Assert.True(rib.PendingCount <= 4, "the dirty set is bounded by the prefixes involved, not by the number of changes");
        Assert.True(rib.TakeChanges(true, true, T0).IsEmpty, "announce-then-withdraw and A->B->A cancel out");
    }

    [Fact]
    public void Families_not_negotiated_are_never_sent()
    {
        var rib = new AdjRibOut();
        rib.SetDesired([R("192.0.2.1/32"), R("2001:db8::1/128")]);
        rib.ResetAdvertised();

        var changes = rib.TakeChanges(ipv4: true, ipv6: false, T0);

        Assert.Equal(AddressFamily.InterNetwork, Assert.Single(changes.Announced).Family);
        Assert.Equal(1, rib.AdvertisedCount);
        Assert.Equal(0, rib.PendingCount);
    }

    [Fact]
    public void Advertised_lists_one_family_for_route_refresh()
    {
        var rib = new AdjRibOut();
        rib.SetDesired([R("192.0.2.1/32", A), R("192.0.2.2/32", B), R("2001:db8::1/128")]);
        rib.ResetAdvertised();
        rib.TakeChanges(true, true, T0);

        var groups = rib.Advertised(AddressFamily.InterNetwork);

        Assert.Equal(2, groups.Count);
        Assert.All(groups, g => Assert.Equal(AddressFamily.InterNetwork, g.Family));
    }

    [Fact]
    public void Reset_makes_every_desired_prefix_pending_again()
    {
        var rib = new AdjRibOut();
        rib.SetDesired([R("192.0.2.1/32"), R("192.0.2.2/32")]);
        rib.ResetAdvertised();
        rib.TakeChanges(true, true, T0);

        rib.ResetAdvertised();

        Assert.Equal(0, rib.AdvertisedCount);
        Assert.Equal(2, rib.PendingCount);
        Assert.Equal(2, rib.TakeChanges(true, true, T0).Announced.Single().Prefixes.Count);
    }

    // Set: per-prefix changes (PeerManager.Update), on the same desired set and dirty set as SetDesired.

    private static (IPNetwork, RouteAttributes?) Add(string cidr, RouteAttributes? attributes = null) => (N(cidr), attributes ?? RouteAttributes.Empty);
    private static (IPNetwork, RouteAttributes?) Withdraw(string cidr) => (N(cidr), null);

    private static AdjRibOut Synced(params Route[] routes)
    {
        var rib = new AdjRibOut();
        rib.SetDesired(routes);
        rib.ResetAdvertised();
        rib.TakeChanges(true, true, T0);
        return rib;
    }

    [Fact]
    public void Set_changes_only_the_prefixes_it_names()
    {
        var rib = Synced(R("192.0.2.1/32", A), R("192.0.2.2/32", A), R("192.0.2.3/32", A));

        Assert.True(rib.Set([Withdraw("192.0.2.1/32"), Add("192.0.2.2/32", B), Add("192.0.2.4/32", A)]));

        Assert.Equal(3, rib.PendingCount);
        Assert.Equal(3, rib.DesiredCount); // .3 untouched, .1 gone, .4 added
        var changes = rib.TakeChanges(true, true, T0);
        Assert.Equal([N("192.0.2.1/32")], changes.Withdrawn);
        Assert.Equal([N("192.0.2.2/32")], Assert.Single(changes.Announced, g => g.Attributes.Equals(B)).Prefixes);
        Assert.Equal([N("192.0.2.4/32")], Assert.Single(changes.Announced, g => g.Attributes.Equals(A)).Prefixes);
        Assert.Equal(3, rib.AdvertisedCount);
    }

    [Fact]
    public void Set_to_the_current_state_is_not_a_change()
    {
        var rib = Synced(R("192.0.2.1/32", A));

        Assert.False(rib.Set([Add("192.0.2.1/32", new RouteAttributes(null, [1u, 1u], [])), Withdraw("192.0.2.9/32")]));
        Assert.Equal(0, rib.PendingCount);
        Assert.False(rib.Set([]));
    }

    [Fact]
    public void Set_churn_is_coalesced_per_prefix_and_the_latest_state_wins()
    {
        var rib = Synced(R("192.0.2.1/32", A));

        for (var i = 0; i < 1000; i++)
        {
            rib.Set([Add("192.0.2.1/32", i % 2 == 0 ? B : A)]);
            rib.Set([Add("10.0.0.1/32"), Withdraw("10.0.0.1/32")]);
        }
        Assert.Equal(2, rib.PendingCount); // two prefixes touched, however many changes

        rib.Set([Add("192.0.2.1/32", B)]);
        var changes = rib.TakeChanges(true, true, T0);
        Assert.Empty(changes.Withdrawn);
        Assert.Equal([N("192.0.2.1/32")], Assert.Single(changes.Announced).Prefixes);
        Assert.Equal(B, Assert.Single(changes.Announced).Attributes);
    }

    [Fact]
    public void Withdrawing_a_prefix_that_was_never_advertised_sends_nothing()
    {
        var rib = Synced(R("192.0.2.1/32"));

        // Desired and withdrawn again before the session synced: pending, but nothing to tell the peer.
        Assert.True(rib.Set([Add("192.0.2.2/32")]));
        Assert.True(rib.Set([Withdraw("192.0.2.2/32")]));
        Assert.True(rib.TakeChanges(true, true, T0).IsEmpty);

        // Never desired at all: not even pending.
        Assert.False(rib.Set([Withdraw("192.0.2.3/32")]));
        Assert.Equal(0, rib.PendingCount);
        Assert.Equal(1, rib.AdvertisedCount);
    }

    [Fact]
    public void Set_before_any_session_is_advertised_in_full_by_the_first_one()
    {
        var rib = new AdjRibOut();
        rib.Set([Add("192.0.2.1/32", A), Add("192.0.2.2/32", A), Add("192.0.2.3/32", B)]);
        rib.Set([Withdraw("192.0.2.3/32")]);

        rib.ResetAdvertised();
        var changes = rib.TakeChanges(true, true, T0);

        Assert.Empty(changes.Withdrawn);
        Assert.Equal([N("192.0.2.1/32"), N("192.0.2.2/32")], Assert.Single(changes.Announced).Prefixes.OrderBy(p => p.ToString()));
    }

    [Fact]
    public void Set_and_SetDesired_share_one_desired_set()
    {
        var rib = Synced(R("192.0.2.1/32"), R("192.0.2.2/32"));
        rib.Set([Add("192.0.2.3/32")]);

        // The level-based call replaces everything, including what Set added.
        Assert.True(rib.SetDesired([R("192.0.2.1/32")]));
        var changes = rib.TakeChanges(true, true, T0);

        Assert.Equal([N("192.0.2.2/32")], changes.Withdrawn);
        Assert.Empty(changes.Announced);
        Assert.Equal(1, rib.DesiredCount);
    }

    [Fact]
    public void Each_prefix_keeps_the_time_it_was_last_sent_with_its_current_attributes()
    {
        var rib = new AdjRibOut();
        rib.SetDesired([R("192.0.2.1/32", A), R("192.0.2.2/32", A)]);
        rib.ResetAdvertised();
        rib.TakeChanges(true, true, T0);

        rib.SetDesired([R("192.0.2.1/32", A), R("192.0.2.2/32", B), R("192.0.2.3/32", A)]);
        rib.TakeChanges(true, true, T0.AddSeconds(5));
        rib.SetDesired([R("192.0.2.2/32", B), R("192.0.2.3/32", A)]);
        rib.TakeChanges(true, true, T0.AddSeconds(9)); // only withdraws 192.0.2.1: the others keep their time

        Assert.Equal(
            new Dictionary<IPNetwork, DateTimeOffset> { [N("192.0.2.2/32")] = T0.AddSeconds(5), [N("192.0.2.3/32")] = T0.AddSeconds(5) },
            rib.AdvertisedPrefixes());

        rib.ResetAdvertised(); // a new session: nothing sent on it yet
        Assert.Empty(rib.AdvertisedPrefixes());
    }
}
