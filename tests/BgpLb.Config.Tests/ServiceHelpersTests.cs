using System.Net;
using k8s.Models;

namespace BgpLb.Config.Tests;

public class ServiceHelpersTests
{
    private static V1Service Service(
        string? ingress = null, string? annotation = null, string? legacyAnnotation = null, string? specIp = null,
        string? lbClass = null, string type = "LoadBalancer", string? etp = null, string ns = "default", string name = "web")
    {
        var annotations = new Dictionary<string, string>();
        if (annotation is not null)
        {
            annotations[ServiceHelpers.LoadBalancerIPsAnnotation] = annotation;
        }
        if (legacyAnnotation is not null)
        {
            annotations[ServiceHelpers.LegacyLoadBalancerIPsAnnotation] = legacyAnnotation;
        }
        return new V1Service
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns, Annotations = annotations },
            Spec = new V1ServiceSpec { Type = type, LoadBalancerIP = specIp, LoadBalancerClass = lbClass, ExternalTrafficPolicy = etp },
            Status = new V1ServiceStatus
            {
                LoadBalancer = new V1LoadBalancerStatus { Ingress = ingress?.Split(',').Select(ip => new V1LoadBalancerIngress { Ip = ip }).ToList() },
            },
        };
    }

    private static V1EndpointSlice Slice(string service, string ns = "default", params V1Endpoint[] endpoints) => new()
    {
        Metadata = new V1ObjectMeta { Name = service + "-x", NamespaceProperty = ns, Labels = new Dictionary<string, string> { [ServiceHelpers.ServiceNameLabel] = service } },
        AddressType = "IPv4",
        Endpoints = endpoints,
    };

    private static V1Endpoint Endpoint(string node, bool? ready, bool? serving = null) => new()
    {
        Addresses = ["10.244.0.1"],
        NodeName = node,
        Conditions = new V1EndpointConditions { Ready = ready, Serving = serving },
    };

    private static string[] Addresses(V1Service service) => [.. ServiceHelpers.ExistingAddresses(service).Select(a => a.ToString())];

    [Fact]
    public void Existing_addresses_come_from_ingress_then_annotation_then_spec()
    {
        Assert.Equal(["203.0.113.1", "2001:db8::1"], Addresses(Service(ingress: "203.0.113.1,2001:db8::1", annotation: "203.0.113.2", specIp: "203.0.113.3")));
        Assert.Equal(["203.0.113.2", "2001:db8::2"], Addresses(Service(annotation: "203.0.113.2, 2001:db8::2", specIp: "203.0.113.3")));
        Assert.Equal(["203.0.113.4"], Addresses(Service(legacyAnnotation: "203.0.113.4", specIp: "203.0.113.3")));
        Assert.Equal(["203.0.113.2"], Addresses(Service(annotation: "203.0.113.2", legacyAnnotation: "203.0.113.4")));
        Assert.Equal(["203.0.113.3"], Addresses(Service(specIp: "203.0.113.3")));
        Assert.Equal(["203.0.113.3"], Addresses(Service(annotation: "garbage", specIp: "203.0.113.3")));
        Assert.Empty(Addresses(Service()));
        Assert.Empty(Addresses(new V1Service()));
    }

    [Fact]
    public void Load_balancer_class_filter()
    {
        Assert.True(ServiceHelpers.MatchesLoadBalancerClass(Service(), null));
        Assert.False(ServiceHelpers.MatchesLoadBalancerClass(Service(lbClass: "other"), null));
        Assert.True(ServiceHelpers.MatchesLoadBalancerClass(Service(lbClass: "bgplb"), "bgplb"));
        Assert.False(ServiceHelpers.MatchesLoadBalancerClass(Service(), "bgplb"));
        Assert.False(ServiceHelpers.MatchesLoadBalancerClass(Service(lbClass: "other"), "bgplb"));
    }

    [Fact]
    public void Type_and_traffic_policy()
    {
        Assert.True(ServiceHelpers.IsLoadBalancer(Service()));
        Assert.False(ServiceHelpers.IsLoadBalancer(Service(type: "ClusterIP")));
        Assert.False(ServiceHelpers.IsLoadBalancer(new V1Service()));
        Assert.True(ServiceHelpers.IsLocalTrafficPolicy(Service(etp: "Local")));
        Assert.False(ServiceHelpers.IsLocalTrafficPolicy(Service(etp: "Cluster")));
        Assert.False(ServiceHelpers.IsLocalTrafficPolicy(Service()));
    }

    [Theory]
    [InlineData(null, null, true)]
    [InlineData(true, null, true)]
    [InlineData(false, null, false)]
    [InlineData(false, true, true)]
    [InlineData(false, false, false)]
    [InlineData(true, false, true)]
    public void Endpoint_can_serve_per_metallb(bool? ready, bool? serving, bool expected) =>
        Assert.Equal(expected, ServiceHelpers.CanServe(Endpoint("n", ready, serving)));

    [Fact]
    public void Endpoint_without_conditions_can_serve() => Assert.True(ServiceHelpers.CanServe(new V1Endpoint { Addresses = ["10.0.0.1"] }));

    [Fact]
    public void Serving_endpoints_are_found_per_service_and_node()
    {
        var web = Service();
        V1EndpointSlice[] slices =
        [
            Slice("web", "default", Endpoint("node-a", false), Endpoint("node-b", true)),
            Slice("web", "other", Endpoint("node-c", true)),
            Slice("api", "default", Endpoint("node-d", true)),
        ];
        Assert.True(ServiceHelpers.HasServingEndpoint(web, slices));
        Assert.True(ServiceHelpers.HasServingEndpointOnNode(web, slices, "node-b"));
        Assert.False(ServiceHelpers.HasServingEndpointOnNode(web, slices, "node-a"));
        Assert.False(ServiceHelpers.HasServingEndpointOnNode(web, slices, "node-c"));
        Assert.False(ServiceHelpers.HasServingEndpointOnNode(web, slices, "node-d"));
        Assert.Single(ServiceHelpers.SlicesOf(web, slices));

        Assert.False(ServiceHelpers.HasServingEndpoint(web, [Slice("web", "default", Endpoint("node-a", false))]));
        Assert.False(ServiceHelpers.HasServingEndpoint(web, [Slice("web", "default")]));
        Assert.False(ServiceHelpers.HasServingEndpoint(web, []));
    }

    [Fact]
    public void Nodes_are_excluded_by_condition_or_label()
    {
        static V1Node Node(string? condition = null, string? label = null) => new()
        {
            Metadata = new V1ObjectMeta { Name = "n", Labels = label is null ? null : new Dictionary<string, string> { [label] = "" } },
            Status = new V1NodeStatus
            {
                Conditions = condition is null ? null : [new V1NodeCondition { Type = "NetworkUnavailable", Status = condition }],
                Addresses = [new V1NodeAddress { Type = "Hostname", Address = "n" }, new V1NodeAddress { Type = "InternalIP", Address = "198.18.0.2" }],
            },
        };
        Assert.False(ServiceHelpers.IsExcludedFromLoadBalancers(Node()));
        Assert.False(ServiceHelpers.IsExcludedFromLoadBalancers(Node(condition: "False")));
        Assert.True(ServiceHelpers.IsExcludedFromLoadBalancers(Node(condition: "True")));
        Assert.True(ServiceHelpers.IsExcludedFromLoadBalancers(Node(label: ServiceHelpers.ExcludeFromLoadBalancersLabel)));
        Assert.False(ServiceHelpers.IsExcludedFromLoadBalancers(Node(label: "other")));
        Assert.Equal(IPAddress.Parse("198.18.0.2"), ServiceHelpers.InternalAddress(Node()));
        Assert.Null(ServiceHelpers.InternalAddress(new V1Node()));
    }
}
