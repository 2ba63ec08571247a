using BgpLb.Config.Resources;
using k8s.Models;

namespace BgpLb.Config.Tests;

public class ParsingTests
{
    private static ManifestParseResult Parse(string yaml) => ManifestParser.Parse("dir/test.yaml", yaml, new ConfigOptions());

    [Fact]
    public void Multi_document_file_yields_typed_objects_keyed_by_apiVersion_and_kind()
    {
        var result = Parse("""
            apiVersion: v1
            kind: Service
            metadata: {name: web}
            spec: {type: LoadBalancer}
            ---
            apiVersion: metallb.io/v1beta1
            kind: IPAddressPool
            metadata: {name: pool}
            spec: {addresses: [203.0.113.0/28]}
            ---
            apiVersion: v1
            kind: Node
            metadata: {name: node-a, namespace: ignored}
            ---
            """);

        Assert.Empty(result.Errors);
        Assert.False(result.Unreadable);
        Assert.Equal(
            [new ResourceKey("Service", "default", "web"), new ResourceKey("IPAddressPool", "metallb-system", "pool"), new ResourceKey("Node", "", "node-a")],
            result.Resources.Select(r => r.Key));
        Assert.IsType<V1Service>(result.Resources[0].Resource);
        var pool = Assert.IsType<IPAddressPool>(result.Resources[1].Resource);
        Assert.Equal(["203.0.113.0/28"], pool.Spec.Addresses!);
        Assert.Equal("metallb-system", pool.Metadata.NamespaceProperty);
        Assert.Equal([1, 6, 11], result.Resources.Select(r => r.Line ?? 0));
        Assert.All(result.Resources, r => Assert.Equal("dir/test.yaml", r.Origin));
    }

    [Fact]
    public void Namespace_defaults_follow_the_configured_metallb_namespace()
    {
        var result = ManifestParser.Parse("f", "apiVersion: metallb.io/v1beta1\nkind: Community\nmetadata: {name: c}\n", new ConfigOptions { MetalLbNamespace = "lb" });
        Assert.Equal(new ResourceKey("Community", "lb", "c"), Assert.Single(result.Resources).Key);
    }

    [Fact]
    public void BGPPeer_v1beta2_keeps_every_field()
    {
        var result = Parse("""
            apiVersion: metallb.io/v1beta2
            kind: BGPPeer
            metadata: {name: p}
            spec:
              myASN: 64513
              dynamicASN: external
              peerAddress: 198.18.0.1
              sourceAddress: 198.18.0.2
              peerPort: 1179
              holdTime: 9s
              keepaliveTime: 3s
              connectTime: 5s
              routerID: 198.18.0.2
              passwordSecret: {name: s, namespace: metallb-system}
              bfdProfile: fast
              enableGracefulRestart: true
              ebgpMultiHop: true
              disableMP: true
              dualStackAddressFamily: true
              nodeSelectors:
              - matchLabels: {zone: a}
                matchExpressions: [{key: tier, operator: In, values: [edge]}]
            """);
        Assert.Empty(result.Errors);
        var peer = Assert.IsType<BGPPeer>(Assert.Single(result.Resources).Resource);
        var spec = peer.Spec;
        Assert.Equal((64513u, "external", "198.18.0.1", "198.18.0.2", 1179), (spec.MyASN!.Value, spec.DynamicASN, spec.PeerAddress, spec.SourceAddress, spec.PeerPort!.Value));
        Assert.Equal(("9s", "3s", "5s", "198.18.0.2"), (spec.HoldTime, spec.KeepaliveTime, spec.ConnectTime, spec.RouterID));
        Assert.Equal(("s", "metallb-system", "fast"), (spec.PasswordSecret!.Name, spec.PasswordSecret.Namespace, spec.BfdProfile));
        Assert.True(spec.EnableGracefulRestart && spec.EbgpMultiHop && spec.DisableMP && spec.DualStackAddressFamily);
        var selector = Assert.Single(spec.NodeSelectors!);
        Assert.Equal("a", selector.MatchLabels["zone"]);
        Assert.Equal("In", selector.MatchExpressions[0].OperatorProperty);
    }

    [Fact]
    public void BGPPeer_v1beta1_is_converted_to_the_internal_shape()
    {
        var result = Parse("""
            apiVersion: metallb.io/v1beta1
            kind: BGPPeer
            metadata: {name: old}
            spec:
              myASN: 64513
              peerASN: 64512
              peerAddress: 198.18.0.1
              holdTime: 30s
              password: secret
              nodeSelectors:
              - matchLabels: {zone: a}
                matchExpressions: [{key: tier, operator: in, values: [edge]}]
            """);
        Assert.Empty(result.Errors);
        var peer = Assert.IsType<BGPPeer>(Assert.Single(result.Resources).Resource);
        Assert.Equal(new ResourceKey("BGPPeer", "metallb-system", "old"), result.Resources[0].Key);
        Assert.Equal((64513u, 64512u, "198.18.0.1", "30s", "secret"), (peer.Spec.MyASN!.Value, peer.Spec.PeerASN!.Value, peer.Spec.PeerAddress, peer.Spec.HoldTime, peer.Spec.Password));
        var selector = Assert.Single(peer.Spec.NodeSelectors!);
        Assert.Equal("In", selector.MatchExpressions[0].OperatorProperty);
        Assert.True(LabelSelector.TryCreate(selector, out var compiled, out _));
        Assert.True(compiled.Matches(new Dictionary<string, string> { ["zone"] = "a", ["tier"] = "edge" }));
    }

    [Theory]
    [InlineData("dynamicASN: internal", "spec.dynamicASN")]
    [InlineData("connectTime: 5s", "spec.connectTime")]
    [InlineData("passwordSecret: {name: s}", "spec.passwordSecret")]
    [InlineData("enableGracefulRestart: true", "spec.enableGracefulRestart")]
    public void BGPPeer_v1beta1_rejects_v1beta2_only_fields(string line, string field)
    {
        var result = Parse($"apiVersion: metallb.io/v1beta1\nkind: BGPPeer\nmetadata: {{name: old}}\nspec:\n  myASN: 1\n  {line}\n");
        var error = Assert.Single(result.Errors);
        Assert.Equal(field, error.Field);
        Assert.Null(Assert.Single(result.Resources).Resource);
    }

    [Fact]
    public void Misspelt_spec_field_is_an_error_naming_file_object_and_field()
    {
        var result = Parse("apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: p}\nspec:\n  myASN: 1\n  peerASNN: 2\n");
        var error = Assert.Single(result.Errors);
        Assert.Equal(("dir/test.yaml", new ResourceKey("BGPPeer", "metallb-system", "p"), "spec.peerASNN"), (error.Origin, error.Resource!.Value, error.Field));
        Assert.Contains("unknown field 'peerASNN'", error.Message, StringComparison.Ordinal);
        // The object is known but unusable: its last good version can stay in force.
        Assert.Null(Assert.Single(result.Resources).Resource);
    }

    [Fact]
    public void Nested_type_errors_carry_the_json_path()
    {
        var result = Parse("apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p}\nspec:\n  addresses: [203.0.113.0/28]\n  serviceAllocation:\n    priority: high\n");
        var error = Assert.Single(result.Errors);
        Assert.Equal("spec.serviceAllocation.priority", error.Field);
    }

    [Fact]
    public void Unknown_top_level_field_of_a_crd_is_an_error()
    {
        var error = Assert.Single(Parse("apiVersion: metallb.io/v1beta1\nkind: Community\nmetadata: {name: c}\nspecs: {}\n").Errors);
        Assert.Equal("specs", error.Field);
    }

    [Fact]
    public void Builtin_kinds_are_lenient_but_type_errors_are_reported()
    {
        var ok = Parse("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {futureField: 1}\n");
        Assert.Empty(ok.Errors);
        var bad = Parse("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{port: http}]\n");
        var error = Assert.Single(bad.Errors);
        Assert.Equal(("spec.ports[0].port", new ResourceKey("Service", "default", "s")), (error.Field, error.Resource!.Value));
    }

    [Fact]
    public void Unknown_kinds_are_warnings_and_ignored()
    {
        var result = Parse("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n");
        Assert.Empty(result.Resources);
        Assert.Equal(ConfigSeverity.Warning, Assert.Single(result.Errors).Severity);
    }

    [Fact]
    public void Metallb_status_kinds_are_warnings_and_ignored()
    {
        var result = Parse("apiVersion: metallb.io/v1beta1\nkind: ServiceBGPStatus\nmetadata: {name: bgp-x}\nstatus: {node: a}\n");
        Assert.Empty(result.Resources);
        Assert.Equal(ConfigSeverity.Warning, Assert.Single(result.Errors).Severity);
    }

    [Theory]
    [InlineData("metallb.io/v1beta1", "AddressPool")]
    [InlineData("metallb.io/v1alpha1", "IPAddressPool")]
    [InlineData("metallb.io/v1beta3", "BGPPeer")]
    public void Unknown_metallb_kinds_are_errors(string apiVersion, string kind)
    {
        var result = Parse($"apiVersion: {apiVersion}\nkind: {kind}\nmetadata: {{name: x}}\n");
        Assert.Empty(result.Resources);
        var error = Assert.Single(result.Errors);
        Assert.Equal((ConfigSeverity.Error, "kind"), (error.Severity, error.Field));
    }

    [Theory]
    [InlineData("kind: Service\nmetadata: {name: s}\n", "apiVersion")]
    [InlineData("apiVersion: v1\nmetadata: {name: s}\n", "kind")]
    [InlineData("apiVersion: v1\nkind: Service\nmetadata: {namespace: x}\n", "metadata.name")]
    [InlineData("- a\n- b\n", null)]
    public void Objects_that_cannot_be_identified_are_errors(string yaml, string? field)
    {
        var result = Parse(yaml);
        Assert.Empty(result.Resources);
        var error = Assert.Single(result.Errors);
        Assert.Equal((ConfigSeverity.Error, field), (error.Severity, error.Field));
    }

    [Theory]
    [InlineData("apiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n", 5)]
    [InlineData("apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  name: b\n", 5)]
    [InlineData("apiVersion: v1\nkind: Service\n  bad: indent\n", 3)]
    public void Yaml_syntax_error_makes_the_file_unreadable_with_line_and_column(string yaml, int line)
    {
        var result = Parse("apiVersion: v1\nkind: Node\nmetadata: {name: n}\n---\n" + yaml.Replace("\n", "\n", StringComparison.Ordinal));
        Assert.True(result.Unreadable);
        Assert.Empty(result.Resources);
        var error = Assert.Single(result.Errors);
        Assert.Equal("dir/test.yaml", error.Origin);
        Assert.Equal(line + 4, error.Line);
        Assert.NotNull(error.Column);
        Assert.StartsWith("YAML syntax error", error.Message, StringComparison.Ordinal);
        Assert.Contains($"dir/test.yaml:{line + 4}:", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Scalars_follow_the_yaml_core_schema()
    {
        var result = Parse("""
            apiVersion: v1
            kind: Service
            metadata:
              name: s
              annotations: {a: "123", b: '64512:100', c: 203.0.113.1, d: !!str 42}
            spec: {type: LoadBalancer, ports: [{port: 80}], allocateLoadBalancerNodePorts: false}
            """);
        Assert.Empty(result.Errors);
        var service = Assert.IsType<V1Service>(Assert.Single(result.Resources).Resource);
        Assert.Equal("123", service.Metadata.Annotations["a"]);
        Assert.Equal("64512:100", service.Metadata.Annotations["b"]);
        Assert.Equal("203.0.113.1", service.Metadata.Annotations["c"]);
        Assert.Equal("42", service.Metadata.Annotations["d"]);
        Assert.Equal(80, service.Spec.Ports[0].Port);
        Assert.False(service.Spec.AllocateLoadBalancerNodePorts);
    }

    [Fact]
    public void Anchors_aliases_and_lists_are_supported()
    {
        var result = Parse("""
            apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: Node
              metadata: {name: a, labels: &labels {zone: x}}
            - apiVersion: v1
              kind: Node
              metadata: {name: b, labels: *labels}
            """);
        Assert.Empty(result.Errors);
        Assert.Equal(["a", "b"], result.Resources.Select(r => r.Key.Name));
        Assert.All(result.Resources, r => Assert.Equal("x", ((V1Node)r.Resource!).Metadata.Labels["zone"]));
    }

    [Fact]
    public void Json_objects_from_an_api_parse_like_yaml_documents()
    {
        var json = System.Text.Json.Nodes.JsonNode.Parse("""{"apiVersion":"metallb.io/v1beta2","kind":"BGPPeer","metadata":{"name":"p","namespace":"metallb-system"},"spec":{"myASN":1,"peerASN":2,"peerAddress":"198.18.0.1"}}""");
        var result = ManifestParser.ParseObject("kubernetes", json, new ConfigOptions());
        Assert.Empty(result.Errors);
        var raw = Assert.Single(result.Resources);
        Assert.Equal((new ResourceKey("BGPPeer", "metallb-system", "p"), "kubernetes", (int?)null), (raw.Key, raw.Origin, raw.Line));
        Assert.Equal(2u, Assert.IsType<BGPPeer>(raw.Resource).Spec.PeerASN);
    }

    [Fact]
    public void Secret_data_is_base64_decoded()
    {
        var result = Parse("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/basic-auth\ndata: {password: aGVsbG8=}\n");
        var secret = Assert.IsType<V1Secret>(Assert.Single(result.Resources).Resource);
        Assert.Equal("hello"u8.ToArray(), secret.Data["password"]);
    }
}
