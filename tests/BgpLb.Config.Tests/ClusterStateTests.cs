using static BgpLb.Config.Tests.TestConfig;

namespace BgpLb.Config.Tests;

/// <summary>What <see cref="ClusterState.Apply"/> keeps and what its <see cref="ClusterDelta"/> says changed.</summary>
public class ClusterStateTests
{
    private readonly ClusterState _state = new(new ConfigOptions());

    private ClusterDelta Apply(string yaml) => _state.Apply(Batch(yaml));

    private ClusterDelta Apply(params ResourceChange[] changes) => _state.Apply(Batch(changes));

    private static ResourceBatch Problems(string origin, params ConfigError[] problems)
    {
        var batch = new ResourceBatch();
        batch.Problems[origin] = [.. problems];
        return batch;
    }

    private static ConfigError Problem(string origin, string message) => new(ConfigSeverity.Error, origin, null, null, message);

    private static string Web(string spec = "ports: [{port: 80, targetPort: 8080}]", string metadata = "") => LoadBalancer("web", spec, metadata);

    [Fact]
    public void New_service_is_a_change_of_that_service_only()
    {
        var delta = Apply(Web());
        Assert.Equal(["default/web"], delta.Services);
        Assert.Empty(delta.Endpoints);
        Assert.False(delta.ConfigChanged);
        Assert.False(delta.ProblemsChanged);
        Assert.Equal(80, _state.Services["default/web"].Ports[0].Port);
    }

    [Fact]
    public void Service_edit_that_changes_nothing_bgplb_uses_is_no_change()
    {
        Apply(Web());
        var before = _state.Services["default/web"];

        var delta = Apply(Web("ports: [{port: 80, targetPort: 9090}], sessionAffinity: ClientIP", "annotations: {team: blue}"));

        Assert.True(delta.IsEmpty);
        Assert.Same(before, _state.Services["default/web"]);
    }

    [Fact]
    public void Service_edit_that_changes_what_bgplb_uses_is_a_change()
    {
        Apply(Web());
        var delta = Apply(Web(metadata: "annotations: {metallb.io/loadBalancerIPs: 203.0.113.9}"));
        Assert.Equal(["default/web"], delta.Services);
        Assert.Equal("203.0.113.9", _state.Services["default/web"].RequestedAddresses[0].ToString());
    }

    [Fact]
    public void Service_that_stops_being_a_load_balancer_goes_away()
    {
        Apply(Web());
        var delta = Apply("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {type: ClusterIP}\n");
        Assert.Equal(["default/web"], delta.Services);
        Assert.Empty(_state.Services);
        Assert.True(Apply(Deleted("Service", "default", "web")).IsEmpty);
    }

    [Fact]
    public void Endpoint_slice_flip_changes_the_endpoints_of_its_service_only()
    {
        Apply(Web() + LoadBalancer("api") + Slice("web-1", "web", "[{nodeName: node-a}]") + Slice("api-1", "api", "[{nodeName: node-a}]"));

        var delta = Apply(Slice("web-1", "web", "[{nodeName: node-a, conditions: {ready: false}}]"));

        Assert.Equal(["default/web"], delta.Endpoints);
        Assert.Empty(delta.Services);
        Assert.False(delta.ConfigChanged);
        Assert.Equal(EndpointSummary.None, _state.EndpointsOf("default/web"));
        Assert.True(_state.EndpointsOf("default/api").ServingOn("node-a"));
    }

    [Fact]
    public void Slice_edit_that_keeps_the_summary_is_no_change()
    {
        Apply(Web() + Slice("web-1", "web", "[{nodeName: node-a}]") + Slice("web-2", "web", "[{nodeName: node-a}]"));
        // web-2 no longer serves, but web-1 still serves on the same node.
        Assert.True(Apply(Slice("web-2", "web", "[{nodeName: node-a, conditions: {ready: false}}]")).IsEmpty);
        Assert.True(Apply(Slice("web-2", "web", "[{nodeName: node-a, addresses: [10.0.0.1]}]")).IsEmpty);
    }

    [Fact]
    public void Endpoints_of_a_service_join_its_slices()
    {
        Apply(Slice("web-1", "web", "[{nodeName: node-b}]") + Slice("web-2", "web", "[{nodeName: node-a}, {nodeName: node-c, conditions: {ready: false}}]"));
        Assert.Equal(new EndpointSummary(true, ["node-a", "node-b"]), _state.EndpointsOf("default/web"));

        var delta = Apply(Deleted("EndpointSlice", "default", "web-1"));
        Assert.Equal(["default/web"], delta.Endpoints);
        Assert.Equal(new EndpointSummary(true, ["node-a"]), _state.EndpointsOf("default/web"));

        delta = Apply(Deleted("EndpointSlice", "default", "web-2"));
        Assert.Equal(["default/web"], delta.Endpoints);
        Assert.Equal(EndpointSummary.None, _state.EndpointsOf("default/web"));
    }

    [Fact]
    public void Slice_that_moves_to_another_service_changes_both()
    {
        Apply(Slice("s-1", "web", "[{nodeName: node-a}]"));
        var delta = Apply(Slice("s-1", "api", "[{nodeName: node-a}]"));
        Assert.Equal(["default/api", "default/web"], delta.Endpoints.Order(StringComparer.Ordinal));
        Assert.Equal(EndpointSummary.None, _state.EndpointsOf("default/web"));
        Assert.True(_state.EndpointsOf("default/api").ServingOn("node-a"));
    }

    [Fact]
    public void Slice_that_serves_nowhere_is_no_endpoint_change()
    {
        Assert.True(Apply(Slice("web-1", "web", "[{nodeName: node-a, conditions: {ready: false}}]")).IsEmpty);
        Assert.True(Apply(Deleted("EndpointSlice", "default", "web-1")).IsEmpty);
    }

    [Fact]
    public void Slices_of_same_named_services_in_other_namespaces_are_apart()
    {
        Apply(Slice("web-1", "web", "[{nodeName: node-a}]") + Slice("web-1", "web", "[{nodeName: node-b}]", ns: "other"));
        Assert.Equal(["node-a"], _state.EndpointsOf("default/web").ServingNodes.ToArray());
        Assert.Equal(["node-b"], _state.EndpointsOf("other/web").ServingNodes.ToArray());
    }

    [Fact]
    public void Node_label_change_is_a_node_change()
    {
        Apply(Node("n1", "{zone: a}") + Node("n2", "{zone: a}"));
        var delta = Apply(Node("n1", "{zone: b}"));
        Assert.Equal(["n1"], delta.Nodes);
        Assert.Empty(delta.Services);
        Assert.Equal("b", _state.Nodes["n1"].Labels["zone"]);
        Assert.True(Apply(Node("n1", "{zone: b}")).IsEmpty);
    }

    [Fact]
    public void Node_change_recompiles_the_configuration()
    {
        // The local preferences conflict only on a node that both advertisements select.
        Apply(Pool("p", "[203.0.113.0/24]")
            + Advertisement("a", "localPref: 300\nnodeSelectors: [{matchLabels: {zone: a}}]")
            + Advertisement("b", "localPref: 400\nnodeSelectors: [{matchLabels: {rack: r1}}]")
            + Node("n1", "{zone: a}"));
        Assert.Empty(_state.Problems);

        var delta = Apply(Node("n1", "{zone: a, rack: r1}"));
        Assert.Equal(["n1"], delta.Nodes);
        Assert.True(delta.ProblemsChanged);
        Assert.Contains("conflicts", Assert.Single(_state.Problems).Message, StringComparison.Ordinal);
        Assert.True(delta.ConfigChanged);
        Assert.Equal(["a"], _state.Config.BgpAdvertisements.Select(a => a.Name));

        var removed = Apply(Deleted("Node", "", "n1"));
        Assert.True(removed.ProblemsChanged);
        Assert.Empty(_state.Problems);
        Assert.Equal(2, _state.Config.BgpAdvertisements.Length);
    }

    [Fact]
    public void Secret_change_recompiles_the_configuration()
    {
        Apply(Secret("md5", "one") + Peer("r", GoodPeerSpec + "\npasswordSecret: {name: md5}"));
        Assert.Equal("one", _state.Config.Peers.Single().Password);

        var delta = Apply(Secret("md5", "two"));
        Assert.NotNull(delta.PreviousConfig);
        Assert.Equal("one", delta.PreviousConfig.Peers.Single().Password);
        Assert.Equal("two", _state.Config.Peers.Single().Password);
    }

    [Fact]
    public void Metallb_object_change_recompiles_and_reports_the_previous_configuration()
    {
        Apply(Pool("p", "[203.0.113.0/28]"));
        var previous = _state.Config;
        var delta = Apply(Pool("p", "[198.51.100.0/28]"));
        Assert.Same(previous, delta.PreviousConfig);
        Assert.Equal("198.51.100.0/28", _state.Config.Pools.Single().Cidrs[0].ToString());
        Assert.Empty(delta.Services);
        Assert.Empty(delta.Nodes);

        Assert.True(Apply(Pool("p", "[198.51.100.0/28]")).IsEmpty);
        var deleted = Apply(Deleted("IPAddressPool", Ns, "p"));
        Assert.True(deleted.ConfigChanged);
        Assert.Empty(_state.Config.Pools);
    }

    [Fact]
    public void Services_slices_and_namespaces_leave_the_configuration_alone()
    {
        Apply(Pool("p", "[203.0.113.0/28]") + Pool("bad", "[]"));
        Assert.Single(_state.Problems.ExceptUnadvertised());

        var delta = Apply(Web() + Slice("web-1", "web", "[{nodeName: node-a}]") + "apiVersion: v1\nkind: Namespace\nmetadata: {name: team, labels: {a: b}}\n");
        Assert.False(delta.ConfigChanged);
        Assert.False(delta.ProblemsChanged);
        Assert.Equal(["team"], delta.Namespaces);
        Assert.Equal("b", _state.NamespaceLabels("team")!["a"]);
        Assert.Null(_state.NamespaceLabels("other"));
    }

    [Fact]
    public void Problems_are_replaced_per_origin_and_cleared_by_an_empty_list()
    {
        var first = Problem("a.yaml", "one");
        var second = Problem("a.yaml", "two");
        var other = Problem("b.yaml", "three");

        Assert.True(_state.Apply(Problems("a.yaml", first)).ProblemsChanged);
        Assert.True(_state.Apply(Problems("b.yaml", other)).ProblemsChanged);
        Assert.Equal([first, other], _state.Problems.AsEnumerable());

        Assert.True(_state.Apply(Problems("a.yaml", second)).ProblemsChanged);
        Assert.Equal([second, other], _state.Problems.AsEnumerable());

        Assert.False(_state.Apply(Problems("a.yaml", second)).ProblemsChanged);

        var cleared = _state.Apply(Problems("a.yaml"));
        Assert.True(cleared.ProblemsChanged);
        Assert.Equal([other], _state.Problems.AsEnumerable());
        Assert.False(_state.Apply(Problems("a.yaml")).ProblemsChanged);
        Assert.True(_state.HasErrors);
    }

    [Fact]
    public void Problems_list_reading_problems_by_origin_then_validation_problems()
    {
        Apply(Pool("bad", "[]"));
        _state.Apply(Problems("z.yaml", Problem("z.yaml", "late")));
        _state.Apply(Problems("a.yaml", Problem("a.yaml", "early")));
        Assert.Equal(["a.yaml", "z.yaml", "test"], _state.Problems.Select(p => p.Origin));
        Assert.Empty(new ClusterState(new ConfigOptions()).Problems);
    }
}
