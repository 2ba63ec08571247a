using System.Net;
using System.Net.Sockets;
using BgpLb.Bgp.Rib;

namespace BgpLb.Bgp.Tests.Rib;

public class AdjRibOutTests
{
    private static readonly RouteAttributes A = new(null, [1u], []);
    private static readonly RouteAttributes B = new(null, [2u], []);

    private static Route R(string cidr, RouteAttributes? attributes = null) => new(IPNetwork.Parse(cidr), attributes ?? RouteAttributes.Empty);
    private static IPNetwork N(string cidr) => IPNetwork.Parse(cidr);

    [Fact]
    public void First_sync_announces_everything_grouped_by_family_and_attributes()
    {
        var rib = new AdjRibOut();
        rib.SetDesired([R("192.0.2.1/32", A), R("192.0.2.2/32", A), R("192.0.2.3/32", B), R("2001:db8::1/128", A)]);
        rib.ResetAdvertised();

        var changes = rib.TakeChanges(ipv4: true, ipv6: true);

        Assert.Empty(changes.Withdrawn);
        Assert.Equal(3, changes.Announced.Count);
        var v4a = Assert.Single(changes.Announced, g => g.Family == AddressFamily.InterNetwork && g.Attributes.Equals(A));
        Assert.Equal([N("192.0.2.1/32"), N("192.0.2.2/32")], v4a.Prefixes.OrderBy(p => p.ToString()));
        Assert.Equal(4, rib.AdvertisedCount);
        Assert.Equal(0, rib.PendingCount);
        Assert.True(rib.TakeChanges(true, true).IsEmpty);
    }

    [Fact]
    public void Change_yields_only_the_difference()
    {
        var rib = new AdjRibOut();
        rib.SetDesired([R("192.0.2.1/32", A), R("192.0.2.2/32", A), R("192.0.2.3/32", A)]);
        rib.ResetAdvertised();
        rib.TakeChanges(true, true);

        Assert.True(rib.SetDesired([R("192.0.2.1/32", A), R("192.0.2.3/32", B), R("192.0.2.4/32", A)]));
        var changes = rib.TakeChanges(true, true);

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
        rib.TakeChanges(true, true);

        for (var i = 0; i < 1000; i++)
        {
            rib.SetDesired([R("192.0.2.1/32", i % 2 == 0 ? B : A), R($"10.0.{i % 3}.0/24")]);
        }
        rib.SetDesired([R("192.0.2.1/32", A)]);

        Assert.True(rib.PendingCount <= 4, "the dirty set is bounded by the prefixes involved, not by the number of changes");
        Assert.True(rib.TakeChanges(true, true).IsEmpty, "announce-then-withdraw and A->B->A cancel out");
    }

    [Fact]
    public void Families_not_negotiated_are_never_sent()
    {
        var rib = new AdjRibOut();
        rib.SetDesired([R("192.0.2.1/32"), R("2001:db8::1/128")]);
        rib.ResetAdvertised();

        var changes = rib.TakeChanges(ipv4: true, ipv6: false);

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
        rib.TakeChanges(true, true);

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
        rib.TakeChanges(true, true);

        rib.ResetAdvertised();

        Assert.Equal(0, rib.AdvertisedCount);
        Assert.Equal(2, rib.PendingCount);
        Assert.Equal(2, rib.TakeChanges(true, true).Announced.Single().Prefixes.Count);
    }
}
