using System.Diagnostics;
using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using BgpLb.Config;
using BgpLb.Config.Resources;

namespace BgpLb.Kubernetes.Tests;

/// <summary>
/// The deployable manifests in config/ and the examples, checked without a cluster: every kustomization resource parses
/// into named objects, the CRDs carry MetalLB's versions and the same fields as the parser's model, and every example
/// metallb.io object validates against its CRD schema.
/// </summary>
public sealed class ManifestTests
{
    private static readonly string Root = Yaml.RepositoryRoot();
    private static readonly string ConfigDirectory = Path.Combine(Root, "config");
    private static readonly HashSet<string> ClusterScoped = ["Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "ValidatingWebhookConfiguration"];
    /// <summary>Not part of config/'s kustomization: the monitoring objects (their own, needing the Prometheus Operator) and the generated single file.</summary>
    private static readonly string[] SeparateDirectories = ["prometheus/", "manifests/"];

    private static List<string> KustomizationResources()
    {
        var kustomization = (JsonObject)Yaml.Documents(Path.Combine(ConfigDirectory, "kustomization.yaml")).Single()!;
        return [.. kustomization["resources"]!.AsArray().Select(r => r!.GetValue<string>())];
    }

    private static List<JsonObject> RenderedObjects() =>
        [.. KustomizationResources().SelectMany(r => Yaml.Documents(Path.Combine(ConfigDirectory, r))).OfType<JsonObject>()];

    private static Dictionary<string, JsonObject> Crds() =>
        RenderedObjects().Where(o => o["kind"]!.GetValue<string>() == "CustomResourceDefinition")
            .ToDictionary(o => o["spec"]!["names"]!["kind"]!.GetValue<string>());

    private static JsonObject Version(JsonObject crd, string version) =>
        (JsonObject)crd["spec"]!["versions"]!.AsArray().Single(v => v!["name"]!.GetValue<string>() == version)!;

    private static JsonObject Schema(JsonObject crd, string version) => (JsonObject)Version(crd, version)["schema"]!["openAPIV3Schema"]!;

    [Fact]
    public void Kustomization_lists_every_manifest_and_each_object_is_complete()
    {
        var resources = KustomizationResources();
        var onDisk = Directory.EnumerateFiles(ConfigDirectory, "*.yaml", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(ConfigDirectory, f))
            .Where(f => f != "kustomization.yaml" && !SeparateDirectories.Any(d => f.StartsWith(d, StringComparison.Ordinal)));
        Assert.Equal(onDisk.Order(StringComparer.Ordinal), resources.Order(StringComparer.Ordinal));

        var objects = RenderedObjects();
        Assert.Equal(26, objects.Count);
        foreach (var obj in objects)
        {
            var kind = obj["kind"]?.GetValue<string>();
            var name = obj["metadata"]?["name"]?.GetValue<string>();
            Assert.False(string.IsNullOrEmpty(obj["apiVersion"]?.GetValue<string>()), $"{kind} {name}: no apiVersion");
            Assert.False(string.IsNullOrEmpty(kind), $"object {name}: no kind");
            Assert.False(string.IsNullOrEmpty(name), $"{kind}: no metadata.name");
            Assert.Equal(ClusterScoped.Contains(kind!) ? null : "metallb-system", obj["metadata"]!["namespace"]?.GetValue<string>());
        }
        Assert.Equal(objects.Count, objects.Select(o => (o["kind"]!.GetValue<string>(), o["metadata"]!["name"]!.GetValue<string>())).Distinct().Count());
    }

    [KubectlFact]
    public void Kubectl_renders_the_same_objects()
    {
        var kubectl = KubectlFactAttribute.Kubectl!;
        var start = new ProcessStartInfo(kubectl, ["kustomize", ConfigDirectory]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, error);
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, output);
            Assert.Equal(RenderedObjects().Count, Yaml.Documents(path).OfType<JsonObject>().Count());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Crds_have_metallb_versions_and_storage_flags()
    {
        var crds = Crds();
        Assert.Equal(
            ["BFDProfile", "BGPAdvertisement", "BGPPeer", "Community", "ConfigurationState", "IPAddressPool", "L2Advertisement", "ServiceBGPStatus", "ServiceL2Status"],
            crds.Keys.Order(StringComparer.Ordinal));
        foreach (var (kind, crd) in crds)
        {
            Assert.Equal("metallb.io", crd["spec"]!["group"]!.GetValue<string>());
            Assert.Equal("Namespaced", crd["spec"]!["scope"]!.GetValue<string>());
            Assert.Equal($"{crd["spec"]!["names"]!["plural"]}.metallb.io", crd["metadata"]!["name"]!.GetValue<string>());
            var versions = crd["spec"]!["versions"]!.AsArray();
            Assert.Single(versions, v => v!["storage"]!.GetValue<bool>());
            Assert.All(versions, v => Assert.True(v!["served"]!.GetValue<bool>()));
            var expected = kind == "BGPPeer" ? new[] { "v1beta1", "v1beta2" } : ["v1beta1"];
            Assert.Equal(expected, versions.Select(v => v!["name"]!.GetValue<string>()));
            Assert.All(versions, v => Assert.NotNull(v!["subresources"]?["status"]));
        }
        Assert.False(Version(crds["BGPPeer"], "v1beta1")["storage"]!.GetValue<bool>());
        Assert.True(Version(crds["BGPPeer"], "v1beta2")["storage"]!.GetValue<bool>());
        Assert.Equal(["Address", "ASN", "BFD Profile", "Multi Hops", "Age"],
            Version(crds["BGPPeer"], "v1beta2")["additionalPrinterColumns"]!.AsArray().Select(c => c!["name"]!.GetValue<string>()));
    }

    public static TheoryData<string, string, Type> SpecModels => new()
    {
        { "IPAddressPool", "v1beta1", typeof(IPAddressPoolSpec) },
        { "BGPPeer", "v1beta1", typeof(BGPPeerV1Beta1Spec) },
        { "BGPPeer", "v1beta2", typeof(BGPPeerSpec) },
        { "BGPAdvertisement", "v1beta1", typeof(BGPAdvertisementSpec) },
        { "L2Advertisement", "v1beta1", typeof(L2AdvertisementSpec) },
        { "Community", "v1beta1", typeof(CommunitySpec) },
        { "BFDProfile", "v1beta1", typeof(BFDProfileSpec) },
    };

    [Theory]
    [MemberData(nameof(SpecModels))]
    public void Crd_spec_fields_match_the_parser_model(string kind, string version, Type model)
    {
        var schemaFields = Schema(Crds()[kind], version)["properties"]!["spec"]!["properties"]!.AsObject().Select(p => p.Key);
        var modelFields = model.GetProperties().Select(p => p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name).OfType<string>();
        Assert.Equal(modelFields.Order(StringComparer.Ordinal), schemaFields.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Every_example_metallb_object_validates_against_its_crd_schema()
    {
        var crds = Crds();
        var validated = 0;
        foreach (var file in Directory.EnumerateFiles(Path.Combine(Root, "examples"), "*.yaml", SearchOption.AllDirectories))
        {
            foreach (var obj in Yaml.Documents(file).OfType<JsonObject>())
            {
                var apiVersion = obj["apiVersion"]!.GetValue<string>();
                if (!apiVersion.StartsWith("metallb.io/", StringComparison.Ordinal))
                {
                    continue;
                }
                var crd = crds[obj["kind"]!.GetValue<string>()];
                var errors = SchemaValidator.Validate(obj, Schema(crd, apiVersion["metallb.io/".Length..]));
                Assert.True(errors.Count == 0, $"{file}: {obj["kind"]} {obj["metadata"]!["name"]}: {string.Join("; ", errors)}");
                validated++;
            }
        }
        Assert.True(validated >= 5, $"only {validated} example objects found");
    }

    [Theory]
    [InlineData("IPAddressPool", "v1beta1", """{"spec":{"adresses":["203.0.113.0/28"]}}""", "spec.adresses: unknown field")]
    [InlineData("IPAddressPool", "v1beta1", """{"spec":{}}""", "spec: missing required field 'addresses'")]
    [InlineData("IPAddressPool", "v1beta1", """{"spec":{"addresses":"203.0.113.0/28"}}""", "spec.addresses: expected array")]
    [InlineData("BGPPeer", "v1beta2", """{"spec":{"myASN":"64512"}}""", "spec.myASN: expected integer")]
    [InlineData("BGPPeer", "v1beta2", """{"spec":{"myASN":4294967296}}""", "spec.myASN: 4294967296 is above the maximum")]
    [InlineData("BGPPeer", "v1beta2", """{"spec":{"myASN":1,"peerPort":16385}}""", "spec.peerPort: 16385 is above the maximum")]
    [InlineData("BGPPeer", "v1beta2", """{"spec":{"myASN":1,"peerPort":0}}""", "spec.peerPort: 0 is below the minimum")]
    [InlineData("BGPPeer", "v1beta2", """{"spec":{"myASN":1,"dynamicASN":"both"}}""", "spec.dynamicASN: \"both\" is not one of")]
    [InlineData("BGPPeer", "v1beta1", """{"spec":{"myASN":1,"peerASN":2,"peerAddress":"198.18.0.1","dynamicASN":"internal"}}""", "spec.dynamicASN: unknown field")]
    [InlineData("BGPAdvertisement", "v1beta1", """{"spec":{"aggregationLength":33}}""", "spec.aggregationLength: 33 is above the maximum")]
    [InlineData("BGPAdvertisement", "v1beta1", """{"spec":{"nodeSelectors":[{"matchLabels":{"a":1}}]}}""", "spec.nodeSelectors[0].matchLabels.a: expected string")]
    [InlineData("L2Advertisement", "v1beta1", """{"spec":{"preferredNodeSelectors":[{"weight":101,"preference":{}}]}}""", "spec.preferredNodeSelectors[0].weight: 101 is above the maximum")]
    [InlineData("BFDProfile", "v1beta1", """{"spec":{"detectMultiplier":1}}""", "spec.detectMultiplier: 1 is below the minimum")]
    [InlineData("ConfigurationState", "v1beta1", """{"status":{"result":"Fine"}}""", "status.result: \"Fine\" is not one of")]
    public void Schema_rejects_bad_objects(string kind, string version, string json, string expected)
    {
        var errors = SchemaValidator.Validate(JsonNode.Parse(json), Schema(Crds()[kind], version));
        Assert.Contains(errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Schema_accepts_label_selector_maps_and_status_objects()
    {
        var crds = Crds();
        Assert.Empty(SchemaValidator.Validate(JsonNode.Parse("""
            {"apiVersion":"metallb.io/v1beta2","kind":"BGPPeer","metadata":{"name":"p","anything":{"goes":1}},
             "spec":{"myASN":4294967295,"peerASN":1,"peerAddress":"198.18.0.1","dynamicASN":"external",
                     "nodeSelectors":[{"matchLabels":{"x":"y"},"matchExpressions":[{"key":"k","operator":"In","values":["v"]}]}]}}
            """), Schema(crds["BGPPeer"], "v1beta2")));
        Assert.Empty(SchemaValidator.Validate(JsonNode.Parse("""
            {"spec":{},"status":{"node":"n","serviceName":"s","serviceNamespace":"d","peers":["a"]}}
            """), Schema(crds["ServiceBGPStatus"], "v1beta1")));
        Assert.Empty(SchemaValidator.Validate(JsonNode.Parse("""
            {"spec":{},"status":{"node":"n","serviceName":"s","serviceNamespace":"d","interfaces":[{"name":"eth0"}]}}
            """), Schema(crds["ServiceL2Status"], "v1beta1")));
    }

    [Fact]
    public void Workloads_follow_the_security_and_probe_rules()
    {
        var objects = RenderedObjects();
        var controller = objects.Single(o => o["kind"]!.GetValue<string>() == "Deployment");
        var speaker = objects.Single(o => o["kind"]!.GetValue<string>() == "DaemonSet");

        Assert.Equal(1, controller["spec"]!["replicas"]!.GetValue<long>());
        var controllerPod = controller["spec"]!["template"]!["spec"]!;
        Assert.True(controllerPod["securityContext"]!["runAsNonRoot"]!.GetValue<bool>());
        var controllerContainer = controllerPod["containers"]![0]!;
        Assert.True(controllerContainer["securityContext"]!["readOnlyRootFilesystem"]!.GetValue<bool>());
        Assert.False(controllerContainer["securityContext"]!["allowPrivilegeEscalation"]!.GetValue<bool>());
        Assert.Equal(["ALL"], controllerContainer["securityContext"]!["capabilities"]!["drop"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.Null(controllerContainer["securityContext"]!["capabilities"]!["add"]);
        Assert.Contains("--in-cluster", controllerContainer["args"]!.AsArray().Select(a => a!.GetValue<string>()));

        var speakerPod = speaker["spec"]!["template"]!["spec"]!;
        Assert.True(speakerPod["hostNetwork"]!.GetValue<bool>());
        var speakerContainer = speakerPod["containers"]![0]!;
        Assert.Equal(["NET_RAW", "NET_ADMIN"], speakerContainer["securityContext"]!["capabilities"]!["add"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.Equal(["ALL"], speakerContainer["securityContext"]!["capabilities"]!["drop"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.Contains("--in-cluster", speakerContainer["args"]!.AsArray().Select(a => a!.GetValue<string>()));
        var node = speakerContainer["env"]!.AsArray().Single(e => e!["name"]!.GetValue<string>() == "BGPLB_NODE")!;
        Assert.Equal("spec.nodeName", node["valueFrom"]!["fieldRef"]!["fieldPath"]!.GetValue<string>());

        foreach (var container in new[] { controllerContainer, speakerContainer })
        {
            var port = container["ports"]![0]!;
            Assert.Equal("monitoring", port["name"]!.GetValue<string>());
            Assert.Equal("/healthz", container["livenessProbe"]!["httpGet"]!["path"]!.GetValue<string>());
            Assert.Equal("/readyz", container["readinessProbe"]!["httpGet"]!["path"]!.GetValue<string>());
            Assert.Equal("monitoring", container["readinessProbe"]!["httpGet"]!["port"]!.GetValue<string>());
            Assert.NotNull(container["resources"]!["requests"]);
            Assert.NotNull(container["resources"]!["limits"]!["memory"]);
            var listen = container["args"]!.AsArray().Select(a => a!.GetValue<string>()).Single(a => a.StartsWith("--metrics-listen=", StringComparison.Ordinal));
            Assert.EndsWith(":" + port["containerPort"]!.GetValue<long>(), listen, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Rbac_grants_the_writers_their_verbs_and_nothing_on_services_to_the_speaker()
    {
        var objects = RenderedObjects();
        List<(string Group, string Resource, string Verb)> Rules(string kind, string name) =>
        [
            .. objects.Single(o => o["kind"]!.GetValue<string>() == kind && o["metadata"]!["name"]!.GetValue<string>() == name)["rules"]!.AsArray()
                .SelectMany(r => r!["apiGroups"]!.AsArray().SelectMany(g => r["resources"]!.AsArray().SelectMany(res => r["verbs"]!.AsArray()
                    .Select(v => (g!.GetValue<string>(), res!.GetValue<string>(), v!.GetValue<string>()))))),
        ];
        var controller = Rules("ClusterRole", "bgplb-controller").Concat(Rules("Role", "bgplb-controller")).ToList();
        var speaker = Rules("ClusterRole", "bgplb-speaker").Concat(Rules("Role", "bgplb-speaker")).ToList();

        Assert.Contains(("", "services/status", "patch"), controller);
        Assert.Contains(("", "services", "patch"), controller);
        Assert.Contains(("", "events", "create"), controller);
        Assert.Contains(("coordination.k8s.io", "leases", "update"), controller);
        Assert.Contains(("metallb.io", "configurationstates/status", "update"), controller);
        Assert.Contains(("metallb.io", "ipaddresspools/status", "patch"), controller);
        Assert.Contains(("", "configmaps", "watch"), controller); // metallb-excludel2: every component reads the same kinds
        Assert.Contains(("", "configmaps", "watch"), speaker);
        Assert.DoesNotContain(controller, r => r.Verb == "*" || r.Resource == "*");

        Assert.Contains(("discovery.k8s.io", "endpointslices", "watch"), speaker);
        Assert.Contains(("metallb.io", "servicebgpstatuses", "create"), speaker);
        Assert.Contains(("metallb.io", "servicel2statuses/status", "update"), speaker);
        Assert.DoesNotContain(speaker, r => r.Resource.StartsWith("services", StringComparison.Ordinal) && r.Verb is not ("get" or "list" or "watch"));
        Assert.DoesNotContain(speaker, r => r.Verb == "*" || r.Resource == "*");
        Assert.All(speaker.Where(r => r.Resource is "secrets" or "configmaps"), r => Assert.Contains(r.Verb, new[] { "get", "list", "watch" }));
        Assert.All(controller.Where(r => r.Resource == "configmaps"), r => Assert.Contains(r.Verb, new[] { "get", "list", "watch" }));
        // The controller writes one Secret, the webhook certificate (create cannot be limited to a name).
        Assert.Equal([("", "secrets", "create"), ("", "secrets", "update")],
            controller.Where(r => r.Resource == "secrets" && r.Verb is not ("get" or "list" or "watch")).Order());
    }
    [Fact]
    public void The_cli_roles_grant_what_bgplb_reads_and_nothing_more()
    {
        var objects = RenderedObjects();
        List<(string Group, string Resource, string Verb)> Rules(string kind) =>
        [
            .. objects.Single(o => o["kind"]!.GetValue<string>() == kind && o["metadata"]!["name"]!.GetValue<string>() == "bgplb-cli")["rules"]!.AsArray()
                .SelectMany(r => r!["apiGroups"]!.AsArray().SelectMany(g => r["resources"]!.AsArray().SelectMany(res => r["verbs"]!.AsArray()
                    .Select(v => (g!.GetValue<string>(), res!.GetValue<string>(), v!.GetValue<string>()))))),
        ];
        var clusterWide = Rules("ClusterRole");
        var inNamespace = Rules("Role");
        var role = objects.Single(o => o["kind"]!.GetValue<string>() == "Role" && o["metadata"]!["name"]!.GetValue<string>() == "bgplb-cli");
        Assert.Equal("metallb-system", role["metadata"]!["namespace"]!.GetValue<string>());

        // Every kind bgplb's KubeStore lists and watches, cluster-wide or in bgplb's namespace as it reads it.
        foreach (var kind in WatchedKind.All(new ConfigOptions { ReadSecrets = false }))
        {
            var rules = kind.Namespace is null ? clusterWide : inNamespace;
            Assert.Contains((kind.Group, kind.Plural, "list"), rules);
            Assert.Contains((kind.Group, kind.Plural, "watch"), rules);
        }
        // The speakers' /status through the pod proxy (KubernetesSpeakers), the Service's Events and the speakers' status objects (KubernetesRecords).
        Assert.Contains(("", "pods", "list"), inNamespace);
        Assert.Contains(("", "pods/proxy", "get"), inNamespace);
        Assert.Contains(("", "events", "list"), clusterWide);
        Assert.Contains(("metallb.io", "servicebgpstatuses", "list"), inNamespace);
        Assert.Contains(("metallb.io", "servicel2statuses", "list"), inNamespace);
        // Read-only, and never Secrets.
        Assert.All(clusterWide.Concat(inNamespace), r => Assert.Contains(r.Verb, new[] { "get", "list", "watch" }));
        Assert.DoesNotContain(clusterWide.Concat(inNamespace), r => r.Resource == "secrets" || r.Resource == "*");
        // No binding: operators bind the roles to their users.
        Assert.DoesNotContain(objects, o => o["kind"]!.GetValue<string>() is "ClusterRoleBinding" or "RoleBinding" && o["roleRef"]!["name"]!.GetValue<string>() == "bgplb-cli");
    }

    private static string Text(JsonNode? node) => node!.GetValue<string>();

    private static Dictionary<string, string> StringMap(JsonNode? node) =>
        node!.AsObject().ToDictionary(p => p.Key, p => Text(p.Value), StringComparer.Ordinal);

    private static JsonObject Workload(string component) =>
        RenderedObjects().Single(o => Text(o["kind"]) is "Deployment" or "DaemonSet" && Text(o["metadata"]!["name"]) == "bgplb-" + component);

    private static Dictionary<string, string> PodLabels(string component) => StringMap(Workload(component)["spec"]!["template"]!["metadata"]!["labels"]);

    private static bool Selects(Dictionary<string, string> selector, Dictionary<string, string> labels) =>
        selector.Count > 0 && selector.All(s => labels.TryGetValue(s.Key, out var value) && value == s.Value);

    private static void AssertSelects(Dictionary<string, string> selector, Dictionary<string, string> labels, string what) =>
        Assert.True(Selects(selector, labels), $"{what}: {string.Join(", ", selector)} does not select {string.Join(", ", labels)}");

    [Theory]
    [InlineData("speaker")]
    [InlineData("controller")]
    public void Pods_carry_metallb_labels_and_the_workload_selects_its_pods(string component)
    {
        var labels = PodLabels(component);
        Assert.Equal("metallb", labels["app"]);
        Assert.Equal(component, labels["component"]);
        Assert.Equal(component, labels["app.kubernetes.io/component"]);
        AssertSelects(StringMap(Workload(component)["spec"]!["selector"]!["matchLabels"]), labels, $"bgplb-{component} selector");
        // Only this component's pods: the other component's pods must not match.
        var other = component == "speaker" ? "controller" : "speaker";
        Assert.False(Selects(StringMap(Workload(component)["spec"]!["selector"]!["matchLabels"]), PodLabels(other)));
    }

    [Fact]
    public void Pod_and_service_monitors_select_the_pods_and_their_metrics_port()
    {
        var monitoring = Path.Combine(ConfigDirectory, "prometheus");
        var podMonitors = Yaml.Documents(Path.Combine(monitoring, "podmonitors.yaml")).OfType<JsonObject>().ToList();
        var serviceObjects = Yaml.Documents(Path.Combine(monitoring, "servicemonitors.yaml")).OfType<JsonObject>().ToList();
        var services = serviceObjects.Where(o => Text(o["kind"]) == "Service").ToList();
        var serviceMonitors = serviceObjects.Where(o => Text(o["kind"]) == "ServiceMonitor").ToList();
        Assert.Equal(2, podMonitors.Count);
        Assert.Equal(2, services.Count);
        Assert.Equal(2, serviceMonitors.Count);

        foreach (var component in new[] { "speaker", "controller" })
        {
            var pods = PodLabels(component);
            var container = Workload(component)["spec"]!["template"]!["spec"]!["containers"]![0]!;
            var ports = container["ports"]!.AsArray().ToDictionary(p => Text(p!["name"]), p => p!["containerPort"]!.GetValue<long>());

            var podMonitor = podMonitors.Single(m => Text(m["metadata"]!["name"]) == "bgplb-" + component)["spec"]!;
            AssertSelects(StringMap(podMonitor["selector"]!["matchLabels"]), pods, $"PodMonitor bgplb-{component}");
            Assert.Equal(["metallb-system"], podMonitor["namespaceSelector"]!["matchNames"]!.AsArray().Select(Text));
            var endpoint = podMonitor["podMetricsEndpoints"]![0]!;
            Assert.True(ports.ContainsKey(Text(endpoint["port"])), $"PodMonitor bgplb-{component}: no container port {endpoint["port"]}");
            Assert.Equal("/metrics", Text(endpoint["path"]));

            var service = services.Single(s => Text(s["metadata"]!["name"]) == $"bgplb-{component}-monitor");
            AssertSelects(StringMap(service["spec"]!["selector"]), pods, $"Service bgplb-{component}-monitor");
            var servicePort = service["spec"]!["ports"]![0]!;
            Assert.Equal(ports[Text(servicePort["targetPort"])], servicePort["port"]!.GetValue<long>());
            var serviceMonitor = serviceMonitors.Single(m => Text(m["metadata"]!["name"]) == "bgplb-" + component)["spec"]!;
            var serviceLabels = StringMap(service["metadata"]!["labels"]);
            AssertSelects(StringMap(serviceMonitor["selector"]!["matchLabels"]), serviceLabels, $"ServiceMonitor bgplb-{component}");
            // The other component's Service must not be scraped by this monitor.
            var otherService = services.Single(s => s != service);
            Assert.False(Selects(StringMap(serviceMonitor["selector"]!["matchLabels"]), StringMap(otherService["metadata"]!["labels"])));
            Assert.Equal(Text(servicePort["name"]), Text(serviceMonitor["endpoints"]![0]!["port"]));
        }
    }

    [Fact]
    public async Task Single_file_manifest_is_generated_from_config()
    {
        var start = new ProcessStartInfo("python3", [Path.Combine(Root, "scripts", "render-manifest.py"), "--stdout"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, await error);

        var checkedIn = await File.ReadAllTextAsync(Path.Combine(ConfigDirectory, "manifests", "bgplb-native.yaml"));
        Assert.True(checkedIn == await output, "config/manifests/bgplb-native.yaml is out of date: run scripts/render-manifest.py");
        Assert.Equal(RenderedObjects().Count, Yaml.Documents(Path.Combine(ConfigDirectory, "manifests", "bgplb-native.yaml")).OfType<JsonObject>().Count());
    }
}

/// <summary>Skipped, with the reason, where no kubectl is on PATH (the structural test still covers the kustomization).</summary>
public sealed class KubectlFactAttribute : FactAttribute
{
    public static string? Kubectl { get; } = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
        .Select(d => Path.Combine(d, "kubectl")).FirstOrDefault(File.Exists);

    public KubectlFactAttribute()
    {
        if (Kubectl is null) Skip = "kubectl is not on PATH";
    }
}
