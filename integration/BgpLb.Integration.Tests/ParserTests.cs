using BgpLb.Netlab;
using System.Net;
using System.Net.Sockets;
using BgpLb.Integration.Tests.Harness;

namespace BgpLb.Integration.Tests;

/// <summary>The CLI parsers against output captured from BIRD 2.0.12, FRR 8.4.4, GoBGP 3.10 and iproute2.</summary>
public sealed class ParserTests
{
    private const string BirdRoutes = """
        BIRD 2.0.12 ready.
        Table master4:
        203.0.113.10/32      unicast [peer_198_18_0_2 12:28:22.384] * (100) [AS64513i]
        	via 198.18.0.2 on to-n1
        	Type: BGP univ
        	BGP.origin: IGP
        	BGP.as_path: 64513
        	BGP.next_hop: 198.18.0.2
        	BGP.local_pref: 100
        	BGP.community: (64513,100) (65535,65281)
        	BGP.large_community: (64513, 1, 2)
                             unicast [peer_198_18_0_6 12:28:22.444] (100) [AS64513i]
        	via 198.18.0.6 on to-n2
        	Type: BGP univ
        	BGP.origin: IGP
        	BGP.as_path: 64513 64520
        	BGP.next_hop: 198.18.0.6
        	BGP.local_pref: 100
        203.0.113.99/32      blackhole [originateipv4 12:28:22.001] * (200)
        	Type: static univ

        Table master6:
        2001:db8:100::10/128 unicast [peer_2001_db8_ffff_1__2 12:28:22.343] * (100) [AS64513i]
        	via 2001:db8:ffff:1::2 on to-n1
        	Type: BGP univ
        	BGP.origin: IGP
        	BGP.as_path: 
        	BGP.next_hop: 2001:db8:ffff:1::2 fe80::a8c1:abff:fe00:1
        	BGP.local_pref: 150
        	BGP.community: (64513,600)
        	BGP.large_community: (64513, 6, 6) (4200000000, 0, 4294967295)
        """;

    [Fact]
    public void Bird_routes_give_one_entry_per_bgp_path_with_attributes()
    {
        var routes = BirdOutput.ParseRoutes(BirdRoutes.Replace("\r\n", "\n", StringComparison.Ordinal));

        Assert.Equal(3, routes.Count);
        Assert.Equal(["203.0.113.10/32", "203.0.113.10/32", "2001:db8:100::10/128"], routes.Select(r => r.Prefix));
        Assert.Equal([IPAddress.Parse("198.18.0.2")], routes[0].NextHops);
        Assert.Equal(["64513:100", "65535:65281"], routes[0].Communities);
        Assert.Equal(["64513:1:2"], routes[0].LargeCommunities);
        Assert.Equal([64513u], routes[0].AsPath);
        Assert.Equal([IPAddress.Parse("198.18.0.6")], routes[1].NextHops);
        Assert.Equal([64513u, 64520u], routes[1].AsPath);
        Assert.Empty(routes[1].Communities);
        Assert.Equal([IPAddress.Parse("2001:db8:ffff:1::2")], routes[2].NextHops);
        Assert.Empty(routes[2].AsPath);
        Assert.Equal(150u, routes[2].LocalPreference);
        Assert.Equal(["64513:6:6", "4200000000:0:4294967295"], routes[2].LargeCommunities);
    }

    [Fact]
    public void Bird_empty_table_gives_no_routes() =>
        Assert.Empty(BirdOutput.ParseRoutes("BIRD 2.0.12 ready.\n"));

    [Fact]
    public void Bird_route_count_sums_tables_but_not_the_total_line()
    {
        const string output = """
            BIRD 2.0.12 ready.
            100000 of 100000 routes for 100000 networks in table master4
            2 of 2 routes for 1 networks in table master6
            Total: 100002 of 100002 routes for 100001 networks in 2 tables
            """;

        Assert.Equal(100002, BirdOutput.ParseRouteCount(output));
        Assert.Throws<FormatException>(() => BirdOutput.ParseRouteCount("BIRD 2.0.12 ready.\n"));
    }

    [Theory]
    [InlineData("peer_198_18_0_6 BGP        ---        start  12:28:30.127  Active        Socket: Connection refused", "Active", "Active", false, "Socket: Connection refused")]
    [InlineData("peer_198_18_0_2 BGP        ---        up     12:28:22.343  Established   ", "Established", "Established", true, null)]
    [InlineData("peer_198_18_0_2 BGP        ---        start  12:28:22.343  Connect       ", "Connect", "Connect", false, null)]
    public void Bird_peer_state_and_last_error(string summary, string stateLine, string state, bool established, string? lastError)
    {
        var output = $"BIRD 2.0.12 ready.\nName       Proto      Table      State  Since         Info\n{summary}\n  BGP state:          {stateLine}\n    Neighbor address: 198.18.0.6\n";

        Assert.Equal(new PeerState(established, state, lastError), BirdOutput.ParsePeerState(output));
    }

    [Fact]
    public void Bird_peer_state_requires_a_bgp_state_line() =>
        Assert.Throws<FormatException>(() => BirdOutput.ParsePeerState("BIRD 2.0.12 ready.\nsyntax error\n"));

    [Fact]
    public void Frr_detail_json_skips_the_prefix_header_and_link_local_next_hops()
    {
        const string json = """
            {"vrfId": 0, "routes": {
              "2001:db8:100::10/128": [
                {"prefix":"2001:db8:100::10/128","version":1,"advertisedTo":{}},
                {"aspath":{"string":"64513","segments":[{"type":"as-sequence","list":[64513]}],"length":1},"origin":"IGP","valid":true,
                 "locPrf":120,"community":{"string":"64513:600 noExport","list":["64513:600","noExport"]},
                 "largeCommunity":{"string":"64513:6:6","list":["64513:6:6"]},
                 "nexthops":[{"ip":"2001:db8:ffff:1::2","afi":"ipv6","scope":"global","used":true},{"ip":"fe80::1","afi":"ipv6","scope":"link-local"}],
                 "peer":{"peerId":"2001:db8:ffff:1::2","type":"external"}},
                {"aspath":{"string":"","segments":[],"length":0},"origin":"IGP","valid":true,
                 "nexthops":[{"ip":"2001:db8:ffff:2::2","afi":"ipv6","scope":"global"}]}
              ]}}
            """;

        var routes = FrrOutput.ParseRoutes(json);

        Assert.Equal(2, routes.Count);
        Assert.Equal([IPAddress.Parse("2001:db8:ffff:1::2")], routes[0].NextHops);
        Assert.Equal(["64513:600", "65535:65281"], routes[0].Communities);
        Assert.Equal(["64513:6:6"], routes[0].LargeCommunities);
        Assert.Equal(120u, routes[0].LocalPreference);
        Assert.Equal([64513u], routes[0].AsPath);
        Assert.Empty(routes[1].AsPath);
        Assert.Null(routes[1].LocalPreference);
        Assert.Empty(FrrOutput.ParseRoutes("{}"));
    }

    [Fact]
    public void Frr_peer_state_prefers_the_notification_reason()
    {
        var address = IPAddress.Parse("198.18.0.2");
        Assert.Equal(
            new PeerState(false, "Active", "Cease/Administrative Shutdown"),
            FrrOutput.ParsePeerState("""{"198.18.0.2":{"bgpState":"Active","lastResetDueTo":"Notification received","lastNotificationReason":"Cease/Administrative Shutdown"}}""", address));
        Assert.Equal(
            new PeerState(true, "Established", null),
            FrrOutput.ParsePeerState("""{"198.18.0.2":{"bgpState":"Established"}}""", address));
        Assert.Throws<FormatException>(() => FrrOutput.ParsePeerState("{}", address));
    }

    [Fact]
    public void Gobgp_rib_json_decodes_numbered_attributes()
    {
        const string json = """
            {"203.0.113.11/32":[{"nlri":{"prefix":"203.0.113.11/32"},"age":1795436260,"best":true,"attrs":[
              {"type":1,"value":0},
              {"type":2,"as_paths":[{"segment_type":2,"num":2,"asns":[64513,4200000000]}]},
              {"type":3,"nexthop":"198.18.0.2"},
              {"type":5,"value":200},
              {"type":8,"communities":[4227924068,4294967041]},
              {"type":32,"value":[{"ASN":64513,"LocalData1":1,"LocalData2":2}]}]}],
             "2001:db8:100::10/128":[{"nlri":{"prefix":"2001:db8:100::10/128"},"attrs":[
              {"type":14,"nexthop":"2001:db8:ffff:1::2","afi":2,"safi":1,"value":[{"prefix":"2001:db8:100::10/128"}]}]}]}
            """;

        var routes = GobgpOutput.ParseRoutes(json);

        Assert.Equal(2, routes.Count);
        Assert.Equal([64513u, 4200000000u], routes[0].AsPath);
        Assert.Equal([IPAddress.Parse("198.18.0.2")], routes[0].NextHops);
        Assert.Equal(200u, routes[0].LocalPreference);
        Assert.Equal(["64513:100", "65535:65281"], routes[0].Communities);
        Assert.Equal(["64513:1:2"], routes[0].LargeCommunities);
        Assert.Equal([IPAddress.Parse("2001:db8:ffff:1::2")], routes[1].NextHops);
        Assert.Empty(GobgpOutput.ParseRoutes(""));
    }

    [Theory]
    [InlineData(6, true, "established")]
    [InlineData(3, false, "active")]
    [InlineData(1, false, "idle")]
    public void Gobgp_peer_state(int sessionState, bool established, string name) =>
        Assert.Equal(new PeerState(established, name, null), GobgpOutput.ParsePeerState($$$"""{"state":{"session_state":{{{sessionState}}}}}"""));

    [Fact]
    public void Kernel_routes_parse_single_and_multipath_next_hops()
    {
        const string json = """
            [{"dst":"198.18.0.0/30","dev":"to-n1","protocol":"kernel","scope":"link","prefsrc":"198.18.0.1","flags":[]},
             {"dst":"203.0.113.10","protocol":"bird","metric":32,"flags":[],"nexthops":[
               {"gateway":"198.18.0.2","dev":"to-n1","weight":1,"flags":[]},{"gateway":"198.18.0.6","dev":"to-n2","weight":1,"flags":[]}]},
             {"dst":"203.0.113.11","gateway":"198.18.0.2","dev":"to-n1","protocol":"bgp","metric":20,"flags":[]}]
            """;

        var routes = Lab.ParseKernelRoutes(json, AddressFamily.InterNetwork);

        Assert.Equal(["198.18.0.0/30", "203.0.113.10/32", "203.0.113.11/32"], routes.Select(r => r.Destination));
        Assert.Empty(routes[0].Gateways);
        Assert.Equal([IPAddress.Parse("198.18.0.2"), IPAddress.Parse("198.18.0.6")], routes[1].Gateways);
        Assert.Equal(["to-n1", "to-n2"], routes[1].NextHops.Select(h => h.Device));
        Assert.Equal("bgp", routes[2].Protocol);
        Assert.Equal("2001:db8:100::10/128", Assert.Single(Lab.ParseKernelRoutes("""[{"dst":"2001:db8:100::10","dev":"to-n1"}]""", AddressFamily.InterNetworkV6)).Destination);
        Assert.Empty(Lab.ParseKernelRoutes("", AddressFamily.InterNetwork));
    }

    /// <summary>
    /// ip monitor route link (iproute2 6.1): zebra's routes over a nexthop object leave with their device's carrier,
    /// without a route notification; BIRD's plain routes (no nhid) and ECMP groups are not flushed with one device.
    /// </summary>
    [Theory]
    [InlineData("2: to-n1@if2: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state DOWN group default ", true)]
    [InlineData("2: to-n1@if2: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default ", true)]
    [InlineData("Deleted 2: to-n1@NONE: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default ", true)]
    [InlineData("2: to-n1@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default ", false)]
    [InlineData("    link/ether ee:da:10:68:68:24 brd ff:ff:ff:ff:ff:ff link-netnsid 0", false)]
    [InlineData("Deleted 203.0.113.10 nhid 6 via 198.18.0.2 dev to-n1 proto bgp metric 20 ", false)]
    public void Route_monitor_sees_a_link_go_down(string line, bool down)
    {
        Assert.Equal(down, RouteMonitor.TryParseLinkDown(line, out var device));
        if (down)
        {
            Assert.Equal("to-n1", device);
        }
    }

    [Theory]
    [InlineData("203.0.113.10 nhid 6 via 198.18.0.2 dev to-n1 proto bgp metric 20 ", "to-n1")]
    [InlineData("203.0.113.10 via 198.18.0.2 dev to-n1 proto bird metric 32 ", null)]
    [InlineData("203.0.113.10 nhid 20 proto bgp metric 20 \tnexthop via 198.18.0.2 dev to-n1 weight 1 \tnexthop via 198.18.0.6 dev to-n2 weight 1 ", null)]
    public void Route_monitor_knows_the_device_of_a_nexthop_object(string line, string? device) =>
        Assert.Equal(device, RouteMonitor.NexthopObjectDevice(line));
}
