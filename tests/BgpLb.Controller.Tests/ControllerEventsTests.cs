using System.Collections.Immutable;
using System.Net;
using BgpLb.Allocation;

namespace BgpLb.Controller.Tests;

/// <summary>The events the controller records when a Service's allocation changes, as MetalLB's controller/service.go emits them.</summary>
public sealed class ControllerEventsTests
{
    private static ServiceInfo Service(string[]? shown = null, string? problem = null, string[]? deprecated = null) => new()
    {
        Key = "default/web",
        Namespace = "default",
        Ingress = [.. (shown ?? []).Select(IPAddress.Parse)],
        Problem = problem,
        DeprecatedAnnotations = [.. deprecated ?? []],
    };

    private static AllocationEntry Allocated(params string[] addresses) =>
        new("default/web", "main", [.. addresses.Select(IPAddress.Parse)], AllocationFailure.None, "first free address");

    private static AllocationEntry Failed(AllocationFailure failure, string reason) => new("default/web", null, ImmutableArray<IPAddress>.Empty, failure, reason);

    private static List<(string Type, string Reason, string Message)> Events(ServiceInfo service, AllocationEntry entry) =>
        [.. KubernetesControllerService.Events(service, entry)];

    [Fact]
    public void A_new_allocation_is_IPAllocated_listing_every_address()
    {
        var events = Events(Service(), Allocated("203.0.113.10", "2001:db8::10"));
        Assert.Equal([("Normal", "IPAllocated", "Assigned IP [\"203.0.113.10\" \"2001:db8::10\"]")], events);
    }

    [Fact]
    public void A_moved_address_is_a_Normal_ClearAssignment_then_IPAllocated()
    {
        var events = Events(Service(["198.51.100.7"]), Allocated("203.0.113.10"));
        Assert.Equal(2, events.Count);
        Assert.Equal(("Normal", "ClearAssignment"), (events[0].Type, events[0].Reason));
        Assert.Equal("current IP for \"default/web\" not allowed by config, will attempt for new IP assignment: 198.51.100.7 replaced by 203.0.113.10 from pool main",
            events[0].Message);
        Assert.Equal("IPAllocated", events[1].Reason);
    }

    [Fact]
    public void A_failure_is_an_AllocationFailed_warning_after_clearing_what_was_shown()
    {
        var events = Events(Service(["198.51.100.7"]), Failed(AllocationFailure.NotInAnyPool, "requested address 192.0.2.1 is not in any pool"));
        Assert.Equal(2, events.Count);
        Assert.Equal(("Normal", "ClearAssignment"), (events[0].Type, events[0].Reason));
        Assert.EndsWith(": requested address 192.0.2.1 is not in any pool", events[0].Message, StringComparison.Ordinal);
        Assert.Equal(("Warning", "AllocationFailed", "Failed to allocate IP for \"default/web\": NotInAnyPool: requested address 192.0.2.1 is not in any pool"), events[1]);
    }

    [Fact]
    public void An_invalid_request_is_LoadBalancerFailed_when_the_Service_showed_an_address_and_AllocationFailed_otherwise()
    {
        const string Problem = "service can not have both metallb.io/loadBalancerIPs and spec.loadBalancerIP";
        var failed = Failed(AllocationFailure.InvalidRequest, Problem);

        var withAddress = Events(Service(["203.0.113.10"], Problem), failed);
        Assert.Equal(("Warning", "LoadBalancerFailed", $"invalid requested loadbalancer IPs: {Problem}"), withAddress[^1]);

        var without = Assert.Single(Events(Service(problem: Problem), failed));
        Assert.Equal(("Warning", "AllocationFailed"), (without.Type, without.Reason));
    }

    [Fact]
    public void Each_deprecated_annotation_is_a_warning_naming_its_replacement()
    {
        var events = Events(Service(deprecated: ["metallb.universe.tf/address-pool", "metallb.universe.tf/allow-shared-ip"]), Allocated("203.0.113.10"));
        Assert.Equal(
            [
                ("Warning", "deprecatedAnnotation", "Service uses deprecated annotation metallb.universe.tf/address-pool; use metallb.io/address-pool instead"),
                ("Warning", "deprecatedAnnotation", "Service uses deprecated annotation metallb.universe.tf/allow-shared-ip; use metallb.io/allow-shared-ip instead"),
            ],
            events.Where(e => e.Reason == "deprecatedAnnotation"));
    }
}
