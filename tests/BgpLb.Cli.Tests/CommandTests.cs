using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using BgpLb.Cli;
using BgpLb.Kubernetes.Testing;
using BgpLb.Planning;
using BgpLb.StatusApi;

namespace BgpLb.Cli.Tests;

/// <summary>The command as an operator runs it: arguments, exit codes, the speakers' /status over HTTP, -o json, status, --probe, --kubeconfig.</summary>
public sealed class CommandTests : IDisposable
{
    private readonly Cluster _cluster = new();

    public void Dispose() => _cluster.Dispose();

    private Cluster Reachable() =>
        _cluster.Write("config.yaml", [.. Yaml.BgpSetup(), Yaml.Service(), Yaml.EndpointSlice("web", "node1")]);

    [Theory]
    [InlineData("--config", "DIR")]
    [InlineData("explain", "--config", "DIR")]
    [InlineData("explain", "web", "--config", "DIR")]
    [InlineData("explain", "default/web/x", "--config", "DIR")]
    [InlineData("explain", "default/web")]
    [InlineData("explain", "default/web", "--config", "DIR", "--kubeconfig", "DIR/config.yaml")]
    [InlineData("explain", "default/web", "--config", "DIR", "-o", "yaml")]
    [InlineData("explain", "default/web", "--config", "DIR", "--probe", "http")]
    [InlineData("explain", "default/web", "--config", "DIR", "--probe", "0")]
    [InlineData("explain", "default/web", "--config", "DIR", "--speaker", "localhost:7474")]
    [InlineData("explain", "default/web", "--config", "DIR/missing")]
    [InlineData("status", "--config", "DIR", "--probe", "80")]
    [InlineData("status", "--config", "DIR", "--bogus")]
    public async Task Bad_usage_exits_2_with_one_line_naming_it(params string[] args)
    {
        Reachable();

        var (code, output, error) = await Cluster.RunAsync([.. args.Select(a => a.Replace("DIR", _cluster.Directory, StringComparison.Ordinal))]);

        Assert.Equal(2, code);
        Assert.Empty(output);
        Assert.StartsWith("bgplb: ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Exit_codes_are_0_when_every_step_holds_and_1_when_one_fails()
    {
        Reachable();
        var (held, text, _) = await Cluster.RunAsync("explain", "default/web", "--config", _cluster.Directory);
        Assert.Equal(0, held);
        Assert.StartsWith("Service default/web: every step holds", text, StringComparison.Ordinal);

        _cluster.Write("config.yaml", [.. Yaml.BgpSetup(), Yaml.Service()]);
        var (failed, failure, _) = await Cluster.RunAsync("explain", "default/web", "--config", _cluster.Directory);
        Assert.Equal(1, failed);
        Assert.Contains("FAILED at step 4 (nodes)", failure, StringComparison.Ordinal);
        Assert.Contains("reason: NoReadyEndpoint", failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_output_is_the_documented_shape()
    {
        _cluster.Write("config.yaml", [.. Yaml.BgpSetup(), Yaml.Service()]);

        var (code, output, _) = await Cluster.RunAsync("explain", "default/web", "--config", _cluster.Directory, "-o", "json");

        Assert.Equal(1, code);
        using var document = JsonDocument.Parse(output);
        var root = document.RootElement;
        Assert.Equal(1, root.GetProperty("version").GetInt32());
        Assert.Equal("default/web", root.GetProperty("service").GetString());
        Assert.Equal("Failed", root.GetProperty("verdict").GetString());
        Assert.Equal([4], root.GetProperty("failedSteps").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(["203.0.113.0"], root.GetProperty("addresses").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("main", root.GetProperty("pool").GetString());
        var steps = root.GetProperty("steps").EnumerateArray().ToList();
        Assert.Equal(["service", "allocation", "advertisements", "nodes", "bgp", "l2", "probe"], steps.Select(s => s.GetProperty("name").GetString()));
        var nodes = steps[3];
        Assert.Equal((4, "Failed", "NoReadyEndpoint"), (nodes.GetProperty("step").GetInt32(), nodes.GetProperty("verdict").GetString(), nodes.GetProperty("code").GetString()));
        Assert.False(string.IsNullOrEmpty(nodes.GetProperty("fix").GetString()));
        Assert.Equal(JsonValueKind.Array, nodes.GetProperty("details").ValueKind);
        var node = root.GetProperty("nodes").EnumerateArray().Single();
        Assert.Equal(("node1", "BGP", false, "NoReadyEndpoint", "computed"),
            (node.GetProperty("node").GetString(), node.GetProperty("protocol").GetString(), node.GetProperty("announced").GetBoolean(),
                node.GetProperty("reason").GetString(), node.GetProperty("source").GetString()));
        Assert.Equal(JsonValueKind.Array, root.GetProperty("routes").ValueKind);
    }

    [Fact]
    public async Task A_speakers_status_shows_the_route_advertised_on_an_Established_session()
    {
        Reachable();
        await using var speaker = await FakeSpeaker.StartAsync(FakeSpeaker.Announcing());

        var (code, output, _) = await Cluster.RunAsync("explain", "default/web", "--config", _cluster.Directory, "--speaker", speaker.Url.ToString());

        Assert.Equal(0, code);
        Assert.Equal(["?service=default%2Fweb"], speaker.Queries);
        Assert.Contains("5 bgp             held    1 route advertised on Established sessions: node1 -> router", output, StringComparison.Ordinal);
        Assert.Contains("node1 -> router (198.18.0.1) Established for 00:01:23: 203.0.113.0/32 advertised, sent at 2026-12-06T09:00:00.0000000+00:00",
            output, StringComparison.Ordinal);

        var (_, json, _) = await Cluster.RunAsync("explain", "default/web", "--config", _cluster.Directory, "--speaker", speaker.Url.ToString(), "-o", "json");
        using var document = JsonDocument.Parse(json);
        var route = document.RootElement.GetProperty("routes").EnumerateArray().Single();
        Assert.Equal((true, FakeSpeaker.SentAt), (route.GetProperty("advertised").GetBoolean(), route.GetProperty("sentAt").GetDateTimeOffset()));
    }

    [Fact]
    public async Task A_route_from_a_speaker_that_does_not_report_when_it_was_sent_is_shown_advertised_without_a_time()
    {
        Reachable();
        var old = FakeSpeaker.Announcing();
        await using var speaker = await FakeSpeaker.StartAsync(old with
        {
            Sessions = [old.Sessions[0] with { Routes = [old.Sessions[0].Routes[0] with { SentAt = null }] }],
        });

        var (code, output, _) = await Cluster.RunAsync("explain", "default/web", "--config", _cluster.Directory, "--speaker", speaker.Url.ToString());

        Assert.Equal(0, code);
        Assert.Contains("203.0.113.0/32 advertised\n", output.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.DoesNotContain("sent at", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_session_that_is_not_Established_fails_step_5_with_its_last_error()
    {
        Reachable();
        await using var speaker = await FakeSpeaker.StartAsync(FakeSpeaker.Announcing("Active", lastError: "NOTIFICATION received: OPEN Message Error / Bad Peer AS"));

        var (code, output, _) = await Cluster.RunAsync("explain", "default/web", "--config", _cluster.Directory, "--speaker", speaker.Url.ToString(), "-o", "json");

        Assert.Equal(1, code);
        using var document = JsonDocument.Parse(output);
        var step = document.RootElement.GetProperty("steps")[4];
        Assert.Equal(("Failed", "SessionNotEstablished"), (step.GetProperty("verdict").GetString(), step.GetProperty("code").GetString()));
        Assert.Contains("Bad Peer AS", step.GetProperty("summary").GetString(), StringComparison.Ordinal);
        var route = document.RootElement.GetProperty("routes").EnumerateArray().Single();
        Assert.Equal(("node1", "router", "Active", false), (route.GetProperty("node").GetString(), route.GetProperty("peer").GetString(),
            route.GetProperty("state").GetString(), route.GetProperty("advertised").GetBoolean()));
    }

    [Fact]
    public async Task A_speaker_that_does_not_answer_exits_2_naming_it()
    {
        Reachable();
        using var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();

        var (code, output, error) = await Cluster.RunAsync("explain", "default/web", "--config", _cluster.Directory, "--speaker", $"http://127.0.0.1:{port}");

        Assert.Equal(2, code);
        Assert.Empty(output);
        Assert.Contains($"--speaker http://127.0.0.1:{port}/: cannot reach it", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_L2_address_conflict_reported_by_the_owner_fails_and_names_the_other_MAC()
    {
        _cluster.Write("config.yaml", Yaml.Node("node1"), Yaml.Pool("main", "203.0.113.0/24"), Yaml.L2Advertisement("l2", "main"), Yaml.Service(),
            Yaml.EndpointSlice("web", "node1"));
        var conflict = new SpeakerStatus
        {
            Node = "node1",
            Time = DateTimeOffset.UnixEpoch,
            Sessions = [],
            L2 = new L2Status(true, ["node1"], [], [new ConflictStatus("203.0.113.0", "eth0", "02:00:00:00:00:09", DateTimeOffset.UnixEpoch)]),
            Services =
            [
                new ServiceStatus("default/web", [new AddressStatus("203.0.113.0", "main", AnnounceReason.AddressConflict, null,
                    new L2DecisionStatus(false, AnnounceReason.AddressConflict, "host 02:00:00:00:00:09 also answers for the address on eth0", "node1", []))]),
            ],
        };
        await using var speaker = await FakeSpeaker.StartAsync(conflict);

        var (code, output, _) = await Cluster.RunAsync("explain", "default/web", "--config", _cluster.Directory, "--speaker", speaker.Url.ToString());
        Assert.Equal(1, code);
        Assert.Contains("reason: AddressConflict", output, StringComparison.Ordinal);
        Assert.Contains("02:00:00:00:00:09", output, StringComparison.Ordinal);

        speaker.Status = conflict with
        {
            L2 = new L2Status(true, ["node1"], ["203.0.113.0"], []),
            Services = [new ServiceStatus("default/web", [new AddressStatus("203.0.113.0", "main", null, null,
                new L2DecisionStatus(true, AnnounceReason.Announced, "announced", "node1", []))])],
        };
        var (fixedCode, fixedOutput, _) = await Cluster.RunAsync("explain", "default/web", "--config", _cluster.Directory, "--speaker", speaker.Url.ToString());
        Assert.Equal(0, fixedCode);
        Assert.Contains("6 l2              held    node1 owns 203.0.113.0 and answers ARP/NDP", fixedOutput, StringComparison.Ordinal);
        Assert.Contains("node1 answers ARP/NDP for 203.0.113.0; no gratuitous ARP/NA reported", fixedOutput, StringComparison.Ordinal);

        var sent = new DateTimeOffset(2026, 12, 6, 9, 0, 1, TimeSpan.Zero);
        speaker.Status = speaker.Status with
        {
            L2 = speaker.Status.L2 with { GratuitousSentAt = new Dictionary<string, DateTimeOffset> { ["203.0.113.0"] = sent } },
        };
        var (_, text, _) = await Cluster.RunAsync("explain", "default/web", "--config", _cluster.Directory, "--speaker", speaker.Url.ToString());
        Assert.Contains("node1 answers ARP/NDP for 203.0.113.0; last gratuitous ARP/NA at 2026-12-06T09:00:01.0000000+00:00", text, StringComparison.Ordinal);
        var (_, json, _) = await Cluster.RunAsync("explain", "default/web", "--config", _cluster.Directory, "--speaker", speaker.Url.ToString(), "-o", "json");
        using var document = JsonDocument.Parse(json);
        var answer = document.RootElement.GetProperty("l2Answers").EnumerateArray().Single();
        Assert.Equal(("node1", "203.0.113.0", sent),
            (answer.GetProperty("node").GetString(), answer.GetProperty("address").GetString(), answer.GetProperty("gratuitousSentAt").GetDateTimeOffset()));
    }

    [Fact]
    public async Task Probe_connects_to_the_address_and_a_refused_port_fails_step_7()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var open = ((IPEndPoint)listener.LocalEndpoint).Port;
        _cluster.Write("config.yaml", Yaml.Node("node1"), Yaml.Pool("main", "127.0.0.1/32"), Yaml.Peer(), Yaml.BgpAdvertisement("adv", "main"), Yaml.Service(),
            Yaml.EndpointSlice("web", "node1"));

        var (code, output, _) = await Cluster.RunAsync("explain", "default/web", "--config", _cluster.Directory, "--probe", open.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(0, code);
        Assert.Contains($"7 probe           held    127.0.0.1:{open} accepted the connection", output, StringComparison.Ordinal);

        listener.Stop();
        var (refusedCode, refused, _) = await Cluster.RunAsync("explain", "default/web", "--config", _cluster.Directory, "--probe", open.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(1, refusedCode);
        Assert.Contains($"127.0.0.1:{open}: connection refused", refused, StringComparison.Ordinal);
        Assert.Contains("reason: ProbeFailed", refused, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_tabulates_sessions_and_pools_per_family_and_exits_0()
    {
        _cluster.Write("config.yaml", Yaml.Node("node1"), Yaml.Pool("main", "203.0.113.0/30", "2001:db8::/126"), Yaml.Peer(), Yaml.BgpAdvertisement("adv", "main"),
            Yaml.Service(), Yaml.Service("api"), Yaml.EndpointSlice("web", "node1"));
        await using var speaker = await FakeSpeaker.StartAsync(FakeSpeaker.Announcing());

        var (code, output, _) = await Cluster.RunAsync("status", "--config", _cluster.Directory, "--speaker", speaker.Url.ToString());

        Assert.Equal(0, code);
        Assert.Equal([""], speaker.Queries);
        Assert.Contains("Configuration: valid", output, StringComparison.Ordinal);
        Assert.Contains("node1  router  198.18.0.1  Established  00:01:23  1         -", output, StringComparison.Ordinal);
        Assert.Contains("main  IPv4    4      2     2", output, StringComparison.Ordinal);
        Assert.Contains("main  IPv6    4      0     4", output, StringComparison.Ordinal);

        await using var down = await FakeSpeaker.StartAsync(FakeSpeaker.Announcing("Connect"));
        Assert.Equal(1, (await Cluster.RunAsync("status", "--config", _cluster.Directory, "--speaker", down.Url.ToString())).Code);
    }

    [Fact]
    public async Task Status_names_the_object_and_field_of_an_invalid_configuration_and_exits_1()
    {
        _cluster.Write("config.yaml", [.. Yaml.BgpSetup(), Yaml.Pool("broken", "not-an-address")]);

        var (code, output, _) = await Cluster.RunAsync("status", "--config", _cluster.Directory, "-o", "json");

        Assert.Equal(1, code);
        using var document = JsonDocument.Parse(output);
        Assert.False(document.RootElement.GetProperty("configurationValid").GetBoolean());
        var problem = document.RootElement.GetProperty("problems").EnumerateArray().Single();
        Assert.Equal(("Error", "IPAddressPool metallb-system/broken"), (problem.GetProperty("severity").GetString(), problem.GetProperty("resource").GetString()));
        Assert.StartsWith("spec.addresses", problem.GetProperty("field").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_without_a_speaker_says_the_sessions_were_not_read_rather_than_none()
    {
        _cluster.Write("config.yaml", Yaml.BgpSetup());

        var (code, output, _) = await Cluster.RunAsync("status", "--config", _cluster.Directory);

        Assert.Equal(0, code);
        Assert.Contains("BGP sessions: not read: no --speaker URL given\n", output, StringComparison.Ordinal);
        Assert.Contains("L2 owners: not read: no --speaker URL given\n", output, StringComparison.Ordinal);
        Assert.Contains("POOL", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kubernetes_mode_reads_the_API_server_and_names_a_Service_without_endpoints()
    {
        await using var server = await FakeKubeApiServer.StartAsync();
        ApplyBgpSetup(server);
        server.Apply("services", KubeObjects.Service("default", "web", "203.0.113.9"));
        server.Apply("services", KubeObjects.Service("default", "pending"));
        var kubeconfig = Path.Combine(_cluster.Directory, "kubeconfig");
        server.WriteKubeconfig(kubeconfig);

        var (code, output, _) = await Cluster.RunAsync("explain", "default/web", "--kubeconfig", kubeconfig);
        Assert.Equal(1, code);
        Assert.Contains("203.0.113.9 from pool 'main' (Service status)", output, StringComparison.Ordinal);
        Assert.Contains("reason: NoReadyEndpoint", output, StringComparison.Ordinal);

        var (pendingCode, pending, _) = await Cluster.RunAsync("explain", "default/pending", "--kubeconfig", kubeconfig);
        Assert.Equal(1, pendingCode);
        Assert.Contains("reason: NotAllocated", pending, StringComparison.Ordinal);

        server.Apply("endpointslices", KubeObjects.EndpointSlice("default", "web", "node1", "10.0.0.5"));
        Assert.Equal(0, (await Cluster.RunAsync("explain", "default/web", "--kubeconfig", kubeconfig)).Code);
    }

    [Fact]
    public async Task Kubernetes_mode_reads_the_speakers_status_through_the_pod_proxy()
    {
        await using var server = await FakeKubeApiServer.StartAsync();
        ApplyBgpSetup(server);
        server.Apply("services", KubeObjects.Service("default", "web", "203.0.113.0"));
        server.Apply("endpointslices", KubeObjects.EndpointSlice("default", "web", "node1", "10.0.0.5"));
        server.Apply("pods", SpeakerPod("metallb-system"));
        var down = JsonSerializer.Serialize(FakeSpeaker.Announcing("Idle", lastError: "connection refused"), StatusJsonContext.Default.SpeakerStatus);
        server.PodProxy = (pod, path) => pod == "metallb-system/speaker-x1:7474" && path == "status" ? down : null;
        var kubeconfig = Path.Combine(_cluster.Directory, "kubeconfig");
        server.WriteKubeconfig(kubeconfig);

        var (code, output, _) = await Cluster.RunAsync("explain", "default/web", "--kubeconfig", kubeconfig);

        Assert.Equal(1, code);
        Assert.Contains("node1 -> router (198.18.0.1): session Idle, last error: connection refused", output, StringComparison.Ordinal);
        Assert.Equal(1, server.Requests("PROXY pods"));

        server.PodProxy = null;
        var (unreachable, _, error) = await Cluster.RunAsync("explain", "default/web", "--kubeconfig", kubeconfig);
        Assert.Equal(2, unreachable);
        Assert.Contains("get on pods/proxy", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kubernetes_mode_reads_no_Secrets_and_finds_bgplb_in_the_system_namespace_on_the_speakers_monitoring_port()
    {
        await using var server = await FakeKubeApiServer.StartAsync();
        const string SystemNamespace = "lb-system";
        JsonObject InSystemNamespace(JsonObject o)
        {
            o["metadata"]!["namespace"] = SystemNamespace;
            return o;
        }
        var peer = InSystemNamespace(KubeObjects.Peer("router", "198.18.0.1", 64513, 64512, 179));
        peer["spec"]!["passwordSecret"] = new JsonObject { ["name"] = "bgp-password", ["namespace"] = SystemNamespace };
        server.Apply("ipaddresspools", InSystemNamespace(KubeObjects.Pool("main", "203.0.113.0/24")));
        server.Apply("bgppeers", peer);
        server.Apply("bgpadvertisements", InSystemNamespace(KubeObjects.BgpAdvertisement("adv")));
        server.Apply("nodes", KubeObjects.Node("node1"));
        server.Apply("services", KubeObjects.Service("default", "web", "203.0.113.0"));
        server.Apply("endpointslices", KubeObjects.EndpointSlice("default", "web", "node1", "10.0.0.5"));
        server.Apply("pods", SpeakerPod(SystemNamespace, monitoringPort: 7575));
        var announcing = JsonSerializer.Serialize(FakeSpeaker.Announcing(), StatusJsonContext.Default.SpeakerStatus);
        server.PodProxy = (pod, path) => pod == $"{SystemNamespace}/speaker-x1:7575" && path == "status" ? announcing : null;
        var kubeconfig = Path.Combine(_cluster.Directory, "kubeconfig");
        server.WriteKubeconfig(kubeconfig);

        // The password Secret does not exist and is never asked for: the peer counts as configured.
        var (code, output, error) = await Cluster.RunAsync("explain", "default/web", "--kubeconfig", kubeconfig, "--system-namespace", SystemNamespace);
        Assert.True(code == 0, output + error);
        Assert.Contains("5 bgp             held    1 route advertised on Established sessions: node1 -> router", output, StringComparison.Ordinal);
        Assert.Equal(1, server.Requests("PROXY pods"));
        var (statusCode, status, statusError) = await Cluster.RunAsync("status", "--kubeconfig", kubeconfig, "--system-namespace", SystemNamespace);
        Assert.True(statusCode == 0, status + statusError);
        Assert.Contains("node1  router", status, StringComparison.Ordinal);
        Assert.DoesNotContain("passwordSecret", status, StringComparison.Ordinal);
        Assert.Equal((0, 0), (server.Requests("LIST secrets"), server.Requests("WATCH secrets")));

        // Without it bgplb looks in metallb-system: no pool holds the address there.
        var (elsewhere, elsewhereOutput, _) = await Cluster.RunAsync("explain", "default/web", "--kubeconfig", kubeconfig);
        Assert.Equal(1, elsewhere);
        Assert.Contains("reason: AddressNotInPool", elsewhereOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kubernetes_mode_shows_the_Services_events_and_the_speakers_status_objects_and_goes_on_where_RBAC_forbids()
    {
        await using var server = await FakeKubeApiServer.StartAsync();
        ApplyBgpSetup(server);
        server.Apply("services", KubeObjects.Service("default", "web", "203.0.113.0"));
        server.Apply("endpointslices", KubeObjects.EndpointSlice("default", "web", "node1", "10.0.0.5"));
        static JsonObject Event(string name, string service, string type, string reason, string message, string component, string lastTimestamp, int count = 1) => new()
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Event",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = "default" },
            ["involvedObject"] = new JsonObject { ["kind"] = "Service", ["name"] = service, ["namespace"] = "default" },
            ["type"] = type,
            ["reason"] = reason,
            ["message"] = message,
            ["count"] = count,
            ["lastTimestamp"] = lastTimestamp,
            ["source"] = new JsonObject { ["component"] = component },
        };
        server.Apply("events", Event("web.1", "web", "Warning", "AllocationFailed", "no free IPv4 address in pool 'main'", "bgplb-controller", "2026-12-06T09:00:00Z", count: 3));
        server.Apply("events", Event("web.2", "web", "Normal", "nodeAssigned", "announcing from node \"node1\" with protocol \"bgp\"", "bgplb-speaker", "2026-12-06T09:05:00Z"));
        server.Apply("events", Event("db.1", "db", "Warning", "AllocationFailed", "about another Service", "bgplb-controller", "2026-12-06T09:06:00Z"));
        JsonObject BgpStatus(string name, string service, string node, params string[] peers) => new()
        {
            ["apiVersion"] = "metallb.io/v1beta1",
            ["kind"] = "ServiceBGPStatus",
            ["metadata"] = new JsonObject
            {
                ["name"] = name, ["namespace"] = "metallb-system",
                ["labels"] = new JsonObject { ["metallb.io/node"] = node, ["metallb.io/service-name"] = service, ["metallb.io/service-namespace"] = "default" },
            },
            ["status"] = new JsonObject
            {
                ["node"] = node, ["serviceName"] = service, ["serviceNamespace"] = "default", ["peers"] = new JsonArray([.. peers.Select(p => JsonValue.Create(p))]),
            },
        };
        server.Apply("servicebgpstatuses", BgpStatus("web-abc", "web", "node1", "router"));
        server.Apply("servicebgpstatuses", BgpStatus("db-abc", "db", "node2", "elsewhere"));
        // The user may not list pods: the explanation goes on without the sessions.
        server.Forbid = what => what == "LIST pods";
        var kubeconfig = Path.Combine(_cluster.Directory, "kubeconfig");
        server.WriteKubeconfig(kubeconfig);

        var (code, output, error) = await Cluster.RunAsync("explain", "default/web", "--kubeconfig", kubeconfig);
        Assert.True(code == 0, output + error);
        Assert.Contains("5 bgp             n/a     sessions and routes not checked: 403 Forbidden on /api/v1/namespaces/metallb-system/pods "
            + "(grant list on pods and get on pods/proxy in metallb-system", output, StringComparison.Ordinal);
        Assert.Contains("- ServiceBGPStatus of node1: announced to router", output, StringComparison.Ordinal);
        Assert.DoesNotContain("elsewhere", output, StringComparison.Ordinal);
        var events = output[output.IndexOf("Events of the Service, newest first:", StringComparison.Ordinal)..];
        Assert.Matches(
            "^Events of the Service, newest first:\n"
            + "  - Normal nodeAssigned from bgplb-speaker, last at 2026-12-06T09:05:00.0000000\\+00:00: announcing from node \"node1\" with protocol \"bgp\"\n"
            + "  - Warning AllocationFailed from bgplb-controller \\(3x\\), last at 2026-12-06T09:00:00.0000000\\+00:00: no free IPv4 address in pool 'main'\n",
            events);
        Assert.DoesNotContain("about another Service", output, StringComparison.Ordinal);

        var (_, json, _) = await Cluster.RunAsync("explain", "default/web", "--kubeconfig", kubeconfig, "-o", "json");
        using (var document = JsonDocument.Parse(json))
        {
            Assert.Equal(["nodeAssigned", "AllocationFailed"], document.RootElement.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("reason").GetString()));
            Assert.Equal(0, document.RootElement.GetProperty("unread").GetArrayLength());
        }

        // Nothing but the configuration readable: explain still walks the path and names what it could not read.
        server.Forbid = what => what is "LIST pods" or "LIST events" or "LIST servicebgpstatuses" or "LIST servicel2statuses";
        var (restricted, restrictedOutput, restrictedError) = await Cluster.RunAsync("explain", "default/web", "--kubeconfig", kubeconfig);
        Assert.True(restricted == 0, restrictedOutput + restrictedError);
        Assert.DoesNotContain("Events of the Service", restrictedOutput, StringComparison.Ordinal);
        Assert.Contains("(grant list on events in default)", restrictedOutput, StringComparison.Ordinal);
        Assert.Contains("(grant list on servicebgpstatuses in metallb-system)", restrictedOutput, StringComparison.Ordinal);
        Assert.Contains("(grant list on servicel2statuses in metallb-system)", restrictedOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kubernetes_mode_names_a_node_the_planner_would_announce_from_that_runs_no_speaker()
    {
        await using var server = await FakeKubeApiServer.StartAsync();
        ApplyBgpSetup(server);
        server.Apply("nodes", KubeObjects.Node("node2"));
        // externalTrafficPolicy Local with the only endpoint on node2; the one speaker pod runs on node1.
        var web = KubeObjects.Service("default", "web", "203.0.113.0");
        web["spec"]!["externalTrafficPolicy"] = "Local";
        server.Apply("services", web);
        server.Apply("endpointslices", KubeObjects.EndpointSlice("default", "web", "node2", "10.0.0.5"));
        server.Apply("pods", SpeakerPod("metallb-system"));
        var node1 = FakeSpeaker.Announcing() with
        {
            Services =
            [
                new ServiceStatus("default/web", [new AddressStatus("203.0.113.0", "main", null,
                    new BgpDecisionStatus(false, AnnounceReason.NoLocalReadyEndpoint, "externalTrafficPolicy Local and no ready endpoint on this node", []), null)]),
            ],
        };
        var status = JsonSerializer.Serialize(node1, StatusJsonContext.Default.SpeakerStatus);
        server.PodProxy = (pod, path) => pod == "metallb-system/speaker-x1:7474" && path == "status" ? status : null;
        var kubeconfig = Path.Combine(_cluster.Directory, "kubeconfig");
        server.WriteKubeconfig(kubeconfig);

        var (code, output, error) = await Cluster.RunAsync("explain", "default/web", "--kubeconfig", kubeconfig);

        Assert.True(code == 1, output + error);
        Assert.True(output.Contains("4 nodes           FAILED  no node announces 203.0.113.0: node2: no Running speaker pod on the node (the planner would announce from it)",
            StringComparison.Ordinal), output);
        Assert.Contains("reason: SpeakerNotRunning", output, StringComparison.Ordinal);
        Assert.Contains("- node1 BGP 203.0.113.0: does not announce (NoLocalReadyEndpoint: ", output, StringComparison.Ordinal);

        // Given as --speaker, the speakers are not known to be all: node2 is computed, as before.
        await using var speaker = await FakeSpeaker.StartAsync(node1);
        var (given, givenOutput, _) = await Cluster.RunAsync("explain", "default/web", "--kubeconfig", kubeconfig, "--speaker", speaker.Url.ToString());
        Assert.Contains("node2 BGP 203.0.113.0: announces [computed: no --speaker for this node]", givenOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("SpeakerNotRunning", givenOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_system_namespace_is_refused_with_a_config_directory()
    {
        var (code, _, error) = await Cluster.RunAsync("status", "--config", _cluster.Directory, "--system-namespace", "lb-system");
        Assert.Equal(2, code);
        Assert.Contains("--system-namespace is for --kubeconfig or --in-cluster", error, StringComparison.Ordinal);
    }

    /// <summary>A Running speaker pod, speaker-x1, with its "monitoring" container port when given.</summary>
    private static JsonObject SpeakerPod(string ns, int? monitoringPort = null)
    {
        var ports = new JsonArray(new JsonObject { ["name"] = "bgp", ["containerPort"] = 179 });
        if (monitoringPort is { } port)
            ports.Add(new JsonObject { ["name"] = "monitoring", ["containerPort"] = port });
        return new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Pod",
            ["metadata"] = new JsonObject { ["name"] = "speaker-x1", ["namespace"] = ns, ["labels"] = new JsonObject { ["component"] = "speaker" } },
            ["spec"] = new JsonObject { ["containers"] = new JsonArray(new JsonObject { ["name"] = "speaker", ["ports"] = ports }) },
            ["status"] = new JsonObject { ["phase"] = "Running" },
        };
    }

    /// <summary>A pool, a peer, an advertisement of every pool and node1, as in <see cref="Yaml.BgpSetup"/>.</summary>
    private static void ApplyBgpSetup(FakeKubeApiServer server)
    {
        server.Apply("ipaddresspools", KubeObjects.Pool("main", "203.0.113.0/24"));
        server.Apply("bgppeers", KubeObjects.Peer("router", "198.18.0.1", 64513, 64512, 179));
        server.Apply("bgpadvertisements", KubeObjects.BgpAdvertisement("adv"));
        server.Apply("nodes", KubeObjects.Node("node1"));
    }
}
