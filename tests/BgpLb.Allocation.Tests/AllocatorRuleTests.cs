using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using k8s.Models;
using static BgpLb.Allocation.Tests.Build;

namespace BgpLb.Allocation.Tests;

public class AllocatorRuleTests
{
    [Fact]
    public void Takes_the_lowest_free_address_walking_cidrs_in_spec_order()
    {
        var pool = Pool("a", "203.0.113.8/31", "198.51.100.0/30");
        var result = Run([pool], Service("s1"), Service("s2"), Service("s3"));

        Assert.Equal(["203.0.113.8"], result.AddressesOf("default/s1"));
        Assert.Equal(["203.0.113.9"], result.AddressesOf("default/s2"));
        Assert.Equal(["198.51.100.0"], result.AddressesOf("default/s3"));
        Assert.Equal("a", result.Entries["default/s3"].Pool);
    }

    [Fact]
    public void Ranges_are_walked_from_their_start_address()
    {
        var result = Run([Pool("a", "203.0.113.10-203.0.113.12")], Service("s1"), Service("s2"), Service("s3"), Service("s4"));

        Assert.Equal(["203.0.113.10"], result.AddressesOf("default/s1"));
        Assert.Equal(["203.0.113.12"], result.AddressesOf("default/s3"));
        var failed = result.Failed("default/s4", AllocationFailure.PoolExhausted);
        Assert.Contains("(a)", failed.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void AvoidBuggyIPs_skips_dot_zero_and_dot_255_and_refuses_them_when_requested()
    {
        var pool = Pool("a", "203.0.113.255/32", "198.51.100.0/31") with { AvoidBuggyIPs = true };
        var result = Run([pool], Service("s1"), Service("s2", annotations: Requesting("198.51.100.0")));

        Assert.Equal(["198.51.100.1"], result.AddressesOf("default/s1"));
        Assert.Contains("avoidBuggyIPs", result.Failed("default/s2", AllocationFailure.InvalidRequest).Reason, StringComparison.Ordinal);
        Assert.Equal(1, result.Pools.Single().TotalAddresses);
    }

    [Fact]
    public void Without_avoidBuggyIPs_dot_zero_is_handed_out()
    {
        var result = Run([Pool("a", "198.51.100.0/31")], Service("s1"));
        Assert.Equal(["198.51.100.0"], result.AddressesOf("default/s1"));
        Assert.Equal(2, result.Pools.Single().TotalAddresses);
    }

    [Fact]
    public void Pools_without_autoAssign_serve_only_explicit_requests()
    {
        var manual = Pool("manual", "203.0.113.0/30") with { AutoAssign = false };
        var result = Run([manual], Service("auto"), Service("named", annotations: FromPool("manual")),
            Service("ip", annotations: Requesting("203.0.113.3")));

        Assert.Equal(AllocationFailure.NoPoolAvailable, result.Entries["default/auto"].Failure);
        Assert.Equal(["203.0.113.0"], result.AddressesOf("default/named"));
        Assert.Equal(["203.0.113.3"], result.AddressesOf("default/ip"));
    }

    [Theory]
    [InlineData("metallb.io/loadBalancerIPs")]
    [InlineData("metallb.universe.tf/loadBalancerIPs")]
    public void A_requested_address_is_assigned_even_when_not_the_lowest(string annotation)
    {
        var result = Run([Pool("a", "203.0.113.0/24")], Service("s", annotations: new() { [annotation] = "203.0.113.77" }));
        Assert.Equal(["203.0.113.77"], result.AddressesOf("default/s"));
        Assert.Equal("requested address in pool 'a'", result.Entries["default/s"].Reason);
    }

    [Fact]
    public void Deprecated_spec_loadBalancerIP_is_honoured()
    {
        var service = Service("s");
        service.Spec.LoadBalancerIP = "203.0.113.9";
        Assert.Equal(["203.0.113.9"], Run([Pool("a", "203.0.113.0/24")], service).AddressesOf("default/s"));
    }

    [Fact]
    public void Annotation_and_spec_loadBalancerIP_together_are_refused()
    {
        var service = Service("s", annotations: Requesting("203.0.113.9"));
        service.Spec.LoadBalancerIP = "203.0.113.9";
        var failed = Run([Pool("a", "203.0.113.0/24")], service).Failed("default/s", AllocationFailure.InvalidRequest);
        Assert.Contains("can not have both", failed.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("203.0.113.300", "invalid IP")]
    [InlineData("203.0.113.1,203.0.113.2", "at most one address per IP family")]
    [InlineData("203.0.113.1,2001:db8::1,2001:db8::2", "at most one address per IP family")]
    public void Malformed_requests_are_refused_with_the_reason(string requested, string reason)
    {
        var failed = Run([Pool("a", "203.0.113.0/24")], Service("s", annotations: Requesting(requested)))
            .Failed("default/s", AllocationFailure.InvalidRequest);
        Assert.Contains(reason, failed.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_requested_address_outside_every_pool_is_refused()
    {
        var failed = Run([Pool("a", "203.0.113.0/24")], Service("s", annotations: Requesting("192.0.2.1")))
            .Failed("default/s", AllocationFailure.NotInAnyPool);
        Assert.Contains("192.0.2.1 is not in any pool", failed.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_requested_address_in_use_is_refused_and_names_the_holder()
    {
        var result = Run([Pool("a", "203.0.113.0/24")],
            Service("first", annotations: Requesting("203.0.113.5")), Service("second", annotations: Requesting("203.0.113.5")));
        Assert.Equal(["203.0.113.5"], result.AddressesOf("default/first"));
        var failed = result.Failed("default/second", AllocationFailure.AddressInUse);
        Assert.Contains("in use by default/first", failed.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_requested_address_of_the_wrong_family_is_refused()
    {
        var failed = Run([Pool("a", "203.0.113.0/24", "2001:db8::/120")], Service("s", annotations: Requesting("2001:db8::5"), families: ["IPv4"]))
            .Failed("default/s", AllocationFailure.FamilyMismatch);
        Assert.Contains("IPv6", failed.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Requested_addresses_win_over_automatic_picks_among_pending_services()
    {
        // "a" sorts first but asks for nothing; "z" asks for the lowest address.
        var result = Run([Pool("p", "203.0.113.0/30")], Service("a"), Service("z", annotations: Requesting("203.0.113.0")));
        Assert.Equal(["203.0.113.0"], result.AddressesOf("default/z"));
        Assert.Equal(["203.0.113.1"], result.AddressesOf("default/a"));
    }

    [Theory]
    [InlineData("metallb.io/address-pool")]
    [InlineData("metallb.universe.tf/address-pool")]
    public void The_address_pool_annotation_picks_the_pool(string annotation)
    {
        var result = Run([Pool("a", "203.0.113.0/24"), Pool("b", "198.51.100.0/24")], Service("s", annotations: new() { [annotation] = "b" }));
        Assert.Equal(["198.51.100.0"], result.AddressesOf("default/s"));
    }

    [Fact]
    public void An_unknown_pool_is_reported()
    {
        var failed = Run([Pool("a", "203.0.113.0/24")], Service("s", annotations: FromPool("nope"))).Failed("default/s", AllocationFailure.PoolNotFound);
        Assert.Contains("'nope'", failed.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_requested_address_must_lie_in_the_annotated_pool()
    {
        var annotations = new Dictionary<string, string>(Requesting("203.0.113.1")) { [MetalLbNames.AddressPoolAnnotation] = "b" };
        var failed = Run([Pool("a", "203.0.113.0/24"), Pool("b", "198.51.100.0/24")], Service("s", annotations: annotations))
            .Failed("default/s", AllocationFailure.PoolNotAllowed);
        Assert.Contains("not in pool 'b'", failed.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void An_exhausted_annotated_pool_is_reported()
    {
        var result = Run([Pool("a", "203.0.113.0/32"), Pool("b", "198.51.100.0/24")],
            Service("s1", annotations: FromPool("a")), Service("s2", annotations: FromPool("a")));
        Assert.Contains("pool 'a'", result.Failed("default/s2", AllocationFailure.PoolExhausted).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Matching_pools_go_by_priority_with_zero_last_then_plain_auto_assign_pools()
    {
        ServiceAllocation For(int priority) => new() { Priority = priority, Namespaces = ["team"] };
        var pools = new[]
        {
            Pool("plain", "192.0.2.0/32"),
            Pool("unset", "198.51.100.0/32") with { ServiceAllocation = For(0) },
            Pool("second", "203.0.113.2/32") with { ServiceAllocation = For(2) },
            Pool("first", "203.0.113.1/32") with { ServiceAllocation = For(1) },
        };
        var result = Run(pools, Service("a", "team"), Service("b", "team"), Service("c", "team"), Service("d", "team"), Service("e", "team"));

        Assert.Equal("first", result.Entries["team/a"].Pool);
        Assert.Equal("second", result.Entries["team/b"].Pool);
        Assert.Equal("unset", result.Entries["team/c"].Pool);
        Assert.Equal("plain", result.Entries["team/d"].Pool);
        result.Failed("team/e", AllocationFailure.PoolExhausted);
    }

    [Fact]
    public void Pools_restricted_by_namespace_or_selectors_serve_only_matching_services()
    {
        Assert.True(LabelSelector.TryCreate(new LabelSelectorSpec { MatchLabels = new Dictionary<string, string> { ["tier"] = "gold" } }, out var gold, out _));
        var pools = new[]
        {
            Pool("by-ns-label", "203.0.113.1/32") with { ServiceAllocation = new() { Priority = 1, NamespaceSelectors = [gold] } },
            Pool("by-svc-label", "203.0.113.2/32") with { ServiceAllocation = new() { Priority = 2, ServiceSelectors = [gold] } },
            Pool("plain", "192.0.2.0/24"),
        };
        var namespaces = new[] { new V1Namespace { Metadata = new V1ObjectMeta { Name = "rich", Labels = new Dictionary<string, string> { ["tier"] = "gold" } } } };
        var services = new[]
        {
            Service("s", "rich"),
            Service("s", "poor", labels: new() { ["tier"] = "gold" }),
            Service("t", "poor"),
        };
        var result = Allocate(ConfigOf(pools, services, namespaces), ImmutableDictionary<string, ImmutableArray<IPAddress>>.Empty);

        Assert.Equal("by-ns-label", result.Entries["rich/s"].Pool);
        Assert.Equal("by-svc-label", result.Entries["poor/s"].Pool);
        Assert.Equal("plain", result.Entries["poor/t"].Pool);
    }

    [Fact]
    public void An_annotated_pool_that_does_not_admit_the_service_is_refused()
    {
        var pool = Pool("team-only", "203.0.113.0/24") with { ServiceAllocation = new() { Namespaces = ["team"] } };
        var failed = Run([pool], Service("s", "other", annotations: FromPool("team-only"))).Failed("other/s", AllocationFailure.PoolNotAllowed);
        Assert.Contains("does not admit", failed.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Only_load_balancers_without_a_class_are_handled_by_default()
    {
        var classy = Service("classy");
        classy.Spec.LoadBalancerClass = "other.io/lb";
        var cluster = Service("cluster");
        cluster.Spec.Type = "ClusterIP";
        var result = Run([Pool("a", "203.0.113.0/24")], classy, cluster, Service("plain"));

        Assert.Equal(["default/plain"], result.Entries.Keys);
        var withClass = Allocate(ConfigOf([Pool("a", "203.0.113.0/24")], [classy, Service("plain")], loadBalancerClass: "other.io/lb"),
            ImmutableDictionary<string, ImmutableArray<IPAddress>>.Empty);
        Assert.Equal(["default/classy"], withClass.Entries.Keys);
    }

    [Fact]
    public void Family_comes_from_ipFamilies_or_cluster_ips()
    {
        var pools = new[] { Pool("a", "203.0.113.0/24", "2001:db8::/120") };
        var byClusterIP = Service("by-cluster-ip");
        byClusterIP.Spec.ClusterIPs = ["fd00::10"];
        var result = Run(pools, Service("v6", families: ["IPv6"]), byClusterIP, Service("default-v4"));

        Assert.Equal(["2001:db8::"], result.AddressesOf("default/by-cluster-ip"));
        Assert.Equal(["2001:db8::1"], result.AddressesOf("default/v6"));
        Assert.Equal(["203.0.113.0"], result.AddressesOf("default/default-v4"));
    }

    [Fact]
    public void RequireDualStack_takes_both_families_from_one_pool()
    {
        var pools = new[] { Pool("v4-only", "192.0.2.0/24"), Pool("dual", "203.0.113.0/24", "2001:db8::/120") };
        var result = Run(pools, Service("s", policy: "RequireDualStack", families: ["IPv6", "IPv4"]));
        Assert.Equal(["2001:db8::", "203.0.113.0"], result.AddressesOf("default/s"));
        Assert.Equal("dual", result.Entries["default/s"].Pool);
    }

    [Fact]
    public void RequireDualStack_without_a_dual_pool_fails_with_a_family_reason()
    {
        var result = Run([Pool("v4", "192.0.2.0/24"), Pool("v6", "2001:db8::/120")], Service("s", policy: "RequireDualStack"));
        Assert.Contains("IPv4 and IPv6", result.Failed("default/s", AllocationFailure.FamilyMismatch).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void RequireDualStack_with_one_declared_family_is_invalid()
    {
        var result = Run([Pool("a", "203.0.113.0/24", "2001:db8::/120")], Service("s", policy: "RequireDualStack", families: ["IPv4"]));
        result.Failed("default/s", AllocationFailure.InvalidRequest);
    }

    [Fact]
    public void PreferDualStack_prefers_a_dual_pool_and_falls_back_to_one_family()
    {
        var pools = new[] { Pool("a-v4", "192.0.2.0/32"), Pool("b-dual", "203.0.113.0/32", "2001:db8::/128") };
        var result = Run(pools, Service("s1", policy: "PreferDualStack"), Service("s2", policy: "PreferDualStack"), Service("s3", policy: "PreferDualStack"));

        Assert.Equal(["203.0.113.0", "2001:db8::"], result.AddressesOf("default/s1"));
        Assert.Equal(["192.0.2.0"], result.AddressesOf("default/s2"));
        result.Failed("default/s3", AllocationFailure.PoolExhausted);
    }

    [Fact]
    public void PreferDualStack_holding_one_family_gains_the_other_when_its_pool_gets_it()
    {
        var before = Run([Pool("a", "203.0.113.0/24")], Service("s", policy: "PreferDualStack"));
        Assert.Equal(["203.0.113.0"], before.AddressesOf("default/s"));

        var after = Rerun(before, [Pool("a", "203.0.113.0/24", "2001:db8::/120")], Service("s", policy: "PreferDualStack"));
        Assert.Equal(["203.0.113.0", "2001:db8::"], after.AddressesOf("default/s"));
    }

    [Fact]
    public void Services_with_the_same_sharing_key_and_distinct_ports_share_the_lowest_address()
    {
        var result = Run([Pool("a", "203.0.113.0/24")],
            Service("dns-tcp", annotations: Sharing("k"), ports: 53), Service("other"), Service("web", annotations: Sharing("k"), ports: 80));

        Assert.Equal(["203.0.113.0"], result.AddressesOf("default/dns-tcp"));
        Assert.Equal(["203.0.113.0"], result.AddressesOf("default/web"));
        Assert.Equal(["203.0.113.1"], result.AddressesOf("default/other"));
        Assert.Equal(2, result.Pools.Single().AddressesInUse);
        Assert.Equal(3, result.Pools.Single().Consumers);
    }

    [Fact]
    public void Tcp_and_udp_on_the_same_port_may_share()
    {
        var udp = Service("udp", annotations: Sharing("k"), ports: 53);
        udp.Spec.Ports[0].Protocol = "UDP";
        var result = Run([Pool("a", "203.0.113.0/24")], Service("tcp", annotations: Sharing("k"), ports: 53), udp);
        Assert.Equal(result.AddressesOf("default/tcp"), result.AddressesOf("default/udp"));
    }

    [Fact]
    public void Overlapping_ports_keep_services_apart_and_a_requested_shared_address_is_refused()
    {
        var result = Run([Pool("a", "203.0.113.0/24")],
            Service("a1", annotations: Sharing("k"), ports: 80), Service("a2", annotations: Sharing("k"), ports: 80));
        Assert.Equal(["203.0.113.1"], result.AddressesOf("default/a2"));

        var pinned = new Dictionary<string, string>(Sharing("k")) { [MetalLbNames.LoadBalancerIPsAnnotation] = "203.0.113.0" };
        var conflict = Run([Pool("a", "203.0.113.0/24")],
            Service("a1", annotations: Sharing("k"), ports: 80).WithIngress("203.0.113.0"), Service("a2", annotations: pinned, ports: 80));
        Assert.Contains("port TCP/80", conflict.Failed("default/a2", AllocationFailure.AddressInUse).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Different_sharing_keys_do_not_share()
    {
        var pinned = new Dictionary<string, string>(Sharing("other")) { [MetalLbNames.LoadBalancerIPsAnnotation] = "203.0.113.0" };
        var result = Run([Pool("a", "203.0.113.0/24")], Service("a1", annotations: Sharing("k"), ports: 80).WithIngress("203.0.113.0"), Service("a2", annotations: pinned, ports: 81));
        Assert.Contains("same metallb.io/allow-shared-ip key", result.Failed("default/a2", AllocationFailure.AddressInUse).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Local_traffic_policy_shares_only_with_an_identical_selector()
    {
        V1Service Local(string name, string app, int port, Dictionary<string, string> annotations)
        {
            var service = Service(name, annotations: annotations, ports: port);
            service.Spec.ExternalTrafficPolicy = "Local";
            service.Spec.Selector = new Dictionary<string, string> { ["app"] = app };
            return service;
        }
        var pinned = new Dictionary<string, string>(Sharing("k")) { [MetalLbNames.LoadBalancerIPsAnnotation] = "203.0.113.0" };
        var same = Run([Pool("a", "203.0.113.0/24")], Local("a1", "x", 80, Sharing("k")), Local("a2", "x", 81, pinned));
        Assert.Equal(["203.0.113.0"], same.AddressesOf("default/a2"));

        var different = Run([Pool("a", "203.0.113.0/24")], Local("a1", "x", 80, Sharing("k")).WithIngress("203.0.113.0"), Local("a2", "y", 81, pinned));
        Assert.Contains("different backend", different.Failed("default/a2", AllocationFailure.AddressInUse).Reason, StringComparison.Ordinal);

        var mixed = Run([Pool("a", "203.0.113.0/24")], Local("a1", "x", 80, Sharing("k")).WithIngress("203.0.113.0"), Service("a2", annotations: pinned, ports: 81));
        mixed.Failed("default/a2", AllocationFailure.AddressInUse);
    }

    [Fact]
    public void The_sole_user_of_an_address_may_change_its_sharing_key()
    {
        var pool = Pool("a", "203.0.113.0/24");
        var before = Run([pool], Service("filler"), Service("s", annotations: Sharing("old")));
        var after = Rerun(before, [pool], Service("filler"), Service("s", annotations: Sharing("new")));
        Assert.Equal(before.AddressesOf("default/s"), after.AddressesOf("default/s"));
    }

    [Fact]
    public void Changing_the_pool_annotation_moves_the_service()
    {
        var pools = new[] { Pool("a", "203.0.113.0/24"), Pool("b", "198.51.100.0/24") };
        var before = Run(pools, Service("s", annotations: FromPool("a")));
        var after = Rerun(before, pools, Service("s", annotations: FromPool("b")));
        Assert.Equal(["198.51.100.0"], after.AddressesOf("default/s"));
    }

    [Fact]
    public void Changing_the_requested_address_moves_the_service()
    {
        var pools = new[] { Pool("a", "203.0.113.0/24") };
        var before = Run(pools, Service("s", annotations: Requesting("203.0.113.7")));
        var after = Rerun(before, pools, Service("s", annotations: Requesting("203.0.113.9")));
        Assert.Equal(["203.0.113.9"], after.AddressesOf("default/s"));
    }

    [Fact]
    public void A_service_that_stops_being_a_load_balancer_releases_its_address()
    {
        var pools = new[] { Pool("a", "203.0.113.0/32") };
        var before = Run(pools, Service("s"));
        var cluster = Service("s");
        cluster.Spec.Type = "ClusterIP";
        var after = Rerun(before, pools, cluster, Service("t"));
        Assert.False(after.Entries.ContainsKey("default/s"));
        Assert.Equal(["203.0.113.0"], after.AddressesOf("default/t"));
    }

    [Fact]
    public void Shrinking_a_pool_moves_only_services_whose_address_left_it()
    {
        var before = Run([Pool("a", "203.0.113.0/30")], Service("s0"), Service("s1"), Service("s2"), Service("s3"));
        var after = Rerun(before, [Pool("a", "203.0.113.0/31", "198.51.100.0/31")], Service("s0"), Service("s1"), Service("s2"), Service("s3"));

        Assert.Equal(["203.0.113.0"], after.AddressesOf("default/s0"));
        Assert.Equal(["203.0.113.1"], after.AddressesOf("default/s1"));
        Assert.Equal(["198.51.100.0"], after.AddressesOf("default/s2"));
        Assert.Equal(["198.51.100.1"], after.AddressesOf("default/s3"));
    }

    [Fact]
    public void Deleting_a_pool_reallocates_its_services_elsewhere_or_reports_why_not()
    {
        var before = Run([Pool("a", "203.0.113.0/32"), Pool("b", "198.51.100.0/32")], Service("s1"), Service("s2"));
        Assert.Equal("b", before.Entries["default/s2"].Pool);
        var after = Rerun(before, [Pool("b", "198.51.100.0/31")], Service("s1"), Service("s2"));

        Assert.Equal(["198.51.100.0"], after.AddressesOf("default/s2"));
        Assert.Equal(["198.51.100.1"], after.AddressesOf("default/s1"));

        var gone = Rerun(after, [], Service("s1"));
        gone.Failed("default/s1", AllocationFailure.NoPoolAvailable);
    }

    [Fact]
    public void Services_holding_addresses_are_placed_before_pending_ones()
    {
        // After a restart nothing is known but the Services' status: "a" is new and sorts first, "z" already holds .0.
        var result = Run([Pool("p", "203.0.113.0/31")], Service("a"), Service("z").WithIngress("203.0.113.0"));
        Assert.Equal(["203.0.113.0"], result.AddressesOf("default/z"));
        Assert.Equal(["203.0.113.1"], result.AddressesOf("default/a"));
    }

    [Fact]
    public void A_previous_holder_keeps_its_address_against_a_new_services_stale_status()
    {
        // "a" is new and sorts first, but its status shows the address "z" held in the previous run.
        var previous = ImmutableDictionary<string, ImmutableArray<IPAddress>>.Empty.Add("default/z", [IPAddress.Parse("203.0.113.0")]);
        var result = Allocate(ConfigOf([Pool("p", "203.0.113.0/31")], [Service("a").WithIngress("203.0.113.0"), Service("z")]), previous);
        Assert.Equal(["203.0.113.0"], result.AddressesOf("default/z"));
        Assert.Equal(["203.0.113.1"], result.AddressesOf("default/a"));
    }

    [Fact]
    public void Previous_allocations_win_over_the_status_ingress()
    {
        var previous = ImmutableDictionary<string, ImmutableArray<IPAddress>>.Empty.Add("default/s", [IPAddress.Parse("203.0.113.5")]);
        var result = Allocate(ConfigOf([Pool("p", "203.0.113.0/24")], [Service("s").WithIngress("203.0.113.9")]), previous);
        Assert.Equal(["203.0.113.5"], result.AddressesOf("default/s"));
    }

    [Fact]
    public void A_held_address_that_became_invalid_is_reallocated()
    {
        // The Service holds an IPv4 address but is now IPv6 single-stack.
        var result = Run([Pool("p", "203.0.113.0/24", "2001:db8::/120")], Service("s", families: ["IPv6"]).WithIngress("203.0.113.5"));
        Assert.Equal(["2001:db8::"], result.AddressesOf("default/s"));
    }

    [Fact]
    public void External_requests_share_the_address_space_with_services()
    {
        var pools = ImmutableArray.Create(Pool("p", "203.0.113.0/30"), Pool("team", "198.51.100.0/24") with { ServiceAllocation = new() { Namespaces = ["t"] } });
        var requests = new[]
        {
            Request(Service("s")),
            AllocationRequest.External("tool"),
            AllocationRequest.External("pinned", requestedAddresses: [IPAddress.Parse("203.0.113.3")]),
            AllocationRequest.External("restricted", pool: "team"),
            AllocationRequest.External("bad/name"),
        };
        var result = Allocator.Allocate(pools, requests, ImmutableDictionary<string, ImmutableArray<IPAddress>>.Empty);

        Assert.Equal(["203.0.113.0"], result.AddressesOf("default/s"));
        Assert.Equal(["203.0.113.1"], result.AddressesOf("tool"));
        Assert.Equal(["203.0.113.3"], result.AddressesOf("pinned"));
        Assert.Contains("external", result.Failed("restricted", AllocationFailure.PoolNotAllowed).Reason, StringComparison.Ordinal);
        Assert.Contains("'/'", result.Failed("bad/name", AllocationFailure.InvalidRequest).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Ipv6_pools_and_totals_work_for_huge_prefixes()
    {
        var result = Run([Pool("v6", "2001:db8::/64")], Service("s", families: ["IPv6"]));
        Assert.Equal(["2001:db8::"], result.AddressesOf("default/s"));
        Assert.Equal(Math.Pow(2, 64), result.Pools.Single().TotalAddresses);
    }

    [Fact]
    public void Ten_thousand_services_are_allocated_and_a_second_pass_changes_nothing()
    {
        var services = Enumerable.Range(0, 10_000).Select(i => Service($"s{i:D5}", $"ns{i % 50}", ports: 80)).ToArray();
        var config = ConfigOf([Pool("a", "10.0.0.0/18"), Pool("b", "2001:db8::/112")], services);
        var result = Allocate(config, ImmutableDictionary<string, ImmutableArray<IPAddress>>.Empty);
        var again = Allocate(config, result.Addresses);

        Assert.Equal(10_000, result.Entries.Values.Count(e => e.IsAllocated));
        Assert.Equal(result.Entries, again.Entries);
    }

    [Fact]
    public void Without_declared_families_the_held_or_requested_address_names_the_family()
    {
        var result = Run([Pool("v4", "203.0.113.0/24"), Pool("v6", "2001:db8:100::/120")],
            Service("held6").WithIngress("2001:db8:100::10"),
            Service("asks6", annotations: Requesting("2001:db8:100::20")),
            Service("plain"));
        Assert.Equal(["2001:db8:100::10"], result.AddressesOf("default/held6"));
        Assert.Equal(["2001:db8:100::20"], result.AddressesOf("default/asks6"));
        Assert.Equal(["203.0.113.0"], result.AddressesOf("default/plain"));
    }
}
