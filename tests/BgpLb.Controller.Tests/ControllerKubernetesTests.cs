using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using BgpLb.Allocation.V1;
using BgpLb.Kubernetes.Testing;
using Grpc.Net.Client;
using static BgpLb.Kubernetes.Testing.KubeObjects;

namespace BgpLb.Controller.Tests;

/// <summary>The real bgplb-controller process in Kubernetes mode (--kubeconfig) against the in-test fake API server.</summary>
public sealed class ControllerKubernetesTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private const string PoolAnnotation = "metallb.io/ip-allocated-from-pool";

    private readonly string _dir = Directory.CreateTempSubdirectory("bgplb-ctl-kube-").FullName;
    private readonly List<DaemonProcess> _processes = [];
    private FakeKubeApiServer _server = null!;

    public async Task InitializeAsync() => _server = await FakeKubeApiServer.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var process in _processes)
            await process.DisposeAsync();
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    /// <returns>The started process, the port of its metrics listener and that of its gRPC listener.</returns>
    private async Task<(DaemonProcess Process, int MetricsPort, int GrpcPort)> StartControllerAsync(string podName)
    {
        // A kubeconfig per instance: its token names the instance's requests on the server ("ctl-b: GET leases").
        var kubeconfig = Path.Combine(_dir, $"kubeconfig-{podName}");
        _server.WriteKubeconfig(kubeconfig, token: podName);
        var (process, ports) = await DaemonProcess.StartOnFreePortsAsync("bgplb-controller.dll", 2,
            ports => ["--kubeconfig", kubeconfig, "--metrics-listen", $"127.0.0.1:{ports[0]}", "--grpc-listen", $"127.0.0.1:{ports[1]}"],
            new Dictionary<string, string> { ["POD_NAME"] = podName, ["POD_NAMESPACE"] = MetalLbNamespace, ["POD_UID"] = Guid.NewGuid().ToString() },
            Timeout);
        _processes.Add(process);
        return (process, ports[0], ports[1]);
    }

    private static async Task<JsonObject> UntilAsync(Func<JsonObject?> read, Func<JsonObject, bool> condition, DaemonProcess process, string what)
    {
        using var cancel = new CancellationTokenSource(Timeout);
        while (true)
        {
            if (read() is { } obj && condition(obj))
                return obj;
            try
            {
                await Task.Delay(50, cancel.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"{what} did not happen within {Timeout}:\n{process.Output}");
            }
        }
    }

    /// <summary>Waits until the server has seen <paramref name="count"/> requests <paramref name="what"/> (see <see cref="FakeKubeApiServer.Requests"/>).</summary>
    private async Task UntilRequestsAsync(string what, int count, DaemonProcess process) =>
        await UntilAsync(() => _server.Requests(what) >= count ? new JsonObject() : null, _ => true, process, $"{count} requests {what}");

    private Task<JsonObject> UntilIngressAsync(string name, DaemonProcess process) =>
        UntilAsync(() => _server.Get("services", "default", name), s => Ingress(s).Count > 0, process, $"status of default/{name}");

    private IEnumerable<JsonObject> EventsAbout(string name, string reason) =>
        _server.All("events").Where(e => e["involvedObject"]?["name"]?.GetValue<string>() == name && e["reason"]?.GetValue<string>() == reason);

    private static async Task<HttpStatusCode> ReadyzAsync(int port)
    {
        using var http = new HttpClient();
        try
        {
            using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/readyz"));
            return response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return 0; // not listening yet
        }
    }

    private static async Task UntilReadyzAsync(int port, Func<HttpStatusCode, bool> condition)
    {
        using var cancel = new CancellationTokenSource(Timeout);
        while (!condition(await ReadyzAsync(port)))
            await Task.Delay(50, cancel.Token);
    }

    [Fact]
    public async Task Allocates_writes_status_annotation_and_event_and_a_restart_keeps_the_address()
    {
        _server.Apply("ipaddresspools", Pool("main", "203.0.113.0/30"));
        _server.Apply("services", Service("default", "web"));
        var (first, _, _) = await StartControllerAsync("ctl-a");

        var web = await UntilIngressAsync("web", first);
        Assert.Equal(["203.0.113.0"], Ingress(web));
        Assert.Equal("main", Annotation(web, PoolAnnotation));
        var allocated = await UntilAsync(() => EventsAbout("web", "IPAllocated").FirstOrDefault(), _ => true, first, "IPAllocated event");
        Assert.Equal("Assigned IP [\"203.0.113.0\"]", allocated["message"]!.GetValue<string>());
        Assert.Equal("ctl-a", allocated["reportingInstance"]!.GetValue<string>());
        var state = await UntilAsync(() => _server.Get("configurationstates", MetalLbNamespace, "controller"), s => s["status"]?["result"] is not null, first, "ConfigurationState");
        Assert.Equal("Valid", state["status"]!["result"]!.GetValue<string>());
        Assert.Equal(0, await first.StopAsync(Timeout));

        // "aaa" sorts first: without the address read back from web's status it would take 203.0.113.0.
        _server.Apply("services", Service("default", "aaa"));
        var (second, _, _) = await StartControllerAsync("ctl-b");
        Assert.Equal(["203.0.113.1"], Ingress(await UntilIngressAsync("aaa", second)));
        Assert.Equal(["203.0.113.0"], Ingress(_server.Get("services", "default", "web")));
        await UntilAsync(() => EventsAbout("aaa", "IPAllocated").FirstOrDefault(), _ => true, second, "IPAllocated for aaa");
        Assert.Equal(0, await second.StopAsync(Timeout)); // everything it had to write is written
        Assert.Single(EventsAbout("web", "IPAllocated")); // nothing new to say about web
    }

    [Fact]
    public async Task A_conflict_on_the_status_write_is_retried_and_keeps_the_concurrent_change()
    {
        _server.Apply("ipaddresspools", Pool("main", "203.0.113.0/30"));
        _server.Apply("services", Service("default", "web"));
        var interfered = 0;
        _server.BeforeWrite = (method, path) =>
        {
            if (method == "PATCH" && path.EndsWith("/services/web/status", StringComparison.Ordinal) && Interlocked.Exchange(ref interfered, 1) == 0)
            {
                var changed = _server.Get("services", "default", "web")!;
                changed["metadata"]!["labels"] = new JsonObject { ["team"] = "blue" };
                _server.Apply("services", changed);
            }
        };
        var (controller, _, _) = await StartControllerAsync("ctl-a");

        var web = await UntilIngressAsync("web", controller);
        Assert.Equal(1, interfered);
        Assert.Equal(["203.0.113.0"], Ingress(web));
        Assert.Equal("blue", web["metadata"]!["labels"]!["team"]!.GetValue<string>());
        Assert.True(_server.Requests("PATCH services/status") >= 2);
    }

    [Fact]
    public async Task Allocation_failure_is_an_event_with_the_reason_and_an_address_no_longer_allowed_is_cleared()
    {
        _server.Apply("ipaddresspools", Pool("main", "203.0.113.0/32"));
        _server.Apply("services", Service("default", "web"));
        var (controller, _, _) = await StartControllerAsync("ctl-a");
        await UntilIngressAsync("web", controller);

        _server.Apply("services", Service("default", "second"));
        var failed = await UntilAsync(() => EventsAbout("second", "AllocationFailed").FirstOrDefault(), _ => true, controller, "AllocationFailed event");
        Assert.Equal("Warning", failed["type"]!.GetValue<string>());
        Assert.Contains("PoolExhausted", failed["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty(Ingress(_server.Get("services", "default", "second")));

        // web stops being a LoadBalancer: its address goes to "second", and is never shown on both at once.
        var shownTwice = false;
        _server.BeforeWrite = (method, path) => shownTwice |= Ingress(_server.Get("services", "default", "web")).Contains("203.0.113.0")
            && Ingress(_server.Get("services", "default", "second")).Contains("203.0.113.0");
        var web = _server.Get("services", "default", "web")!;
        web["spec"]!["type"] = "ClusterIP";
        _server.Apply("services", web);
        await UntilAsync(() => _server.Get("services", "default", "second"), s => Ingress(s).SequenceEqual(["203.0.113.0"]), controller, "second's address");
        web = await UntilAsync(() => _server.Get("services", "default", "web"), s => Ingress(s).Count == 0, controller, "web cleared");
        Assert.Null(Annotation(web, PoolAnnotation));
        Assert.False(shownTwice);
        _server.BeforeWrite = null;

        // The pool moves away from second's address: MetalLB's ClearAssignment, then the new address (IPAllocated again).
        _server.Apply("ipaddresspools", Pool("main", "198.51.100.7/32"));
        await UntilAsync(() => _server.Get("services", "default", "second"), s => Ingress(s).SequenceEqual(["198.51.100.7"]), controller, "second's new address");
        var cleared = await UntilAsync(() => EventsAbout("second", "ClearAssignment").FirstOrDefault(), _ => true, controller, "ClearAssignment event");
        Assert.Contains("not allowed", cleared["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("Normal", cleared["type"]!.GetValue<string>());
        await UntilAsync(() => EventsAbout("second", "IPAllocated").FirstOrDefault(e => e["message"]!.GetValue<string>().Contains("198.51.100.7", StringComparison.Ordinal)),
            _ => true, controller, "IPAllocated for the new address");
    }

    [Fact]
    public async Task An_invalid_object_makes_the_configuration_state_invalid_naming_object_and_field()
    {
        _server.Apply("ipaddresspools", Pool("main", "203.0.113.0/30"));
        _server.Apply("ipaddresspools", Pool("broken", "not-an-address"));
        var (controller, metricsPort, _) = await StartControllerAsync("ctl-a");

        var state = await UntilAsync(() => _server.Get("configurationstates", MetalLbNamespace, "controller"), s => s["status"]?["result"] is not null, controller, "ConfigurationState");
        Assert.Equal("Invalid", state["status"]!["result"]!.GetValue<string>());
        var summary = state["status"]!["errorSummary"]!.GetValue<string>();
        Assert.Contains("IPAddressPool", summary, StringComparison.Ordinal);
        Assert.Contains("broken", summary, StringComparison.Ordinal);
        Assert.Contains("spec.addresses[0]", summary, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, await ReadyzAsync(metricsPort)); // still running on the valid rest

        _server.Remove("ipaddresspools", MetalLbNamespace, "broken");
        state = await UntilAsync(() => _server.Get("configurationstates", MetalLbNamespace, "controller"),
            s => s["status"]!["result"]!.GetValue<string>() == "Valid", controller, "ConfigurationState Valid");
        Assert.Null(state["status"]!["errorSummary"]);
    }

    [Fact]
    public async Task Nothing_is_written_while_another_instance_holds_the_lease_and_everything_once_it_is_released()
    {
        _server.Apply("leases", Lease("bgplb-controller", "ctl-other", seconds: 3600));
        _server.Apply("ipaddresspools", Pool("main", "203.0.113.0/30"));
        _server.Apply("services", Service("default", "web"));
        _server.Fail = what => what.StartsWith("LIST", StringComparison.Ordinal);
        var (standby, metricsPort, grpcPort) = await StartControllerAsync("ctl-b");

        // Not ready while the store cannot list (its lists fail until Fail is cleared, so readiness cannot come meanwhile).
        await UntilRequestsAsync("LIST services", 1, standby);
        await UntilReadyzAsync(metricsPort, status => status != 0);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await ReadyzAsync(metricsPort));
        _server.Fail = null;
        await UntilReadyzAsync(metricsPort, status => status == HttpStatusCode.OK);

        // Ready (it allocated in memory and serves gRPC) but not the leader: several election rounds pass without a write.
        using (var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}"))
        {
            var allocation = await new AllocationService.AllocationServiceClient(channel).GetAllocationAsync(new GetAllocationRequest { Key = "default/web" });
            Assert.Equal(["203.0.113.0"], allocation.Addresses);
        }
        await UntilRequestsAsync("ctl-b: GET leases", _server.Requests("ctl-b: GET leases") + 3, standby);
        Assert.Empty(Ingress(_server.Get("services", "default", "web")));
        Assert.Empty(_server.All("events"));
        Assert.Empty(_server.All("configurationstates"));
        Assert.Equal(0, _server.Requests("PATCH services/status"));

        var lease = _server.Get("leases", MetalLbNamespace, "bgplb-controller")!;
        lease["spec"]!["holderIdentity"] = null;
        _server.Apply("leases", lease);
        Assert.Equal(["203.0.113.0"], Ingress(await UntilIngressAsync("web", standby)));
        Assert.Equal("ctl-b", _server.Get("leases", MetalLbNamespace, "bgplb-controller")!["spec"]!["holderIdentity"]!.GetValue<string>());
        await UntilAsync(() => _server.Get("configurationstates", MetalLbNamespace, "controller"), s => s["status"]?["result"] is not null, standby, "ConfigurationState");
    }

    [Fact]
    public async Task A_second_instance_stands_by_while_the_first_leads_and_takes_over_when_it_stops()
    {
        _server.Apply("ipaddresspools", Pool("main", "203.0.113.0/29"));
        _server.Apply("services", Service("default", "web"));
        var (leader, _, _) = await StartControllerAsync("ctl-a");
        await UntilIngressAsync("web", leader);
        var (standby, standbyMetrics, _) = await StartControllerAsync("ctl-b");
        await UntilReadyzAsync(standbyMetrics, status => status == HttpStatusCode.OK);

        _server.Apply("services", Service("default", "later"));
        await UntilIngressAsync("later", leader);
        await UntilRequestsAsync("ctl-b: GET leases", _server.Requests("ctl-b: GET leases") + 2, standby); // election rounds of the standby
        Assert.All(_server.All("events"), e => Assert.Equal("ctl-a", e["reportingInstance"]!.GetValue<string>()));
        Assert.Equal("ctl-a", _server.Get("leases", MetalLbNamespace, "bgplb-controller")!["spec"]!["holderIdentity"]!.GetValue<string>());

        Assert.Equal(0, await leader.StopAsync(Timeout)); // releases the lease
        _server.Apply("services", Service("default", "after"));
        Assert.Equal(["203.0.113.2"], Ingress(await UntilIngressAsync("after", standby)));
        var allocated = await UntilAsync(() => EventsAbout("after", "IPAllocated").FirstOrDefault(), _ => true, standby, "IPAllocated for after");
        Assert.Equal("ctl-b", allocated["reportingInstance"]!.GetValue<string>());
        Assert.Equal(["203.0.113.0"], Ingress(_server.Get("services", "default", "web")));
        Assert.Equal(["203.0.113.1"], Ingress(_server.Get("services", "default", "later")));
    }

    [Fact]
    public async Task Deprecated_annotations_pool_status_and_an_unadvertised_pool_are_reported()
    {
        _server.Apply("ipaddresspools", Pool("main", "203.0.113.0/30", "2001:db8::/126"));
        _server.Apply("ipaddresspools", Pool("spare", "198.51.100.0/30"));
        _server.Apply("bgpadvertisements", BgpAdvertisement("main-only", "main"));
        var web = Service("default", "web");
        web["metadata"]!["annotations"] = new JsonObject { ["metallb.universe.tf/address-pool"] = "main" };
        _server.Apply("services", web);
        var (controller, _, _) = await StartControllerAsync("ctl-a");

        Assert.Equal(["203.0.113.0"], Ingress(await UntilIngressAsync("web", controller)));
        var deprecated = await UntilAsync(() => EventsAbout("web", "deprecatedAnnotation").FirstOrDefault(), _ => true, controller, "deprecatedAnnotation event");
        Assert.Equal("Warning", deprecated["type"]!.GetValue<string>());
        Assert.Equal("Service uses deprecated annotation metallb.universe.tf/address-pool; use metallb.io/address-pool instead",
            deprecated["message"]!.GetValue<string>());

        // IPAddressPool status: per family, written when the counts change.
        static (long, long, long, long)? Counts(JsonObject? pool) => pool?["status"]?["assignedIPv4"] is null ? null
            : (pool["status"]!["assignedIPv4"]!.GetValue<long>(), pool["status"]!["assignedIPv6"]!.GetValue<long>(),
                pool["status"]!["availableIPv4"]!.GetValue<long>(), pool["status"]!["availableIPv6"]!.GetValue<long>());
        await UntilAsync(() => _server.Get("ipaddresspools", MetalLbNamespace, "main"), p => Counts(p) == (1, 0, 3, 4), controller, "status of pool main");
        await UntilAsync(() => _server.Get("ipaddresspools", MetalLbNamespace, "spare"), p => Counts(p) == (0, 0, 4, 0), controller, "status of pool spare");
        var writes = _server.Requests("PATCH ipaddresspools/status");
        _server.Apply("services", Service("default", "api"));
        await UntilAsync(() => _server.Get("ipaddresspools", MetalLbNamespace, "main"), p => Counts(p) == (2, 0, 2, 4), controller, "status of pool main after api");
        await UntilAsync(() => EventsAbout("api", "IPAllocated").FirstOrDefault(), _ => true, controller, "IPAllocated for api");
        Assert.Equal(writes + 1, _server.Requests("PATCH ipaddresspools/status")); // spare's counts did not change

        // The pool that no advertisement selects: a warning in the ConfigurationState, which stays Valid.
        var state = await UntilAsync(() => _server.Get("configurationstates", MetalLbNamespace, "controller"), s => s["status"]?["result"] is not null, controller, "ConfigurationState");
        Assert.Equal("Valid", state["status"]!["result"]!.GetValue<string>());
        var warnings = state["status"]!["conditions"]!.AsArray().Single(c => c!["type"]!.GetValue<string>() == "configWarnings")!;
        Assert.Equal("True", warnings["status"]!.GetValue<string>());
        Assert.Contains("selects pool 'spare'", warnings["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.DoesNotContain("'main'", warnings["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
