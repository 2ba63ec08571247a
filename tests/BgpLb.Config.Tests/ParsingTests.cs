using System.Net;
using System.Text.Json;
using BgpLb.Config.Resources;

namespace BgpLb.Config.Tests;

public class ParsingTests
{
    private static ManifestParseResult Parse(string yaml) => ManifestParser.Parse("dir/test.yaml", yaml, new ConfigOptions());

    private static T Single<T>(ManifestParseResult result) => Assert.IsType<T>(Assert.Single(result.Objects).Value);

    private static TSpec Spec<TSpec>(ManifestParseResult result) => Assert.IsType<TSpec>(Single<MetalLbObject>(result).Spec);

    [Fact]
    public void Multi_document_file_yields_model_objects_keyed_by_apiVersion_and_kind()
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
        var objects = result.Objects.ToList();
        Assert.Equal(
            [new ResourceKey("Service", "default", "web"), new ResourceKey("IPAddressPool", "metallb-system", "pool"), new ResourceKey("Node", "", "node-a")],
            objects.Select(o => o.Key));
        var service = Assert.IsType<ServiceInfo>(objects[0].Value);
        Assert.Equal(("default/web", "default", "web"), (service.Key, service.Namespace, service.Name));
        var pool = Assert.IsType<MetalLbObject>(objects[1].Value);
        Assert.Equal(["203.0.113.0/28"], Assert.IsType<IPAddressPoolSpec>(pool.Spec).Addresses!);
        Assert.Equal(("dir/test.yaml", (int?)6), (pool.Origin, pool.Line));
        Assert.Equal("node-a", Assert.IsType<NodeInfo>(objects[2].Value).Name);
        // The trailing "---" opens an empty document: it defines nothing.
        Assert.Equal([1, 6, 11], result.Documents.Where(d => d.Keys.Length > 0).Select(d => d.Line));
        Assert.All(result.Documents, d => Assert.NotNull(d.Projection));
    }

    [Fact]
    public void Equal_documents_have_equal_fingerprints_and_a_changed_or_moved_one_does_not()
    {
        const string node = "apiVersion: v1\nkind: Node\nmetadata: {name: a}\n";
        var first = Assert.Single(Parse(node).Documents).Fingerprint;
        Assert.Equal(first, Assert.Single(Parse(node).Documents).Fingerprint);
        Assert.NotEqual(first, Assert.Single(Parse(node.Replace("name: a", "name: b", StringComparison.Ordinal)).Documents).Fingerprint);
        Assert.NotEqual(first, Assert.Single(Parse("\n" + node).Documents).Fingerprint);
    }

    [Fact]
    public void Known_documents_are_not_projected_again()
    {
        const string yaml = "apiVersion: v1\nkind: Node\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Node\nmetadata: {name: b}\n";
        var before = Parse(yaml).Documents;
        var known = before[0];
        var result = ManifestParser.Parse("dir/test.yaml", new MemoryStream(System.Text.Encoding.UTF8.GetBytes(yaml)), new ConfigOptions(),
            fingerprint => fingerprint == known.Fingerprint ? known.Keys : null);
        Assert.Null(result.Documents[0].Projection);
        Assert.Equal(known.Keys, result.Documents[0].Keys);
        Assert.NotNull(result.Documents[1].Projection);
        Assert.Equal(["b"], result.Objects.Select(o => o.Key.Name));
    }

    [Fact]
    public void Namespace_defaults_follow_the_configured_metallb_namespace()
    {
        var result = ManifestParser.Parse("f", "apiVersion: metallb.io/v1beta1\nkind: Community\nmetadata: {name: c}\n", new ConfigOptions { MetalLbNamespace = "lb" });
        Assert.Equal(new ResourceKey("Community", "lb", "c"), Assert.Single(result.Objects).Key);
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
        var spec = Spec<BGPPeerSpec>(result);
        Assert.Equal((64513u, "external", "198.18.0.1", "198.18.0.2", 1179), (spec.MyASN!.Value, spec.DynamicASN, spec.PeerAddress, spec.SourceAddress, spec.PeerPort!.Value));
        Assert.Equal(("9s", "3s", "5s", "198.18.0.2"), (spec.HoldTime, spec.KeepaliveTime, spec.ConnectTime, spec.RouterID));
        Assert.Equal(("s", "metallb-system", "fast"), (spec.PasswordSecret!.Name, spec.PasswordSecret.Namespace, spec.BfdProfile));
        Assert.True(spec.EnableGracefulRestart && spec.EbgpMultiHop && spec.DisableMP && spec.DualStackAddressFamily);
        var selector = Assert.Single(spec.NodeSelectors!);
        Assert.Equal("a", selector.MatchLabels!["zone"]);
        Assert.Equal("In", selector.MatchExpressions![0].Operator);
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
        Assert.Equal(new ResourceKey("BGPPeer", "metallb-system", "old"), Assert.Single(result.Objects).Key);
        var spec = Spec<BGPPeerSpec>(result);
        Assert.Equal((64513u, 64512u, "198.18.0.1", "30s", "secret"), (spec.MyASN!.Value, spec.PeerASN!.Value, spec.PeerAddress, spec.HoldTime, spec.Password));
        var selector = Assert.Single(spec.NodeSelectors!);
        Assert.Equal("In", selector.MatchExpressions![0].Operator);
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
        AssertKnownButUnusable(result, new ResourceKey("BGPPeer", "metallb-system", "old"));
    }

    /// <summary>The document names the object but holds no usable version of it: its last good version can stay in force.</summary>
    private static void AssertKnownButUnusable(ManifestParseResult result, ResourceKey key)
    {
        Assert.Empty(result.Objects);
        var document = Assert.Single(result.Documents);
        Assert.Equal([key], document.Keys);
        Assert.Equal([key], document.Projection!.Invalid);
    }

    [Fact]
    public void Misspelt_spec_field_is_an_error_naming_file_object_and_field()
    {
        var result = Parse("apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: p}\nspec:\n  myASN: 1\n  peerASNN: 2\n");
        var error = Assert.Single(result.Errors);
        Assert.Equal(("dir/test.yaml", new ResourceKey("BGPPeer", "metallb-system", "p"), "spec.peerASNN"), (error.Origin, error.Resource!.Value, error.Field));
        Assert.Contains("unknown field 'peerASNN'", error.Message, StringComparison.Ordinal);
        AssertKnownButUnusable(result, new ResourceKey("BGPPeer", "metallb-system", "p"));
    }

    [Fact]
    public void Nested_type_errors_carry_the_json_path()
    {
        var result = Parse("apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p}\nspec:\n  addresses: [203.0.113.0/28]\n  serviceAllocation:\n    priority: high\n");
        var error = Assert.Single(result.Errors);
        Assert.Equal("spec.serviceAllocation.priority", error.Field);
        Assert.Equal("invalid value: expected an integer", error.Message);
    }

    [Theory] // fuzz/regressions/yaml/crash-a2ecc402…: a null community reached the validator, which threw
    [InlineData("BGPAdvertisement", "communities:\n    - \n    - 65535:65281", "spec.communities[0]")]
    [InlineData("BGPAdvertisement", "peers: [router-a, null]", "spec.peers[1]")]
    [InlineData("Community", "communities:\n    - name: a\n      value: 1:1\n    -", "spec.communities[1]")]
    [InlineData("L2Advertisement", "nodeSelectors:\n    - matchExpressions:\n        - {key: a, operator: In, values: [~]}", "spec.nodeSelectors[0].matchExpressions[0].values[0]")]
    public void Null_list_item_is_an_error_naming_it(string kind, string spec, string field)
    {
        var result = Parse($"apiVersion: metallb.io/v1beta1\nkind: {kind}\nmetadata: {{name: x}}\nspec:\n  {spec}\n");
        var error = Assert.Single(result.Errors);
        Assert.Equal(field, error.Field);
        Assert.Equal("invalid value: a list item must not be null", error.Message);
        AssertKnownButUnusable(result, new ResourceKey(kind, "metallb-system", "x"));
    }

    [Fact]
    public void Unknown_top_level_field_of_a_crd_is_an_error()
    {
        var result = Parse("apiVersion: metallb.io/v1beta1\nkind: Community\nmetadata: {name: c}\nspecs: {}\n");
        Assert.Equal("specs", Assert.Single(result.Errors).Field);
        AssertKnownButUnusable(result, new ResourceKey("Community", "metallb-system", "c"));
    }

    [Fact]
    public void Builtin_kinds_are_lenient_but_type_errors_are_reported()
    {
        var ok = Parse("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {type: LoadBalancer, futureField: 1}\n");
        Assert.Empty(ok.Errors);
        Assert.IsType<ServiceInfo>(Assert.Single(ok.Objects).Value);
        var bad = Parse("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  type: LoadBalancer\n  ports: [{port: http}]\n");
        var error = Assert.Single(bad.Errors);
        Assert.Equal(("spec.ports[0].port", new ResourceKey("Service", "default", "s")), (error.Field, error.Resource!.Value));
        AssertKnownButUnusable(bad, new ResourceKey("Service", "default", "s"));
    }

    [Theory]
    [InlineData("apiVersion: v1\nkind: Node\nmetadata: {name: n, labels: {zone: [a]}}\n", "metadata.labels.zone")]
    [InlineData("apiVersion: v1\nkind: Node\nmetadata: {name: n}\nstatus: {conditions: yes}\n", "status.conditions")]
    [InlineData("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e}\nendpoints: [{conditions: {ready: 'yes'}}]\n", "endpoints[0].conditions.ready")]
    [InlineData("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: '%%%'}\n", "data.password")]
    [InlineData("apiVersion: v1\nkind: Service\nmetadata: {name: s, annotations: {a: 1}}\nspec: {type: LoadBalancer}\n", "metadata.annotations.a")]
    [InlineData("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {type: LoadBalancer, ports: [{port: '80'}]}\n", "spec.ports[0].port")]
    public void Type_errors_in_fields_bgplb_reads_name_the_field(string yaml, string field)
    {
        var result = Parse(yaml);
        var error = Assert.Single(result.Errors);
        Assert.Equal((ConfigSeverity.Error, field), (error.Severity, error.Field));
        Assert.Empty(result.Objects);
        Assert.Single(Assert.Single(result.Documents).Projection!.Invalid);
    }

    [Theory]
    // Kubernetes' limits: at the limit accepted, one past it rejected naming the field.
    [InlineData("metadata: {name: n, labels: {zone: VALUE63}}", "metadata: {name: n, labels: {zone: VALUE64}}", "metadata.labels.zone", "label value is 64 characters, more than Kubernetes' limit of 63")]
    [InlineData("metadata: {name: n, labels: {KEY63: a}}", "metadata: {name: n, labels: {KEY64: a}}", "metadata.labels.KEY64", "label key is longer than Kubernetes' limit (253 characters of prefix, 63 of name)")]
    [InlineData("metadata: {name: n, labels: {PREFIX253/a: b}}", "metadata: {name: n, labels: {PREFIX254/a: b}}", "metadata.labels.PREFIX254/a", "label key is longer than Kubernetes' limit (253 characters of prefix, 63 of name)")]
    [InlineData("metadata: {name: NAME253}", "metadata: {name: NAME254}", "metadata.name", "Node metadata.name is longer than Kubernetes' limit of 253 characters")]
    public void Metadata_over_kubernetes_limits_is_an_error_naming_the_field(string atLimit, string overLimit, string field, string message)
    {
        static string Expand(string text) => text
            .Replace("VALUE63", new string('v', 63), StringComparison.Ordinal).Replace("VALUE64", new string('v', 64), StringComparison.Ordinal)
            .Replace("KEY63", new string('k', 63), StringComparison.Ordinal).Replace("KEY64", new string('k', 64), StringComparison.Ordinal)
            .Replace("PREFIX253", new string('p', 253), StringComparison.Ordinal).Replace("PREFIX254", new string('p', 254), StringComparison.Ordinal)
            .Replace("NAME253", new string('n', 253), StringComparison.Ordinal).Replace("NAME254", new string('n', 254), StringComparison.Ordinal);

        var ok = Parse($"apiVersion: v1\nkind: Node\n{Expand(atLimit)}\n");
        Assert.Empty(ok.Errors);
        Assert.Single(ok.Objects);

        var bad = Parse($"apiVersion: v1\nkind: Node\n{Expand(overLimit)}\n");
        var error = Assert.Single(bad.Errors);
        Assert.Equal((ConfigSeverity.Error, Expand(field), message), (error.Severity, error.Field, error.Message));
        Assert.Empty(bad.Objects);
    }

    [Fact]
    public void Annotations_over_256_KiB_make_the_object_unusable()
    {
        // The key "a" is one byte; the API server counts keys and values in UTF-8.
        static string Service(int valueBytes) =>
            $"apiVersion: v1\nkind: Service\nmetadata: {{name: s, annotations: {{a: '{new string('x', valueBytes - 2)}é'}}}}\nspec: {{type: LoadBalancer}}\n";

        var ok = Parse(Service(256 * 1024 - 1));
        Assert.Empty(ok.Errors);
        Assert.Single(ok.Objects);

        var bad = Parse(Service(256 * 1024));
        var error = Assert.Single(bad.Errors);
        Assert.Equal(("metadata.annotations", "annotations are 262145 bytes, more than Kubernetes' limit of 262144"), (error.Field, error.Message));
        AssertKnownButUnusable(bad, new ResourceKey("Service", "default", "s"));
    }

    [Fact]
    public void Unknown_kinds_are_warnings_and_ignored()
    {
        var result = Parse("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n");
        Assert.Empty(result.Objects);
        Assert.Empty(Assert.Single(result.Documents).Keys);
        Assert.Equal(ConfigSeverity.Warning, Assert.Single(result.Errors).Severity);
    }

    [Fact]
    public void Metallb_status_kinds_are_warnings_and_ignored()
    {
        var result = Parse("apiVersion: metallb.io/v1beta1\nkind: ServiceBGPStatus\nmetadata: {name: bgp-x}\nstatus: {node: a}\n");
        Assert.Empty(result.Objects);
        Assert.Equal(ConfigSeverity.Warning, Assert.Single(result.Errors).Severity);
    }

    [Theory]
    [InlineData("metallb.io/v1beta1", "AddressPool")]
    [InlineData("metallb.io/v1alpha1", "IPAddressPool")]
    [InlineData("metallb.io/v1beta3", "BGPPeer")]
    public void Unknown_metallb_kinds_are_errors(string apiVersion, string kind)
    {
        var result = Parse($"apiVersion: {apiVersion}\nkind: {kind}\nmetadata: {{name: x}}\n");
        Assert.Empty(result.Objects);
        var error = Assert.Single(result.Errors);
        Assert.Equal((ConfigSeverity.Error, "kind"), (error.Severity, error.Field));
    }

    [Theory]
    [InlineData("kind: Service\nmetadata: {name: s}\n", "apiVersion")]
    [InlineData("apiVersion: v1\nmetadata: {name: s}\n", "kind")]
    [InlineData("apiVersion: v1\nkind: Service\nmetadata: {namespace: x}\n", "metadata.name")]
    [InlineData("apiVersion: v1\nkind: Service\nmetadata: {name: [s]}\n", "metadata.name")]
    [InlineData("- a\n- b\n", null)]
    public void Objects_that_cannot_be_identified_are_errors(string yaml, string? field)
    {
        var result = Parse(yaml);
        Assert.Empty(result.Objects);
        Assert.Empty(Assert.Single(result.Documents).Keys);
        var error = Assert.Single(result.Errors);
        Assert.Equal((ConfigSeverity.Error, field), (error.Severity, error.Field));
    }

    [Theory]
    [InlineData("apiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n", 5)]
    [InlineData("apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  name: b\n", 5)]
    [InlineData("apiVersion: v1\nkind: Service\n  bad: indent\n", 3)]
    public void Yaml_syntax_error_makes_the_file_unreadable_with_line_and_column(string yaml, int line)
    {
        var result = Parse("apiVersion: v1\nkind: Node\nmetadata: {name: n}\n---\n" + yaml);
        Assert.True(result.Unreadable);
        Assert.Empty(result.Documents);
        var error = Assert.Single(result.Errors);
        Assert.Equal("dir/test.yaml", error.Origin);
        Assert.Equal(line + 4, error.Line);
        Assert.NotNull(error.Column);
        Assert.StartsWith("YAML syntax error", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("(Line:", error.Message, StringComparison.Ordinal);
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
              labels: {a: "123", b: '64512:100', c: 203.0.113.1, d: !!str 42, e: ''}
              annotations: {metallb.io/allow-shared-ip: "007", metallb.io/loadBalancerIPs: 203.0.113.1}
            spec: {type: LoadBalancer, ports: [{port: 80}, {port: +443, protocol: UDP}]}
            """);
        Assert.Empty(result.Errors);
        var service = Single<ServiceInfo>(result);
        Assert.Equal(("123", "64512:100", "203.0.113.1", "42", ""), (service.Labels["a"], service.Labels["b"], service.Labels["c"], service.Labels["d"], service.Labels["e"]));
        Assert.Equal("007", service.SharingKey);
        Assert.Equal([IPAddress.Parse("203.0.113.1")], service.RequestedAddresses.ToArray());
        Assert.Equal([new ServicePort("TCP", 80), new ServicePort("UDP", 443)], service.Ports.ToArray());
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
        Assert.Equal(["a", "b"], result.Objects.Select(o => o.Key.Name));
        Assert.All(result.Objects, o => Assert.Equal("x", Assert.IsType<NodeInfo>(o.Value).Labels["zone"]));
        Assert.Equal([new ResourceKey("Node", "", "a"), new ResourceKey("Node", "", "b")], Assert.Single(result.Documents).Keys);
    }

    [Fact]
    public void Json_objects_from_an_api_project_like_yaml_documents()
    {
        using var json = JsonDocument.Parse("""{"apiVersion":"metallb.io/v1beta2","kind":"BGPPeer","metadata":{"name":"p","namespace":"metallb-system"},"spec":{"myASN":1,"peerASN":2,"peerAddress":"198.18.0.1"}}""");
        var projection = new Projection();
        ObjectProjector.Project("kubernetes", null, json.RootElement, new ConfigOptions(), projection);
        Assert.Empty(projection.Problems);
        var source = Assert.Single(projection.Objects);
        var peer = Assert.IsType<MetalLbObject>(source.Value);
        Assert.Equal((new ResourceKey("BGPPeer", "metallb-system", "p"), "kubernetes", (int?)null), (source.Key, peer.Origin, peer.Line));
        Assert.Equal(2u, Assert.IsType<BGPPeerSpec>(peer.Spec).PeerASN);

        var yaml = Assert.IsType<MetalLbObject>(Assert.Single(ManifestParser.Parse("f", "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: p, namespace: metallb-system}\nspec: {myASN: 1, peerASN: 2, peerAddress: 198.18.0.1}\n", new ConfigOptions()).Objects).Value);
        Assert.Equal(yaml.Content, peer.Content);
    }

    [Fact]
    public void Api_list_items_without_apiVersion_and_kind_take_the_defaults()
    {
        using var json = JsonDocument.Parse("""{"metadata":{"name":"n","labels":{"zone":"a"}},"status":{"addresses":[{"type":"InternalIP","address":"198.18.0.2"}]}}""");
        var projection = new Projection();
        ObjectProjector.Project("kubernetes", null, json.RootElement, new ConfigOptions(), projection, ("v1", "Node"));
        Assert.Empty(projection.Problems);
        var node = Assert.IsType<NodeInfo>(Assert.Single(projection.Objects).Value);
        Assert.Equal(("n", "a", IPAddress.Parse("198.18.0.2")), (node.Name, node.Labels["zone"], node.InternalAddress));

        var missing = new Projection();
        ObjectProjector.Project("kubernetes", null, json.RootElement, new ConfigOptions(), missing);
        Assert.Equal("apiVersion", Assert.Single(missing.Problems).Field);
    }

    [Fact]
    public void Secret_data_is_base64_decoded_and_string_data_wins()
    {
        var secret = Single<SecretInfo>(Parse("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/basic-auth\ndata: {password: aGVsbG8=}\n"));
        Assert.Equal(("default", "s", "kubernetes.io/basic-auth", "hello"), (secret.Namespace, secret.Name, secret.Type, secret.Password));
        var both = Single<SecretInfo>(Parse("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: aGVsbG8=}\nstringData: {password: plain}\n"));
        Assert.Equal("plain", both.Password);
        Assert.Null(Single<SecretInfo>(Parse("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {username: aGVsbG8=}\n")).Password);
    }

    [Fact]
    public void Namespaces_keep_their_labels()
    {
        var ns = Single<NamespaceInfo>(Parse("apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a, labels: {team: a}}\n"));
        Assert.Equal(("team-a", "a"), (ns.Name, ns.Labels["team"]));
        Assert.Equal(new ResourceKey("Namespace", "", "team-a"), Assert.Single(Parse("apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n").Objects).Key);
    }
}
