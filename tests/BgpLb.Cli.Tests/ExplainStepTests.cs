using BgpLb.Cli;
using BgpLb.Controller;
using System.Collections.Immutable;

namespace BgpLb.Cli.Tests;

/// <summary>
/// Every cause of an unreachable Service built on purpose: explain names it at the step where it lies (exit 1), and the
/// fixed configuration holds (exit 0). The model is the daemons' own, read from a config directory.
/// </summary>
public sealed class ExplainStepTests : IDisposable
{
    private readonly Cluster _cluster = new();

    public void Dispose() => _cluster.Dispose();

    private static ExplainStep Failed(Explanation explanation)
    {
        Assert.Equal(Verdict.Failed, explanation.Verdict);
        Assert.Equal(1, explanation.ExitCode);
        var failed = Assert.Single(explanation.Steps, s => s.Verdict == Verdict.Failed);
        // Later steps depend on the failed one and are not checked.
        Assert.All(explanation.Steps.Where(s => s.Step > failed.Step), s => Assert.Equal(Verdict.NotApplicable, s.Verdict));
        return failed;
    }

    private static void Holds(Explanation explanation)
    {
        Assert.True(explanation.Verdict == Verdict.Held, TextReport.Render(explanation));
        Assert.Equal(0, explanation.ExitCode);
        Assert.Empty(explanation.FailedSteps);
    }

    [Fact]
    public async Task A_reachable_Service_holds_at_every_step()
    {
        _cluster.Write("config.yaml", [.. Yaml.BgpSetup(), Yaml.Service(), Yaml.EndpointSlice("web", "node1")]);

        var explanation = await _cluster.ExplainAsync();

        Holds(explanation);
        Assert.Equal(["203.0.113.0"], explanation.Addresses);
        Assert.Equal("main", explanation.Pool);
        var node = Assert.Single(explanation.Nodes);
        Assert.Equal(("node1", "BGP", true, "computed"), (node.Node, node.Protocol, node.Announced, node.Source));
        Assert.Equal([Verdict.Held, Verdict.Held, Verdict.Held, Verdict.Held, Verdict.NotApplicable, Verdict.NotApplicable, Verdict.NotApplicable],
            explanation.Steps.Select(s => s.Verdict));
    }

    [Fact]
    public async Task A_missing_Service_fails_step_1()
    {
        _cluster.Write("config.yaml", Yaml.BgpSetup());

        var step = Failed(await _cluster.ExplainAsync("default/nope"));

        Assert.Equal((1, "ServiceNotFound"), (step.Step, step.Code));
        Assert.Contains("default/nope", step.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_metallb_annotation_is_named_and_a_deprecated_one_is_noted()
    {
        _cluster.Write("config.yaml", [.. Yaml.BgpSetup(), Yaml.Service(metadata: "  annotations:\n    metallb.io/adress-pool: main"), Yaml.EndpointSlice("web", "node1")]);
        var step = Failed(await _cluster.ExplainAsync());
        Assert.Equal((1, "UnknownAnnotation"), (step.Step, step.Code));
        Assert.Contains("metallb.io/adress-pool", step.Summary, StringComparison.Ordinal);

        _cluster.Write("config.yaml", [.. Yaml.BgpSetup(), Yaml.Service(metadata: "  annotations:\n    metallb.universe.tf/address-pool: main"), Yaml.EndpointSlice("web", "node1")]);
        var fixedOne = await _cluster.ExplainAsync();
        Holds(fixedOne);
        Assert.Contains(fixedOne.Steps[0].Details, d => d.Contains("metallb.universe.tf/address-pool is deprecated", StringComparison.Ordinal)
            && d.Contains("metallb.io/address-pool", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_Service_of_another_class_fails_step_1_unless_the_class_is_ours()
    {
        _cluster.Write("config.yaml", [.. Yaml.BgpSetup(), Yaml.Service(spec: "  loadBalancerClass: other"), Yaml.EndpointSlice("web", "node1")]);

        var step = Failed(await _cluster.ExplainAsync());
        Assert.Equal((1, "OtherLoadBalancerClass"), (step.Step, step.Code));

        Holds(await _cluster.ExplainAsync(lbClass: "other"));
    }

    [Fact]
    public async Task A_requested_address_outside_every_pool_fails_step_2_and_one_inside_holds()
    {
        _cluster.Write("config.yaml", [.. Yaml.BgpSetup(), Yaml.Service(metadata: Yaml.Requesting("192.0.2.77")), Yaml.EndpointSlice("web", "node1")]);

        var step = Failed(await _cluster.ExplainAsync());
        Assert.Equal((2, "NotInAnyPool"), (step.Step, step.Code));
        Assert.Contains("192.0.2.77", step.Summary, StringComparison.Ordinal);
        Assert.NotNull(step.Fix);

        _cluster.Write("config.yaml", [.. Yaml.BgpSetup(), Yaml.Service(metadata: Yaml.Requesting("203.0.113.77")), Yaml.EndpointSlice("web", "node1")]);
        var fixedOne = await _cluster.ExplainAsync();
        Holds(fixedOne);
        Assert.Equal(["203.0.113.77"], fixedOne.Addresses);
    }

    [Fact]
    public async Task An_exhausted_pool_fails_step_2()
    {
        _cluster.Write("config.yaml", [.. Yaml.BgpSetup("203.0.113.10/32"), Yaml.Service("aaa"), Yaml.Service()]);

        var step = Failed(await _cluster.ExplainAsync());

        Assert.Equal((2, "PoolExhausted"), (step.Step, step.Code));
    }

    [Fact]
    public async Task A_sharing_key_mismatch_fails_step_2_and_equal_keys_share()
    {
        string Sharing(string key) => $"  annotations:\n    metallb.io/loadBalancerIPs: 203.0.113.5\n    metallb.io/allow-shared-ip: {key}";
        _cluster.Write("config.yaml", [.. Yaml.BgpSetup(), Yaml.Service("aaa", Sharing("one"), port: 443), Yaml.Service(metadata: Sharing("two")),
            Yaml.EndpointSlice("web", "node1")]);

        var step = Failed(await _cluster.ExplainAsync());
        Assert.Equal((2, "AddressInUse"), (step.Step, step.Code));

        _cluster.Write("config.yaml", [.. Yaml.BgpSetup(), Yaml.Service("aaa", Sharing("one"), port: 443), Yaml.Service(metadata: Sharing("one")),
            Yaml.EndpointSlice("web", "node1")]);
        Holds(await _cluster.ExplainAsync());
    }

    [Fact]
    public async Task A_pool_without_advertisement_fails_step_3_and_is_listed()
    {
        _cluster.Write("config.yaml", Yaml.Node("node1"), Yaml.Pool("main", "203.0.113.0/24"), Yaml.Pool("other", "198.51.100.0/24"), Yaml.Peer(),
            Yaml.BgpAdvertisement("adv", "other"), Yaml.Service(), Yaml.EndpointSlice("web", "node1"));

        var step = Failed(await _cluster.ExplainAsync());

        Assert.Equal((3, "NoAdvertisementForPool"), (step.Step, step.Code));
        Assert.Contains("'main'", step.Summary, StringComparison.Ordinal);
        Assert.Contains("pools that no advertisement selects: main", step.Details);
        Assert.Contains(step.Details, d => d.StartsWith("BGPAdvertisement adv does not select pool 'main'", StringComparison.Ordinal));

        _cluster.Write("config.yaml", Yaml.Node("node1"), Yaml.Pool("main", "203.0.113.0/24"), Yaml.Peer(), Yaml.BgpAdvertisement("adv", "main"),
            Yaml.Service(), Yaml.EndpointSlice("web", "node1"));
        Holds(await _cluster.ExplainAsync());
    }

    [Fact]
    public async Task Service_selectors_that_do_not_match_fail_step_3()
    {
        _cluster.Write("config.yaml", Yaml.Node("node1"), Yaml.Pool("main", "203.0.113.0/24"), Yaml.Peer(),
            Yaml.BgpAdvertisement("adv", "main", "  serviceSelectors:\n  - matchLabels:\n      tier: front"), Yaml.Service(), Yaml.EndpointSlice("web", "node1"));

        var step = Failed(await _cluster.ExplainAsync());

        Assert.Equal((3, "ServiceNotSelected"), (step.Step, step.Code));
        Assert.Contains(step.Details, d => d.Contains("its serviceSelectors do not match the Service", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_Service_without_EndpointSlice_fails_step_4_with_no_ready_endpoint()
    {
        _cluster.Write("config.yaml", [.. Yaml.BgpSetup(), Yaml.Service()]);
        var step = Failed(await _cluster.ExplainAsync());
        Assert.Equal((4, "NoReadyEndpoint"), (step.Step, step.Code));

        _cluster.Write("config.yaml", [.. Yaml.BgpSetup(), Yaml.Service(), Yaml.EndpointSlice("web", "node1", ready: false)]);
        Assert.Equal("NoReadyEndpoint", Failed(await _cluster.ExplainAsync()).Code);

        _cluster.Write("config.yaml", [.. Yaml.BgpSetup(), Yaml.Service(), Yaml.EndpointSlice("web", "node1")]);
        Holds(await _cluster.ExplainAsync());
    }

    [Fact]
    public async Task Local_traffic_policy_without_a_local_endpoint_on_an_announcing_node_fails_step_4()
    {
        var setup = new[]
        {
            Yaml.Node("node1"), Yaml.Node("node2", "192.0.2.2"), Yaml.Pool("main", "203.0.113.0/24"), Yaml.Peer(),
            Yaml.BgpAdvertisement("adv", "main", "  nodeSelectors:\n  - matchLabels:\n      kubernetes.io/hostname: node1"),
            Yaml.Service(spec: "  externalTrafficPolicy: Local"),
        };
        _cluster.Write("config.yaml", [.. setup, Yaml.EndpointSlice("web", "node2")]);

        var explanation = await _cluster.ExplainAsync();
        var step = Failed(explanation);
        Assert.Equal((4, "NoLocalReadyEndpoint"), (step.Step, step.Code));
        Assert.Equal([("node1", "NoLocalReadyEndpoint"), ("node2", "NodeNotSelected")], explanation.Nodes.Select(n => (n.Node, n.Reason.ToString())));

        _cluster.Write("config.yaml", [.. setup, Yaml.EndpointSlice("web", "node1")]);
        Holds(await _cluster.ExplainAsync());
    }

    [Fact]
    public async Task The_exclude_label_on_every_node_fails_step_4()
    {
        _cluster.Write("config.yaml", Yaml.Node("node1", labels: "    node.kubernetes.io/exclude-from-external-load-balancers: \"\""),
            Yaml.Pool("main", "203.0.113.0/24"), Yaml.Peer(), Yaml.BgpAdvertisement("adv", "main"), Yaml.Service(), Yaml.EndpointSlice("web", "node1"));

        var step = Failed(await _cluster.ExplainAsync());

        Assert.Equal((4, "NodeExcluded"), (step.Step, step.Code));
        Assert.Contains("--ignore-exclude-lb", step.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_controllers_state_file_decides_the_address()
    {
        _cluster.Write("config.yaml", [.. Yaml.BgpSetup(), Yaml.Service(), Yaml.EndpointSlice("web", "node1")]);
        using (var state = new StateFile(Path.Combine(_cluster.Directory, ".bgplb-state.json")))
        {
            state.Load(out _);
            var data = StateData.Empty with
            {
                Allocations = ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal,
                    [KeyValuePair.Create("default/web", new StoredAllocation("main", ["203.0.113.42"]))]),
            };
            await state.CommitAsync(data, ["default/web"], [], CancellationToken.None);
        }

        var explanation = await _cluster.ExplainAsync();

        Holds(explanation);
        Assert.Equal(["203.0.113.42"], explanation.Addresses);
        Assert.Contains("state file", explanation.Steps[1].Summary, StringComparison.Ordinal);
    }

    public static TheoryData<string, string, string> AllocationFailures => new()
    {
        { "  annotations:\n    metallb.io/address-pool: nope", "", "PoolNotFound" },
        { "  annotations:\n    metallb.io/loadBalancerIPs: 2001:db8::5", "  ipFamilies: [IPv4]", "FamilyMismatch" },
        { "  annotations:\n    metallb.io/loadBalancerIPs: 203.0.113.5, 203.0.113.6", "", "InvalidRequest" },
    };

    [Theory]
    [MemberData(nameof(AllocationFailures))]
    public async Task Each_allocation_failure_fails_step_2_with_its_code_and_a_fix(string metadata, string spec, string code)
    {
        _cluster.Write("config.yaml", [.. Yaml.BgpSetup("203.0.113.0/24, 2001:db8::/64"), Yaml.Service(metadata: metadata, spec: spec), Yaml.EndpointSlice("web", "node1")]);

        var step = Failed(await _cluster.ExplainAsync());

        Assert.Equal(code, step.Code);
        Assert.False(string.IsNullOrEmpty(step.Fix));
    }

    [Fact]
    public async Task A_pool_without_autoAssign_leaves_a_Service_that_names_none_without_address()
    {
        _cluster.Write("config.yaml", Yaml.Node("node1"), Yaml.Pool("main", "203.0.113.0/24").Replace("spec:", "spec:\n  autoAssign: false", StringComparison.Ordinal),
            Yaml.Peer(), Yaml.BgpAdvertisement("adv", "main"), Yaml.Service(), Yaml.EndpointSlice("web", "node1"));

        var step = Failed(await _cluster.ExplainAsync());

        Assert.Equal((2, "NoPoolAvailable"), (step.Step, step.Code));
    }

    public static TheoryData<string[], string> NodeReasons => new()
    {
        { [Yaml.Node("node1", labels: "    rack: a"), Yaml.BgpAdvertisement("adv", "main", "  nodeSelectors:\n  - matchLabels:\n      rack: b")], "NodeNotSelected" },
        { [Yaml.Node("node1"), Yaml.BgpAdvertisement("adv", "main", "  peers: [elsewhere]")], "NoPeerForNode" },
        { [Yaml.Node("node1").Replace("status:", "status:\n  conditions:\n  - type: NetworkUnavailable\n    status: \"True\"", StringComparison.Ordinal),
            Yaml.BgpAdvertisement("adv", "main")], "NodeNetworkUnavailable" },
    };

    [Theory]
    [MemberData(nameof(NodeReasons))]
    public async Task Each_node_reason_of_the_planner_fails_step_4_with_its_code(string[] nodeAndAdvertisements, string code)
    {
        _cluster.Write("config.yaml", [Yaml.Pool("main", "203.0.113.0/24"), Yaml.Peer(), .. nodeAndAdvertisements, Yaml.Service(), Yaml.EndpointSlice("web", "node1")]);

        var explanation = await _cluster.ExplainAsync();
        var step = Failed(explanation);

        Assert.Equal((4, code), (step.Step, step.Code));
        Assert.Equal(code, Assert.Single(explanation.Nodes).Reason.ToString());
    }

    [Fact]
    public async Task An_L2_address_is_owned_by_the_elected_node()
    {
        _cluster.Write("config.yaml", Yaml.Node("node1"), Yaml.Node("node2", "192.0.2.2"), Yaml.Pool("main", "203.0.113.0/24"), Yaml.L2Advertisement("l2", "main"),
            Yaml.Service(), Yaml.EndpointSlice("web", "node1"), Yaml.EndpointSlice("web", "node2"));

        var explanation = await _cluster.ExplainAsync();

        Holds(explanation);
        var owner = Assert.Single(explanation.Nodes, n => n.Announced);
        Assert.Equal("NotElected", Assert.Single(explanation.Nodes, n => !n.Announced).Reason.ToString());
        Assert.Equal($"{owner.Node} owns 203.0.113.0 (computed)", explanation.Steps[5].Summary);
        Assert.Equal(Verdict.NotApplicable, explanation.Steps[4].Verdict);
    }
}
