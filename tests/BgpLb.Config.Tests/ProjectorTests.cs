using System.Net;
using System.Net.Sockets;

namespace BgpLb.Config.Tests;

/// <summary>MetalLB's rules for Services, EndpointSlices and Nodes, as <see cref="ObjectProjector"/> reads them.</summary>
public class ProjectorTests
{
    private static object? Project(string yaml)
    {
        var result = ManifestParser.Parse("test.yaml", yaml, new ConfigOptions());
        Assert.Empty(result.Errors);
        return Assert.Single(result.Objects).Value;
    }

    /// <summary>A Service; <paramref name="spec"/> and <paramref name="metadata"/> are extra flow-mapping entries.</summary>
    private static ServiceInfo Service(string spec = "", string metadata = "", string status = "", string type = "LoadBalancer")
    {
        var yaml = $"apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: shop{(metadata.Length == 0 ? "" : ", " + metadata)}}}\n"
            + $"spec: {{type: {type}{(spec.Length == 0 ? "" : ", " + spec)}}}\n"
            + (status.Length == 0 ? "" : $"status: {status}\n");
        return Assert.IsType<ServiceInfo>(Project(yaml));
    }

    private static ServiceInfo Annotated(string annotations, string spec = "") => Service(spec, $"annotations: {{{annotations}}}");

    private static string[] Requested(ServiceInfo service) => [.. service.RequestedAddresses.Select(a => a.ToString())];

    private static EndpointSliceInfo Slice(string endpoints, string labels = "{kubernetes.io/service-name: web}") =>
        Assert.IsType<EndpointSliceInfo>(Project($"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: web-1, namespace: shop, labels: {labels}}}\nendpoints: {endpoints}\n"));

    private static NodeInfo Node(string metadata = "", string status = "{}") =>
        Assert.IsType<NodeInfo>(Project($"apiVersion: v1\nkind: Node\nmetadata: {{name: n{(metadata.Length == 0 ? "" : ", " + metadata)}}}\nstatus: {status}\n"));

    // ---- Service identity ----

    [Fact]
    public void Service_is_keyed_by_namespace_and_name_and_keeps_uid_and_labels()
    {
        var service = Service(metadata: "uid: 1234-5678, labels: {app: web}");
        Assert.Equal(("shop/web", "shop", "web", "1234-5678", "web"), (service.Key, service.Namespace, service.Name, service.Uid, service.Labels["app"]));
        Assert.True(service.IsLoadBalancer);
        Assert.Null(Service().Uid);
    }

    [Fact]
    public void Service_without_namespace_is_in_default()
    {
        var service = Assert.IsType<ServiceInfo>(Project("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {type: LoadBalancer}\n"));
        Assert.Equal("default/web", service.Key);
    }

    // ---- requested addresses ----

    [Fact]
    public void Requested_addresses_come_from_the_annotation()
    {
        Assert.Equal(["203.0.113.2", "2001:db8::2"], Requested(Annotated("metallb.io/loadBalancerIPs: '203.0.113.2, 2001:db8::2'")));
        Assert.Null(Annotated("metallb.io/loadBalancerIPs: '203.0.113.2, 2001:db8::2'").Problem);
    }

    [Fact]
    public void Requested_addresses_come_from_the_legacy_annotation()
    {
        var service = Annotated("metallb.universe.tf/loadBalancerIPs: 203.0.113.4");
        Assert.Equal(["203.0.113.4"], Requested(service));
        Assert.Null(service.Problem);
    }

    [Fact]
    public void Current_annotation_wins_over_its_legacy_twin() =>
        Assert.Equal(["203.0.113.2"], Requested(Annotated("metallb.io/loadBalancerIPs: 203.0.113.2, metallb.universe.tf/loadBalancerIPs: 203.0.113.4")));

    [Fact]
    public void Requested_address_comes_from_spec_load_balancer_ip()
    {
        var service = Service("loadBalancerIP: 203.0.113.3");
        Assert.Equal(["203.0.113.3"], Requested(service));
        Assert.Null(service.Problem);
    }

    [Theory]
    [InlineData("metallb.io/loadBalancerIPs: 203.0.113.2")]
    [InlineData("metallb.universe.tf/loadBalancerIPs: 203.0.113.2")]
    public void Annotation_and_spec_load_balancer_ip_together_are_a_problem(string annotation)
    {
        var service = Annotated(annotation, "loadBalancerIP: 203.0.113.3");
        Assert.Empty(service.RequestedAddresses);
        Assert.Contains("can not have both", service.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("metallb.io/loadBalancerIPs: 'garbage'", "invalid IP 'garbage'")]
    [InlineData("metallb.io/loadBalancerIPs: '203.0.113.1,203.0.113.2'", "at most one address per IP family")]
    [InlineData("metallb.io/loadBalancerIPs: '203.0.113.1,2001:db8::1,2001:db8::2'", "at most one address per IP family")]
    public void Unusable_requests_are_problems(string annotation, string problem)
    {
        var service = Annotated(annotation);
        Assert.Contains(problem, service.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_long_address_list_is_read_only_up_to_its_first_error()
    {
        var garbage = Annotated($"metallb.io/loadBalancerIPs: '203.0.113.1,{string.Join(',', Enumerable.Range(0, 10_000).Select(i => $"bad{i}"))}'");
        Assert.Equal("invalid IP 'bad0' in metallb.io/loadBalancerIPs", garbage.Problem);

        var many = Annotated($"metallb.io/loadBalancerIPs: '{string.Join(',', Enumerable.Range(0, 10_000).Select(i => $"10.{i >> 8}.{i & 255}.1"))}'");
        Assert.Equal("metallb.io/loadBalancerIPs may name at most one address per IP family, got 10.0.0.1, 10.0.1.1, 10.0.2.1", many.Problem);
        Assert.Empty(many.RequestedAddresses);
    }

    [Fact]
    public void Repeated_requested_addresses_count_once() =>
        Assert.Equal(["203.0.113.1"], Requested(Annotated("metallb.io/loadBalancerIPs: '203.0.113.1, 203.0.113.1,'")));

    [Fact]
    public void No_request_is_no_problem()
    {
        Assert.Empty(Service().RequestedAddresses);
        Assert.Null(Service().Problem);
        Assert.Empty(Annotated("metallb.io/loadBalancerIPs: ' '").RequestedAddresses);
    }

    // ---- status ----

    [Fact]
    public void Ingress_lists_the_addresses_in_status()
    {
        var service = Service(status: "{loadBalancer: {ingress: [{ip: 203.0.113.1}, {hostname: lb.example}, {ip: '2001:db8::1'}, {ip: 203.0.113.1}, {ip: bogus}]}}");
        Assert.Equal([IPAddress.Parse("203.0.113.1"), IPAddress.Parse("2001:db8::1")], service.Ingress.ToArray());
        Assert.Empty(Service(status: "{loadBalancer: {}}").Ingress);
    }

    [Fact]
    public void Ingress_entry_that_is_not_a_mapping_is_a_type_error()
    {
        var result = ManifestParser.Parse("test.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {type: LoadBalancer}\nstatus: {loadBalancer: {ingress: [203.0.113.1]}}\n", new ConfigOptions());
        Assert.Equal("status.loadBalancer.ingress[0]", Assert.Single(result.Errors).Field);
    }

    // ---- families ----

    [Theory]
    [InlineData("ipFamilies: [IPv6]", "SingleStack", new[] { AddressFamily.InterNetworkV6 })]
    [InlineData("ipFamilies: [IPv6, IPv4], ipFamilyPolicy: RequireDualStack", "RequireDualStack", new[] { AddressFamily.InterNetworkV6, AddressFamily.InterNetwork })]
    [InlineData("ipFamilies: [IPv4, IPv6], ipFamilyPolicy: PreferDualStack", "PreferDualStack", new[] { AddressFamily.InterNetwork, AddressFamily.InterNetworkV6 })]
    [InlineData("ipFamilyPolicy: RequireDualStack", "RequireDualStack", new[] { AddressFamily.InterNetwork, AddressFamily.InterNetworkV6 })]
    [InlineData("clusterIPs: ['fd00::1']", "SingleStack", new[] { AddressFamily.InterNetworkV6 })]
    [InlineData("clusterIP: 'fd00::1'", "SingleStack", new[] { AddressFamily.InterNetworkV6 })]
    [InlineData("clusterIP: None, loadBalancerIP: '2001:db8::5'", "SingleStack", new[] { AddressFamily.InterNetworkV6 })]
    [InlineData("ipFamilies: [IPv4], loadBalancerIP: '2001:db8::5'", "SingleStack", new[] { AddressFamily.InterNetwork })]
    [InlineData("", "SingleStack", new[] { AddressFamily.InterNetwork })]
    public void Families_come_from_ip_families_then_cluster_ips_then_the_requested_address(string spec, string policy, AddressFamily[] families)
    {
        var service = Service(spec);
        Assert.Equal(Enum.Parse<FamilyPolicy>(policy), service.Policy);
        Assert.Equal(families, service.Families.ToArray());
    }

    [Fact]
    public void Without_a_declaration_the_held_address_names_the_family() =>
        Assert.Equal([AddressFamily.InterNetworkV6], Service(status: "{loadBalancer: {ingress: [{ip: '2001:db8::1'}]}}").Families.ToArray());

    [Fact]
    public void Prefer_dual_stack_with_one_declared_family_keeps_one_family()
    {
        Assert.Equal([AddressFamily.InterNetworkV6], Service("ipFamilies: [IPv6], ipFamilyPolicy: PreferDualStack").Families.ToArray());
        Assert.Equal([AddressFamily.InterNetwork], Service("clusterIPs: [10.96.0.1], ipFamilyPolicy: PreferDualStack").Families.ToArray());
        Assert.Null(Service("ipFamilies: [IPv6], ipFamilyPolicy: PreferDualStack").Problem);
    }

    [Fact]
    public void Require_dual_stack_with_one_declared_family_is_a_problem() =>
        Assert.Contains("RequireDualStack needs two IP families", Service("ipFamilies: [IPv4], ipFamilyPolicy: RequireDualStack").Problem, StringComparison.Ordinal);

    [Theory]
    [InlineData("ipFamilyPolicy: Sometimes", "unknown spec.ipFamilyPolicy 'Sometimes'")]
    [InlineData("ipFamilies: [IPv5]", "unknown IP family 'IPv5'")]
    public void Unknown_family_settings_are_problems(string spec, string problem) =>
        Assert.Contains(problem, Service(spec).Problem, StringComparison.Ordinal);

    // ---- ports, traffic policy, annotations ----

    [Fact]
    public void Ports_default_to_tcp_and_count_once()
    {
        var service = Service("ports: [{port: 80}, {port: 53, protocol: UDP}, {port: 80, protocol: TCP, name: again}]");
        Assert.Equal([new ServicePort("TCP", 80), new ServicePort("UDP", 53)], service.Ports.ToArray());
    }

    [Fact]
    public void Local_traffic_policy_keys_the_backend_by_the_sorted_selector()
    {
        var local = Service("externalTrafficPolicy: Local, selector: {tier: front, app: web}");
        Assert.True(local.LocalTrafficPolicy);
        Assert.Equal("app=web,tier=front", local.BackendKey);

        var cluster = Service("externalTrafficPolicy: Cluster, selector: {app: web}");
        Assert.False(cluster.LocalTrafficPolicy);
        Assert.Equal("", cluster.BackendKey);
        Assert.False(Service().LocalTrafficPolicy);
    }

    [Fact]
    public void Pool_and_sharing_annotations_and_their_legacy_twins()
    {
        var current = Annotated("metallb.io/address-pool: gold, metallb.io/allow-shared-ip: ' team-a '");
        Assert.Equal(("gold", "team-a"), (current.Pool, current.SharingKey));
        var legacy = Annotated("metallb.universe.tf/address-pool: silver, metallb.universe.tf/allow-shared-ip: team-b");
        Assert.Equal(("silver", "team-b"), (legacy.Pool, legacy.SharingKey));
        Assert.Equal(((string?)null, (string?)null), (Service().Pool, Service().SharingKey));
    }

    [Fact]
    public void Deprecated_and_unknown_metallb_annotations_are_named_and_others_ignored()
    {
        var service = Annotated("metallb.universe.tf/address-pool: silver, metallb.io/adress-pool: gold, metallb.universe.tf/bogus: x, "
            + "metallb.io/loadBalancerIPs: 203.0.113.2, example.com/metallb.io: y");

        Assert.Equal(["metallb.universe.tf/address-pool"], service.DeprecatedAnnotations);
        Assert.Equal(["metallb.io/adress-pool", "metallb.universe.tf/bogus"], service.UnknownAnnotations);
        Assert.Equal(("silver", "metallb.io/address-pool"), (service.Pool, MetalLbNames.DeprecatedAnnotations[service.DeprecatedAnnotations[0]]));
        Assert.True(Service().DeprecatedAnnotations.IsEmpty && Service().UnknownAnnotations.IsEmpty);
    }

    // ---- type and class ----

    [Theory]
    [InlineData("ClusterIP")]
    [InlineData("NodePort")]
    public void Other_service_types_are_of_no_use(string type) =>
        Assert.Null(Project($"apiVersion: v1\nkind: Service\nmetadata: {{name: web}}\nspec: {{type: {type}}}\n"));

    [Fact]
    public void Service_without_a_spec_is_of_no_use() =>
        Assert.Null(Project("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"));

    [Fact]
    public void Other_service_type_that_carries_our_allocation_is_kept_for_cleanup()
    {
        var service = Service(metadata: "annotations: {metallb.io/ip-allocated-from-pool: gold}", type: "ClusterIP", status: "{loadBalancer: {ingress: [{ip: 203.0.113.1}]}}");
        Assert.False(service.IsLoadBalancer);
        Assert.Equal("gold", service.AllocatedFromPool);
        Assert.Equal([IPAddress.Parse("203.0.113.1")], service.Ingress.ToArray());
        Assert.False(service.IsOurs(null));
    }

    [Fact]
    public void Load_balancer_class_selects_the_services_that_are_ours()
    {
        var classless = Service();
        var other = Service("loadBalancerClass: other");
        var ours = Service("loadBalancerClass: bgplb");
        Assert.Equal(((string?)null, "other", "bgplb"), (classless.LoadBalancerClass, other.LoadBalancerClass, ours.LoadBalancerClass));
        Assert.Null(Service("loadBalancerClass: ''").LoadBalancerClass);

        Assert.True(classless.IsOurs(null));
        Assert.True(classless.IsOurs(""));
        Assert.False(other.IsOurs(null));
        Assert.True(ours.IsOurs("bgplb"));
        Assert.False(classless.IsOurs("bgplb"));
        Assert.False(other.IsOurs("bgplb"));
    }

    // ---- EndpointSlice ----

    [Theory]
    [InlineData("{}", true)]
    [InlineData("{ready: true}", true)]
    [InlineData("{ready: false}", false)]
    [InlineData("{ready: false, serving: true}", true)]
    [InlineData("{ready: false, serving: false}", false)]
    [InlineData("{ready: true, serving: false}", true)]
    [InlineData("{serving: false}", true)]
    public void Endpoint_can_serve_when_ready_is_unset_or_true_or_serving_is_true(string conditions, bool serving)
    {
        var slice = Slice($"[{{addresses: [10.244.0.1], nodeName: node-a, conditions: {conditions}}}]");
        Assert.Equal(serving, slice.Serving);
        string[] nodes = serving ? ["node-a"] : [];
        Assert.Equal(nodes, slice.ServingNodes.ToArray());
    }

    [Fact]
    public void Endpoint_without_conditions_can_serve() =>
        Assert.Equal(["node-a"], Slice("[{addresses: [10.244.0.1], nodeName: node-a}]").ServingNodes.ToArray());

    [Fact]
    public void Slice_lists_its_serving_nodes_sorted_and_once()
    {
        var slice = Slice("[{nodeName: node-b}, {nodeName: node-a}, {nodeName: node-b}, {nodeName: node-c, conditions: {ready: false}}, {addresses: [10.0.0.9]}]");
        Assert.Equal(("shop/web-1", "shop/web"), (slice.Key, slice.Service));
        Assert.True(slice.Serving);
        Assert.Equal(["node-a", "node-b"], slice.ServingNodes.ToArray());
    }

    [Fact]
    public void Endpoint_without_a_node_serves_but_on_no_node()
    {
        var slice = Slice("[{addresses: [10.0.0.9]}]");
        Assert.True(slice.Serving);
        Assert.Empty(slice.ServingNodes);
    }

    [Fact]
    public void Slice_without_endpoints_or_service_label()
    {
        var empty = Slice("[]");
        Assert.False(empty.Serving);
        Assert.Empty(empty.ServingNodes);
        Assert.Null(Slice("[]", "{}").Service);
    }

    [Fact]
    public void Endpoint_summary_joins_the_slices_of_a_service()
    {
        var a = Slice("[{nodeName: node-b}, {nodeName: node-a, conditions: {ready: false}}]");
        var b = Slice("[{nodeName: node-c}, {nodeName: node-b}]");
        var none = Slice("[{nodeName: node-d, conditions: {ready: false}}]");
        var summary = EndpointSummary.Of([a.Summary, b.Summary, none.Summary]);
        Assert.True(summary.ServingAnywhere);
        Assert.Equal(["node-b", "node-c"], summary.ServingNodes.ToArray());
        Assert.True(summary.ServingOn("node-c"));
        Assert.False(summary.ServingOn("node-a"));
        Assert.False(summary.ServingOn("node-d"));

        Assert.Equal(EndpointSummary.None, EndpointSummary.Of([none.Summary]));
        Assert.Equal(EndpointSummary.None, EndpointSummary.Of([]));
        Assert.Equal(new EndpointSummary(true, []), EndpointSummary.Of([none.Summary, Slice("[{addresses: [10.0.0.9]}]").Summary]));
    }

    // ---- Node ----

    [Fact]
    public void Node_with_network_unavailable_is_projected_as_such()
    {
        var node = Node(status: "{conditions: [{type: Ready, status: 'True'}, {type: NetworkUnavailable, status: 'True'}]}");
        Assert.True(node.NetworkUnavailable);
    }

    [Fact]
    public void Node_with_network_available_is_not_network_unavailable()
    {
        var node = Node(status: "{conditions: [{type: NetworkUnavailable, status: 'False'}, {type: Ready, status: 'True'}]}");
        Assert.False(node.NetworkUnavailable);
        Assert.False(Node().NetworkUnavailable);
    }

    [Fact]
    public void Node_keeps_the_exclude_label_for_the_planner()
    {
        var node = Node("labels: {node.kubernetes.io/exclude-from-external-load-balancers: ''}");
        Assert.False(node.NetworkUnavailable);
        Assert.True(node.Labels.ContainsKey(MetalLbNames.ExcludeFromLoadBalancersLabel));
        Assert.False(Node("labels: {other: ''}").Labels.ContainsKey(MetalLbNames.ExcludeFromLoadBalancersLabel));
    }

    [Fact]
    public void Node_internal_address_is_the_first_internal_ip()
    {
        var node = Node(status: "{addresses: [{type: Hostname, address: n}, {type: ExternalIP, address: 192.0.2.1}, {type: InternalIP, address: 198.18.0.2}, {type: InternalIP, address: 198.18.0.3}]}");
        Assert.Equal(IPAddress.Parse("198.18.0.2"), node.InternalAddress);
        Assert.Null(Node().InternalAddress);
        Assert.Null(Node(status: "{addresses: [{type: InternalIP, address: not-an-ip}]}").InternalAddress);
    }

    [Fact]
    public void Node_keeps_its_labels_and_ignores_a_namespace()
    {
        var node = Node("namespace: ignored, labels: {zone: a}");
        Assert.Equal(("n", "a"), (node.Name, node.Labels["zone"]));
    }
}
