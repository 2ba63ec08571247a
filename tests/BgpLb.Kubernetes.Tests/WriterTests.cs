using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace BgpLb.Kubernetes.Tests;

public sealed class WriterTests : IAsyncLifetime
{
    private const string Ns = "metallb-system";
    private FakeKubeApiServer _server = null!;
    private IKubernetes _client = null!;

    public async Task InitializeAsync()
    {
        _server = await FakeKubeApiServer.StartAsync();
        _client = _server.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    private ServiceStatusWriter ServiceWriter() => new(_client, NullLogger<ServiceStatusWriter>.Instance);

    private static string[] Ingress(JsonObject service) =>
        [.. (service["status"]?["loadBalancer"]?["ingress"] as JsonArray ?? []).Select(i => i!["ip"]!.GetValue<string>())];

    private static string? PoolAnnotation(JsonObject service) =>
        service["metadata"]?["annotations"]?[ServiceStatusWriter.PoolAnnotation]?.GetValue<string>();

    [Fact]
    public async Task Service_status_and_pool_annotation_are_written_once()
    {
        _server.Apply("services", KubeStoreTests.Service("default", "web"));
        IPAddress[] addresses = [IPAddress.Parse("203.0.113.5"), IPAddress.Parse("2001:db8::5")];

        Assert.True(await ServiceWriter().WriteAsync("default", "web", addresses, "pool-a", CancellationToken.None));
        var service = _server.Get("services", "default", "web")!;
        Assert.Equal(["203.0.113.5", "2001:db8::5"], Ingress(service));
        Assert.Equal("pool-a", PoolAnnotation(service));
        Assert.Equal("LoadBalancer", service["spec"]!["type"]!.GetValue<string>());

        Assert.True(await ServiceWriter().WriteAsync("default", "web", addresses, "pool-a", CancellationToken.None));
        Assert.Equal(1, _server.Requests("PATCH services"));
        Assert.Equal(1, _server.Requests("PATCH services/status"));
    }

    [Fact]
    public async Task Clearing_the_allocation_removes_ingress_and_annotation()
    {
        _server.Apply("services", KubeStoreTests.Service("default", "web"));
        await ServiceWriter().WriteAsync("default", "web", [IPAddress.Parse("203.0.113.5")], "pool-a", CancellationToken.None);

        Assert.True(await ServiceWriter().WriteAsync("default", "web", [], null, CancellationToken.None));
        var service = _server.Get("services", "default", "web")!;
        Assert.Empty(Ingress(service));
        Assert.Null(PoolAnnotation(service));
    }

    [Fact]
    public async Task Conflict_on_status_write_rereads_and_keeps_the_concurrent_change()
    {
        _server.Apply("services", KubeStoreTests.Service("default", "web"));
        var interfered = false;
        _server.BeforeWrite = (method, path) =>
        {
            if (method == "PATCH" && path.EndsWith("/status", StringComparison.Ordinal) && !interfered)
            {
                interfered = true;
                var changed = _server.Get("services", "default", "web")!;
                changed["metadata"]!["labels"] = new JsonObject { ["team"] = "blue" };
                _server.Apply("services", changed);
            }
        };

        Assert.True(await ServiceWriter().WriteAsync("default", "web", [IPAddress.Parse("203.0.113.5")], "pool-a", CancellationToken.None));
        var service = _server.Get("services", "default", "web")!;
        Assert.Equal(["203.0.113.5"], Ingress(service));
        Assert.Equal("blue", service["metadata"]!["labels"]!["team"]!.GetValue<string>());
        Assert.Equal(2, _server.Requests("PATCH services/status"));
    }

    [Fact]
    public async Task Persistent_conflicts_give_up_after_the_attempt_limit()
    {
        _server.Apply("services", KubeStoreTests.Service("default", "web"));
        _server.BeforeWrite = (method, _) =>
        {
            if (method == "PATCH")
            {
                _server.Apply("services", _server.Get("services", "default", "web")!);
            }
        };
        var e = await Assert.ThrowsAsync<HttpOperationException>(() =>
            ServiceWriter().WriteAsync("default", "web", [IPAddress.Parse("203.0.113.5")], "pool-a", CancellationToken.None));
        Assert.Equal(HttpStatusCode.Conflict, e.Response.StatusCode);
        Assert.Equal(5, _server.Requests("PATCH services"));
    }

    [Fact]
    public async Task Missing_service_is_reported_not_thrown()
    {
        Assert.False(await ServiceWriter().WriteAsync("default", "gone", [IPAddress.Parse("203.0.113.5")], "pool-a", CancellationToken.None));
    }

    [Fact]
    public async Task Repeated_events_are_counted_on_one_object()
    {
        var service = KubernetesJson.Deserialize<k8s.Models.V1Service>(_server.Apply("services", KubeStoreTests.Service("default", "web")).ToJsonString());
        var recorder = new EventRecorder(_client, "bgplb-controller", null, TimeProvider.System, NullLogger<EventRecorder>.Instance);
        var involved = EventRecorder.Reference(service);

        await recorder.RecordAsync(involved, EventRecorder.Normal, EventReasons.IPAllocated, "Assigned IP [\"203.0.113.5\"]", CancellationToken.None);
        await recorder.RecordAsync(involved, EventRecorder.Normal, EventReasons.IPAllocated, "Assigned IP [\"203.0.113.5\"]", CancellationToken.None);
        await recorder.RecordAsync(involved, EventRecorder.Warning, EventReasons.AllocationFailed, "no available IPs", CancellationToken.None);

        var events = _server.All("events");
        Assert.Equal(2, events.Count);
        var allocated = Assert.Single(events, e => e["reason"]!.GetValue<string>() == EventReasons.IPAllocated);
        Assert.Equal(2, allocated["count"]!.GetValue<int>());
        Assert.Equal("Normal", allocated["type"]!.GetValue<string>());
        Assert.Equal("web", allocated["involvedObject"]!["name"]!.GetValue<string>());
        Assert.Equal("default", allocated["metadata"]!["namespace"]!.GetValue<string>());
        Assert.Equal("bgplb-controller", allocated["source"]!["component"]!.GetValue<string>());
        Assert.Equal("Warning", Assert.Single(events, e => e != allocated)["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Expired_event_is_created_again()
    {
        var service = KubernetesJson.Deserialize<k8s.Models.V1Service>(_server.Apply("services", KubeStoreTests.Service("default", "web")).ToJsonString());
        var recorder = new EventRecorder(_client, "bgplb-speaker", "node-1", TimeProvider.System, NullLogger<EventRecorder>.Instance);
        var involved = EventRecorder.Reference(service);
        await recorder.RecordAsync(involved, EventRecorder.Normal, EventReasons.NodeAssigned, "announcing from node \"node-1\" with protocol \"bgp\"", CancellationToken.None);
        var first = Assert.Single(_server.All("events"));
        _server.Remove("events", "default", first["metadata"]!["name"]!.GetValue<string>());

        await recorder.RecordAsync(involved, EventRecorder.Normal, EventReasons.NodeAssigned, "announcing from node \"node-1\" with protocol \"bgp\"", CancellationToken.None);
        var again = Assert.Single(_server.All("events"));
        Assert.Equal(1, again["count"]!.GetValue<int>());
        Assert.Equal("node-1", again["source"]!["host"]!.GetValue<string>());
    }

    [Fact]
    public async Task Event_recording_failure_is_not_thrown()
    {
        using var unreachable = new k8s.Kubernetes(new KubernetesClientConfiguration { Host = "http://127.0.0.1:1" });
        var recorder = new EventRecorder(unreachable, "bgplb-controller", null, TimeProvider.System, NullLogger<EventRecorder>.Instance);
        await recorder.RecordAsync(new k8s.Models.V1ObjectReference { Kind = "Service", Name = "web", NamespaceProperty = "default" },
            EventRecorder.Normal, EventReasons.IPAllocated, "x", CancellationToken.None);
    }

    private static ServiceBgpStatusEntry Bgp(string ns, string name, params string[] peers) => new(ns, name, peers);

    private IReadOnlyList<JsonObject> StatusObjects(string plural, string node) =>
        [.. _server.All(plural).Where(o => o["metadata"]!["labels"]![StatusLabels.Node]!.GetValue<string>() == node)];

    [Fact]
    public async Task Bgp_status_objects_converge_to_the_desired_set()
    {
        var writer = new BgpStatusWriter(_client, Ns, "node-1", null, NullLogger<BgpStatusWriter>.Instance);
        var other = new BgpStatusWriter(_client, Ns, "node-2", null, NullLogger<BgpStatusWriter>.Instance);
        await other.ConvergeAsync([Bgp("default", "web", "router")], CancellationToken.None);

        await writer.ConvergeAsync([Bgp("default", "web", "router-b", "router-a"), Bgp("shop", "api", "router-a")], CancellationToken.None);
        var objects = StatusObjects("servicebgpstatuses", "node-1");
        Assert.Equal(2, objects.Count);
        var web = Assert.Single(objects, o => o["metadata"]!["labels"]![StatusLabels.ServiceName]!.GetValue<string>() == "web");
        Assert.StartsWith("bgp-", web["metadata"]!["name"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("default", web["metadata"]!["labels"]![StatusLabels.ServiceNamespace]!.GetValue<string>());
        Assert.Equal("node-1", web["status"]!["node"]!.GetValue<string>());
        Assert.Equal("web", web["status"]!["serviceName"]!.GetValue<string>());
        Assert.Equal("default", web["status"]!["serviceNamespace"]!.GetValue<string>());
        Assert.Equal(["router-a", "router-b"], web["status"]!["peers"]!.AsArray().Select(p => p!.GetValue<string>()));

        await writer.ConvergeAsync([Bgp("default", "web", "router-a")], CancellationToken.None);
        var after = Assert.Single(StatusObjects("servicebgpstatuses", "node-1"));
        Assert.Equal(web["metadata"]!["name"]!.GetValue<string>(), after["metadata"]!["name"]!.GetValue<string>());
        Assert.Equal(["router-a"], after["status"]!["peers"]!.AsArray().Select(p => p!.GetValue<string>()));
        Assert.Single(StatusObjects("servicebgpstatuses", "node-2"));

        var writes = _server.Requests("PUT servicebgpstatuses/status");
        await writer.ConvergeAsync([Bgp("default", "web", "router-a")], CancellationToken.None);
        Assert.Equal(writes, _server.Requests("PUT servicebgpstatuses/status"));

        await writer.ConvergeAsync([], CancellationToken.None);
        Assert.Empty(StatusObjects("servicebgpstatuses", "node-1"));
        Assert.Single(StatusObjects("servicebgpstatuses", "node-2"));
    }

    [Fact]
    public async Task Successive_status_writes_carry_the_written_resource_version()
    {
        var writer = new BgpStatusWriter(_client, Ns, "node-1", null, NullLogger<BgpStatusWriter>.Instance);
        await writer.ConvergeAsync([Bgp("default", "web", "router-a")], CancellationToken.None);
        var puts = _server.Requests("PUT servicebgpstatuses/status");
        var gets = _server.Requests("GET servicebgpstatuses");

        foreach (var peer in new[] { "router-b", "router-c", "router-d" })
            await writer.SetAsync("default", "web", [peer], CancellationToken.None);

        // One write each: no 409 from a stale resourceVersion, no re-read.
        Assert.Equal(puts + 3, _server.Requests("PUT servicebgpstatuses/status"));
        Assert.Equal(gets, _server.Requests("GET servicebgpstatuses"));
        var result = Assert.Single(_server.All("servicebgpstatuses"));
        Assert.Equal(["router-d"], result["status"]!["peers"]!.AsArray().Select(p => p!.GetValue<string>()));
        Assert.Equal("web", result["metadata"]!["labels"]![StatusLabels.ServiceName]!.GetValue<string>());
    }

    [Fact]
    public async Task Status_object_conflict_is_retried()
    {
        var writer = new BgpStatusWriter(_client, Ns, "node-1", null, NullLogger<BgpStatusWriter>.Instance);
        await writer.ConvergeAsync([Bgp("default", "web", "router-a")], CancellationToken.None);
        var interfered = false;
        _server.BeforeWrite = (method, path) =>
        {
            if (method == "PUT" && path.EndsWith("/status", StringComparison.Ordinal) && !interfered)
            {
                interfered = true;
                var current = Assert.Single(_server.All("servicebgpstatuses"));
                current["metadata"]!["annotations"] = new JsonObject { ["touched"] = "yes" };
                _server.Apply("servicebgpstatuses", current);
            }
        };

        await writer.ConvergeAsync([Bgp("default", "web", "router-b")], CancellationToken.None);
        var result = Assert.Single(_server.All("servicebgpstatuses"));
        Assert.Equal(["router-b"], result["status"]!["peers"]!.AsArray().Select(p => p!.GetValue<string>()));
        Assert.Equal("yes", result["metadata"]!["annotations"]!["touched"]!.GetValue<string>());
        Assert.True(interfered);
    }

    [Fact]
    public async Task L2_status_objects_list_interfaces_and_owner()
    {
        var owner = new k8s.Models.V1OwnerReference { ApiVersion = "v1", Kind = "Pod", Name = "speaker-x", Uid = "1234" };
        var writer = new L2StatusWriter(_client, Ns, "node-1", owner, NullLogger<L2StatusWriter>.Instance);
        await writer.ConvergeAsync([new ServiceL2StatusEntry("default", "web", ["eth1", "eth0"])], CancellationToken.None);

        var obj = Assert.Single(_server.All("servicel2statuses"));
        Assert.StartsWith("l2-", obj["metadata"]!["name"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("speaker-x", obj["metadata"]!["ownerReferences"]![0]!["name"]!.GetValue<string>());
        Assert.Equal(["eth0", "eth1"], obj["status"]!["interfaces"]!.AsArray().Select(i => i!["name"]!.GetValue<string>()));
        Assert.Equal("ServiceL2Status", obj["kind"]!.GetValue<string>());
    }

    [Fact]
    public async Task Configuration_state_is_created_then_updated_with_conditions_for_errors_and_warnings()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-02T03:04:05Z", System.Globalization.CultureInfo.InvariantCulture));
        var writer = new ConfigurationStateWriter(_client, Ns, "speaker", "node-1", null, time, NullLogger<ConfigurationStateWriter>.Instance);
        await writer.WriteAsync(new ConfigurationSummary(ConfigurationResult.Valid, "", ""), CancellationToken.None);
        var state = _server.Get("configurationstates", Ns, "speaker-node-1")!;
        Assert.Equal("Valid", state["status"]!["result"]!.GetValue<string>());
        Assert.Equal("speaker", state["metadata"]!["labels"]![StatusLabels.ComponentType]!.GetValue<string>());
        Assert.Equal("node-1", state["metadata"]!["labels"]![StatusLabels.NodeName]!.GetValue<string>());
        Assert.Equal(("True", "Reconciled", "2026-01-02T03:04:05Z"), Condition(state, "configReconcilerValid"));
        Assert.Equal(("False", "NoWarnings", "2026-01-02T03:04:05Z"), Condition(state, "configWarnings"));

        const string Warning = "kube:IPAddressPool metallb-system/spare: metadata.name: no BGPAdvertisement or L2Advertisement selects pool 'spare'";
        await writer.WriteAsync(new ConfigurationSummary(ConfigurationResult.Invalid, "kube:BGPPeer metallb-system/router: spec.myASN: missing", Warning),
            CancellationToken.None);
        state = _server.Get("configurationstates", Ns, "speaker-node-1")!;
        Assert.Equal("Invalid", state["status"]!["result"]!.GetValue<string>());
        Assert.Contains("spec.myASN", state["status"]!["errorSummary"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(("False", "ConfigurationError"), Condition(state, "configReconcilerValid") is var (status, reason, _) ? (status, reason) : default);
        Assert.Equal(("True", "ConfigurationWarning"), Condition(state, "configWarnings") is var (status2, reason2, _) ? (status2, reason2) : default);
        Assert.Equal(Warning, ConditionOf(state, "configWarnings")["message"]!.GetValue<string>());
        Assert.Equal(1, _server.Requests("POST configurationstates"));

        var controller = new ConfigurationStateWriter(_client, Ns, "controller", null, null, time, NullLogger<ConfigurationStateWriter>.Instance);
        await controller.WriteAsync(new ConfigurationSummary(ConfigurationResult.Valid, "", ""), CancellationToken.None);
        var controllerState = _server.Get("configurationstates", Ns, "controller")!;
        Assert.Null(controllerState["metadata"]!["labels"]![StatusLabels.NodeName]);
    }

    private static JsonObject ConditionOf(JsonObject state, string type) =>
        state["status"]!["conditions"]!.AsArray().Select(c => c!.AsObject()).Single(c => c["type"]!.GetValue<string>() == type);

    private static (string Status, string Reason, string Time) Condition(JsonObject state, string type)
    {
        var condition = ConditionOf(state, type);
        return (condition["status"]!.GetValue<string>(), condition["reason"]!.GetValue<string>(), condition["lastTransitionTime"]!.GetValue<string>());
    }

    [Fact]
    public async Task Client_factory_reads_a_kubeconfig_and_requires_exactly_one_source()
    {
        var path = Path.Combine(Path.GetTempPath(), $"bgplb-kubeconfig-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(path, $"""
            apiVersion: v1
            kind: Config
            clusters: [{"{"}name: fake, cluster: {"{"}server: "{_server.Uri}"{"}"}{"}"}]
            users: [{"{"}name: me, user: {"{"}token: abc{"}"}{"}"}]
            contexts: [{"{"}name: fake, context: {"{"}cluster: fake, user: me{"}"}{"}"}]
            current-context: fake
            """);
        try
        {
            _server.Apply("nodes", new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Node", ["metadata"] = new JsonObject { ["name"] = "n1" } });
            using var client = KubernetesClientFactory.Create(path, inCluster: false);
            var nodes = await client.CoreV1.ListNodeAsync();
            Assert.Equal("n1", Assert.Single(nodes.Items).Metadata.Name);
        }
        finally
        {
            File.Delete(path);
        }
        Assert.Throws<ArgumentException>(() => KubernetesClientFactory.Create(null, inCluster: false));
        Assert.Throws<ArgumentException>(() => KubernetesClientFactory.Create(path, inCluster: true));
    }
}
