using System.Net;
using System.Text.Json.Nodes;
using BgpLb.Integration.Tests.Harness;
using BgpLb.Kubernetes.Testing;
using BgpLb.Netlab;
using Xunit.Abstractions;
using static BgpLb.Integration.Tests.SpeakerLab;

namespace BgpLb.Integration.Tests;

/// <summary>
/// The real bgplb executable against a standalone lab with a real BIRD router and the speaker's /status: each cause of
/// an unreachable Service built on purpose makes explain exit 1 naming it; the fixed configuration exits 0, with the
/// route advertised on the Established session. In Kubernetes mode the same against the in-test API server.
/// </summary>
[Collection(LabTestGroup.Name)]
public sealed class ExplainLabTests(ITestOutputHelper output)
{
    private const string Speaker = "http://127.0.0.1:7474";

    [NetnsFact]
    public async Task Explain_names_each_cause_with_exit_1_and_the_fixed_Services_exit_0()
    {
        await using var lab = await Lab.CreateAsync("cli-explain", 1, output.WriteLine);
        var node = lab.Nodes[0];
        var name = NodeName(lab, node);
        var directory = ConfigDirectory(lab, node);
        var router = await StartRouterAsync(RouterKind.Bird, lab, SpeakerAs);
        List<string> broken =
        [
            .. WebService(lab),
            MetalLbManifests.Service("local", IPAddress.Parse("203.0.113.20"), externalTrafficPolicy: "Local"),
            MetalLbManifests.EndpointSlice("local", "node9", IPAddress.Parse("10.0.0.6")),
            MetalLbManifests.ServiceWithoutAddress("outside", requested: IPAddress.Parse("192.0.2.50")),
            MetalLbManifests.Service("idle", IPAddress.Parse("203.0.113.30")),
            // A second pool that no advertisement selects.
            MetalLbManifests.IpAddressPool("orphan", "198.51.100.0/24"),
            MetalLbManifests.ServiceWithoutAddress("orphaned", requested: IPAddress.Parse("198.51.100.7")),
            MetalLbManifests.EndpointSlice("orphaned", name, IPAddress.Parse("10.0.0.8")),
        ];
        await StartSpeakersAsync(lab, n => PeerDocuments(lab, n, SpeakerAs), broken);
        await router.WaitForEstablishedAsync(node.Address, SessionTimeout);
        await router.WaitForPathsAsync("203.0.113.10/32", RouteTimeout, p => p.Count > 0);

        Task<CommandResult> ExplainAsync(string service, params string[] more) => ExplainLabTests.ExplainAsync(node, directory, service, more);

        var web = await Wait.ForAsync("explain default/web to hold", RouteTimeout, () => ExplainAsync("web"), r => r.ExitCode == 0, Show);
        output.WriteLine(web.StandardOutput);
        Assert.Contains("5 bgp             held    1 route advertised on Established sessions: node1 -> router", web.StandardOutput, StringComparison.Ordinal);

        foreach (var (service, step, reason) in new[]
        {
            ("local", "step 4 (nodes)", "NoLocalReadyEndpoint"),
            ("outside", "step 2 (allocation)", "NotInAnyPool"),
            ("idle", "step 4 (nodes)", "NoReadyEndpoint"),
            ("orphaned", "step 3 (advertisements)", "NoAdvertisementForPool"),
        })
        {
            var result = await ExplainAsync(service);
            output.WriteLine(result.StandardOutput);
            Assert.True(result.ExitCode == 1, Show(result));
            Assert.Contains($"FAILED at {step}", result.StandardOutput, StringComparison.Ordinal);
            Assert.Contains($"reason: {reason}", result.StandardOutput, StringComparison.Ordinal);
        }

        var status = await BgplbCli.RunInNamespaceAsync(node.Namespace, "status", "--config", directory, "--speaker", Speaker);
        output.WriteLine(status.StandardOutput);
        Assert.True(status.ExitCode == 0, Show(status));
        Assert.Contains("node1  router  198.18.", status.StandardOutput, StringComparison.Ordinal);

        // The fixes: an endpoint on the announcing node, an address inside the pool, an EndpointSlice, an advertisement for the pool.
        List<string> fixedServices =
        [
            .. WebService(lab),
            MetalLbManifests.Service("local", IPAddress.Parse("203.0.113.20"), externalTrafficPolicy: "Local"),
            MetalLbManifests.EndpointSlice("local", name, IPAddress.Parse("10.0.0.6")),
            MetalLbManifests.ServiceWithoutAddress("outside", requested: IPAddress.Parse("203.0.113.50")),
            MetalLbManifests.EndpointSlice("outside", name, IPAddress.Parse("10.0.0.7")),
            MetalLbManifests.Service("idle", IPAddress.Parse("203.0.113.30")),
            MetalLbManifests.EndpointSlice("idle", name, IPAddress.Parse("10.0.0.9")),
            MetalLbManifests.IpAddressPool("orphan", "198.51.100.0/24"),
            MetalLbManifests.BgpAdvertisement("orphan-adv", ["orphan"]),
            MetalLbManifests.ServiceWithoutAddress("orphaned", requested: IPAddress.Parse("198.51.100.7")),
            MetalLbManifests.EndpointSlice("orphaned", name, IPAddress.Parse("10.0.0.8")),
        ];
        Rewrite(lab, node, "services.yaml", fixedServices);
        foreach (var (service, prefix) in new[] { ("local", "203.0.113.20/32"), ("outside", "203.0.113.50/32"), ("idle", "203.0.113.30/32"), ("orphaned", "198.51.100.7/32") })
        {
            await router.WaitForPathsAsync(prefix, RouteTimeout, p => p.Count > 0);
            var result = await Wait.ForAsync($"explain default/{service} to hold", RouteTimeout, () => ExplainAsync(service), r => r.ExitCode == 0, Show);
            Assert.Contains($"{prefix} advertised", result.StandardOutput, StringComparison.Ordinal);
        }
        var json = await ExplainAsync("local", "-o", "json");
        output.WriteLine(json.StandardOutput);
        Assert.Contains("\"verdict\": \"Held\"", json.StandardOutput, StringComparison.Ordinal);
        lab.Passed();
    }

    [NetnsFact]
    public async Task A_session_the_router_shut_down_fails_step_5_with_its_state_and_last_error_and_holds_once_it_is_back()
    {
        await using var lab = await Lab.CreateAsync("cli-session", 1, output.WriteLine);
        var node = lab.Nodes[0];
        var directory = ConfigDirectory(lab, node);
        var router = (BirdRouter)await StartRouterAsync(RouterKind.Bird, lab, SpeakerAs);
        await StartSpeakersAsync(lab, n => PeerDocuments(lab, n, SpeakerAs), WebService(lab));
        await router.WaitForEstablishedAsync(node.Address, SessionTimeout);
        await router.WaitForPathsAsync("203.0.113.10/32", RouteTimeout, p => p.Count > 0);

        Task<CommandResult> ExplainAsync() => ExplainLabTests.ExplainAsync(node, directory, "web");

        // The router's side of the session shut down (its BGP protocol disabled): Cease/Administrative Shutdown, then refusals.
        await router.BirdcAsync("disable", BirdRouter.ProtocolName(node.Address));
        var down = await Wait.ForAsync("explain default/web to fail", SessionTimeout, ExplainAsync, r => r.ExitCode != 0, Show);
        output.WriteLine(down.StandardOutput);
        Assert.True(down.ExitCode == 1, Show(down));
        Assert.Contains("FAILED at step 5 (bgp)", down.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("reason: SessionNotEstablished", down.StandardOutput, StringComparison.Ordinal);
        Assert.Matches(@"node1 -> router \(198\.18\.[0-9.]+\): session (Idle|Connect|Active|OpenSent|OpenConfirm), last error: ", down.StandardOutput);

        await router.BirdcAsync("enable", BirdRouter.ProtocolName(node.Address));
        await router.WaitForEstablishedAsync(node.Address, SessionTimeout);
        var up = await Wait.ForAsync("explain default/web to hold", RouteTimeout, ExplainAsync, r => r.ExitCode == 0, Show);
        output.WriteLine(up.StandardOutput);
        Assert.Contains("5 bgp             held    1 route advertised on Established sessions: node1 -> router", up.StandardOutput, StringComparison.Ordinal);
        Assert.Matches(@"203\.0\.113\.10/32 advertised, sent at 20[0-9-]+T[0-9:.]+\+00:00", up.StandardOutput);
        lab.Passed();
    }

    /// <summary>
    /// The node-level causes, one after the other on the one node of the lab (its peers.yaml rewritten): each makes the
    /// router lose the route and explain fail step 4 with the cause; labelling the node as the advertisement asks fixes it.
    /// </summary>
    [NetnsFact]
    public async Task Excluded_unavailable_and_unselected_nodes_fail_step_4_and_a_selected_node_holds()
    {
        await using var lab = await Lab.CreateAsync("cli-nodes", 1, output.WriteLine);
        var node = lab.Nodes[0];
        var name = NodeName(lab, node);
        var directory = ConfigDirectory(lab, node);
        var router = await StartRouterAsync(RouterKind.Bird, lab, SpeakerAs);
        await StartSpeakersAsync(lab, n => PeerDocuments(lab, n, SpeakerAs), WebService(lab));
        await router.WaitForEstablishedAsync(node.Address, SessionTimeout);
        const string Prefix = "203.0.113.10/32";
        await router.WaitForPathsAsync(Prefix, RouteTimeout, p => p.Count > 0);

        List<string> Peers(string nodeDocument, IReadOnlyDictionary<string, string>? nodeSelector = null) =>
        [
            nodeDocument,
            MetalLbManifests.IpAddressPool("pool", "203.0.113.0/24"),
            MetalLbManifests.BgpPeer("router", SpeakerAs, RouterAs, node.RouterAddress, holdTime: "3s"),
            MetalLbManifests.BgpAdvertisement("adv", ["pool"], nodeSelector: nodeSelector),
        ];
        var rack = new Dictionary<string, string> { ["topology.bgplb.io/rack"] = "r2" };
        foreach (var (cause, peers, detail) in new[]
        {
            ("NodeExcluded", Peers(MetalLbManifests.Node(name, node.Address, new Dictionary<string, string> { ["node.kubernetes.io/exclude-from-external-load-balancers"] = "" })),
                "exclude-from-external-load-balancers"),
            ("NodeNetworkUnavailable", Peers(MetalLbManifests.Node(name, node.Address, networkUnavailable: true)), "NetworkUnavailable"),
            ("NodeNotSelected", Peers(MetalLbManifests.Node(name, node.Address), rack), "nodeSelectors of adv"),
        })
        {
            Rewrite(lab, node, "peers.yaml", peers);
            await router.WaitForPathsAsync(Prefix, RouteTimeout, p => p.Count == 0);
            var result = await Wait.ForAsync($"explain default/web to name {cause}", RouteTimeout, () => ExplainAsync(node, directory, "web"),
                r => r.StandardOutput.Contains($"reason: {cause}", StringComparison.Ordinal), Show);
            output.WriteLine(result.StandardOutput);
            Assert.True(result.ExitCode == 1, Show(result));
            Assert.Contains("FAILED at step 4 (nodes)", result.StandardOutput, StringComparison.Ordinal);
            Assert.Contains($"no node announces 203.0.113.10: {name}: ", result.StandardOutput, StringComparison.Ordinal);
            Assert.Contains(detail, result.StandardOutput, StringComparison.Ordinal);
        }

        Rewrite(lab, node, "peers.yaml", Peers(MetalLbManifests.Node(name, node.Address, rack), rack));
        await router.WaitForPathsAsync(Prefix, RouteTimeout, p => p.Count > 0);
        var fixedResult = await Wait.ForAsync("explain default/web to hold", RouteTimeout, () => ExplainAsync(node, directory, "web"), r => r.ExitCode == 0, Show);
        Assert.Contains($"{Prefix} advertised", fixedResult.StandardOutput, StringComparison.Ordinal);
        lab.Passed();
    }

    /// <summary>
    /// Causes before the network: an unknown annotation (step 1), a pool with no address left and a sharing key that does
    /// not match the address's holder (step 2). The Services of the fixed configuration get their addresses, BIRD their routes.
    /// </summary>
    [NetnsFact]
    public async Task A_mistyped_annotation_an_exhausted_pool_and_a_sharing_key_mismatch_fail_and_their_fixes_hold()
    {
        await using var lab = await Lab.CreateAsync("cli-alloc", 1, output.WriteLine);
        var node = lab.Nodes[0];
        var name = NodeName(lab, node);
        var directory = ConfigDirectory(lab, node);
        var router = await StartRouterAsync(RouterKind.Bird, lab, SpeakerAs);
        static Dictionary<string, string> Annotation(string key, string value) => new() { [key] = value };
        List<string> Services(string tinyPool, string typoAnnotation, string sharingKey) =>
        [
            .. WebService(lab),
            MetalLbManifests.IpAddressPool("tiny", tinyPool),
            MetalLbManifests.BgpAdvertisement("tiny-adv", ["tiny"]),
            // tiny's only address (in the broken configuration) is already held.
            MetalLbManifests.Service("holder", IPAddress.Parse("198.51.100.1")),
            MetalLbManifests.EndpointSlice("holder", name, IPAddress.Parse("10.0.0.11")),
            MetalLbManifests.ServiceWithoutAddress("late", annotations: Annotation("metallb.io/address-pool", "tiny")),
            MetalLbManifests.EndpointSlice("late", name, IPAddress.Parse("10.0.0.12")),
            MetalLbManifests.ServiceWithoutAddress("typo", annotations: Annotation(typoAnnotation, "tiny")),
            MetalLbManifests.EndpointSlice("typo", name, IPAddress.Parse("10.0.0.13")),
            MetalLbManifests.Service("dns-tcp", IPAddress.Parse("203.0.113.40"), annotations: Annotation("metallb.io/allow-shared-ip", "dns"), port: 53),
            MetalLbManifests.EndpointSlice("dns-tcp", name, IPAddress.Parse("10.0.0.14")),
            MetalLbManifests.ServiceWithoutAddress("dns-udp", requested: IPAddress.Parse("203.0.113.40"),
                annotations: Annotation("metallb.io/allow-shared-ip", sharingKey), port: 5353),
            MetalLbManifests.EndpointSlice("dns-udp", name, IPAddress.Parse("10.0.0.15")),
        ];
        await StartSpeakersAsync(lab, n => PeerDocuments(lab, n, SpeakerAs), Services("198.51.100.1/32", "metallb.universe.tf/adress-pool", "dns-v2"));
        await router.WaitForEstablishedAsync(node.Address, SessionTimeout);
        await router.WaitForPathsAsync("198.51.100.1/32", RouteTimeout, p => p.Count > 0);

        foreach (var (service, step, reason, detail) in new[]
        {
            ("typo", "step 1 (service)", "UnknownAnnotation", "metallb.universe.tf/adress-pool"),
            ("late", "step 2 (allocation)", "PoolExhausted", "tiny"),
            ("dns-udp", "step 2 (allocation)", "AddressInUse", "default/dns-tcp"),
        })
        {
            var result = await ExplainAsync(node, directory, service);
            output.WriteLine(result.StandardOutput);
            Assert.True(result.ExitCode == 1, Show(result));
            Assert.Contains($"FAILED at {step}", result.StandardOutput, StringComparison.Ordinal);
            Assert.Contains($"reason: {reason}", result.StandardOutput, StringComparison.Ordinal);
            Assert.Contains(detail, result.StandardOutput, StringComparison.Ordinal);
        }

        // Room in tiny for late and typo, the annotation's MetalLB name, the holder's sharing key.
        Rewrite(lab, node, "services.yaml", Services("198.51.100.1-198.51.100.3", "metallb.io/address-pool", "dns"));
        foreach (var prefix in new[] { "198.51.100.2/32", "198.51.100.3/32" })
        {
            await router.WaitForPathsAsync(prefix, RouteTimeout, p => p.Count > 0);
        }
        foreach (var service in new[] { "typo", "late", "dns-udp" })
        {
            var result = await Wait.ForAsync($"explain default/{service} to hold", RouteTimeout, () => ExplainAsync(node, directory, service), r => r.ExitCode == 0, Show);
            output.WriteLine(result.StandardOutput);
        }
        lab.Passed();
    }

    /// <summary>
    /// Kubernetes mode end to end: the real speaker reads the in-test API server (run in the node's namespace) and peers with
    /// BIRD; explain reads the same API server and the speaker's /status. Each cause is applied as kubectl would (an update
    /// of the object, one watch event), named by explain with exit 1, and undone: the route is back and explain holds.
    /// </summary>
    [NetnsFact]
    public async Task In_Kubernetes_mode_each_cause_applied_through_the_API_server_is_named_and_undoing_it_holds()
    {
        await using var lab = await Lab.CreateAsync("cli-kube", 1, output.WriteLine);
        var node = lab.Nodes[0];
        var name = NodeName(lab, node);
        var router = (BirdRouter)await StartRouterAsync(RouterKind.Bird, lab, SpeakerAs);
        var kubeconfig = Path.Combine(lab.Directory, "kubeconfig");
        using var server = await FakeApiServerProcess.StartAsync(node.Namespace, kubeconfig, lab.Directory);
        var nodeObject = KubeObjects.Node(name);
        var web = KubeObjects.Service("default", "web", "203.0.113.10");
        await server.ApplyAllAsync(
        [
            ("nodes", nodeObject),
            ("ipaddresspools", KubeObjects.Pool("main", "203.0.113.0/24")),
            ("ipaddresspools", KubeObjects.Pool("tiny", "198.51.100.1/32")),
            ("bgppeers", KubeObjects.Peer("router", node.RouterAddress.ToString(), SpeakerAs, RouterAs, 179)),
            ("bgpadvertisements", KubeObjects.BgpAdvertisement("adv")),
            ("services", web),
            ("endpointslices", KubeObjects.EndpointSlice("default", "web", name, "10.0.0.5")),
            ("services", KubeObjects.Service("default", "holder", "198.51.100.1")),
            ("endpointslices", KubeObjects.EndpointSlice("default", "holder", name, "10.0.0.6")),
        ]);
        await SpeakerProcess.StartWithArgumentsAsync(lab, node.Namespace, "speaker-kube", name, 7474,
            ["--node", name, "--kubeconfig", kubeconfig, "--bgp-listen", "0.0.0.0:179", "--metrics-listen", "127.0.0.1:7474", "--log-level", "debug"], null);
        await router.WaitForEstablishedAsync(node.Address, SessionTimeout);
        const string Prefix = "203.0.113.10/32";
        await router.WaitForPathsAsync(Prefix, RouteTimeout, p => p.Count > 0);

        Task<CommandResult> ExplainAsync(string service) =>
            BgplbCli.RunInNamespaceAsync(node.Namespace, "explain", "default/" + service, "--kubeconfig", kubeconfig, "--speaker", Speaker);
        async Task<CommandResult> HoldsAsync(string service)
        {
            var held = await Wait.ForAsync($"explain default/{service} to hold", RouteTimeout, () => ExplainAsync(service), r => r.ExitCode == 0, Show);
            Assert.Contains("from pool", held.StandardOutput, StringComparison.Ordinal);
            return held;
        }
        async Task NamesAsync(string service, string step, string reason, string detail)
        {
            var result = await Wait.ForAsync($"explain default/{service} to name {reason}", RouteTimeout, () => ExplainAsync(service),
                r => r.StandardOutput.Contains($"reason: {reason}", StringComparison.Ordinal), Show);
            output.WriteLine(result.StandardOutput);
            Assert.True(result.ExitCode == 1, Show(result));
            Assert.Contains($"FAILED at {step}", result.StandardOutput, StringComparison.Ordinal);
            Assert.Contains(detail, result.StandardOutput, StringComparison.Ordinal);
        }

        var announced = await HoldsAsync("web");
        output.WriteLine(announced.StandardOutput);
        Assert.Contains($"{Prefix} advertised, sent at ", announced.StandardOutput, StringComparison.Ordinal);
        // Without --speaker (and no speaker pod to proxy to) explain shows what the speaker recorded in the API server.
        var recorded = await Wait.ForAsync("explain default/web to show the speaker's ServiceBGPStatus and event", RouteTimeout,
            () => BgplbCli.RunInNamespaceAsync(node.Namespace, "explain", "default/web", "--kubeconfig", kubeconfig),
            r => r.StandardOutput.Contains("Events of the Service", StringComparison.Ordinal) && r.StandardOutput.Contains("ServiceBGPStatus", StringComparison.Ordinal), Show);
        output.WriteLine(recorded.StandardOutput);
        Assert.True(recorded.ExitCode == 0, Show(recorded));
        Assert.Contains($"- ServiceBGPStatus of {name}: announced to router", recorded.StandardOutput, StringComparison.Ordinal);
        Assert.Contains($"Normal nodeAssigned from bgplb-speaker", recorded.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("sessions and routes not checked: no Running pod labelled component=speaker in metallb-system", recorded.StandardOutput, StringComparison.Ordinal);

        // Causes that withdraw the route: applied through the API server, explain names each; undone, the route is back.
        var labels = nodeObject["metadata"]!["labels"]!.AsObject();
        var slice = KubeObjects.EndpointSlice("default", "web", name, "10.0.0.5");
        var rack = new JsonObject { ["topology.bgplb.io/rack"] = "r2" };
        async Task ApplyNodeAsync(Action change)
        {
            change();
            await server.ApplyAsync("nodes", nodeObject);
        }
        async Task ApplyAdvertisementAsync(JsonObject spec) => await server.ApplyAsync("bgpadvertisements", Advertisement(spec));
        JsonObject Advertisement(JsonObject spec)
        {
            var advertisement = KubeObjects.BgpAdvertisement("adv");
            advertisement["spec"] = spec;
            return advertisement;
        }
        async Task ApplyWebAsync(string policy, string endpointNode)
        {
            web["spec"]!["externalTrafficPolicy"] = policy;
            await server.ApplyAsync("endpointslices", KubeObjects.EndpointSlice("default", "web", endpointNode, "10.0.0.5"));
            await server.ApplyAsync("services", web);
        }
        foreach (var (cause, step, detail, apply, undo) in new (string, string, string, Func<Task>, Func<Task>)[]
        {
            ("NodeExcluded", "step 4 (nodes)", "exclude-from-external-load-balancers",
                () => ApplyNodeAsync(() => labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""),
                () => ApplyNodeAsync(() => labels.Remove("node.kubernetes.io/exclude-from-external-load-balancers"))),
            ("NodeNetworkUnavailable", "step 4 (nodes)", "NetworkUnavailable",
                () => ApplyNodeAsync(() => nodeObject["status"] = new JsonObject
                {
                    ["conditions"] = new JsonArray(new JsonObject { ["type"] = "NetworkUnavailable", ["status"] = "True", ["reason"] = "NoRouteCreated" }),
                }),
                () => ApplyNodeAsync(() => nodeObject.Remove("status"))),
            ("NodeNotSelected", "step 4 (nodes)", "nodeSelectors of adv",
                () => ApplyAdvertisementAsync(new JsonObject { ["nodeSelectors"] = new JsonArray(new JsonObject { ["matchLabels"] = rack.DeepClone() }) }),
                () => ApplyAdvertisementAsync(new JsonObject())),
            ("NoAdvertisementForPool", "step 3 (advertisements)", "pool 'main'",
                () => ApplyAdvertisementAsync(new JsonObject { ["ipAddressPools"] = new JsonArray("tiny") }),
                () => ApplyAdvertisementAsync(new JsonObject())),
            ("NoReadyEndpoint", "step 4 (nodes)", "no ready endpoint",
                () => server.RemoveAsync("endpointslices", "default", slice["metadata"]!["name"]!.GetValue<string>()),
                () => server.ApplyAsync("endpointslices", slice)),
            ("NoLocalReadyEndpoint", "step 4 (nodes)", "externalTrafficPolicy Local and no ready endpoint on this node",
                () => ApplyWebAsync("Local", "node9"),
                () => ApplyWebAsync("Cluster", name)),
            ("SessionNotEstablished", "step 5 (bgp)", $"{name} -> router",
                () => router.BirdcAsync("disable", BirdRouter.ProtocolName(node.Address)),
                () => router.BirdcAsync("enable", BirdRouter.ProtocolName(node.Address))),
        })
        {
            await apply();
            await router.WaitForPathsAsync(Prefix, RouteTimeout, p => p.Count == 0);
            await NamesAsync("web", step, cause, detail);
            await undo();
            await router.WaitForPathsAsync(Prefix, RouteTimeout, p => p.Count > 0);
            await HoldsAsync("web");
        }
        // The speaker raised a Warning event for the causes that hold for every node; explain lists the Service's events.
        var events = (await HoldsAsync("web")).StandardOutput;
        Assert.Matches(@"Warning announceFailed from bgplb-speaker, last at [0-9T:.+-]+: 203\.0\.113\.10 is announced by no node: NoReadyEndpoint \(", events);
        Assert.Matches(@"Warning announceFailed from bgplb-speaker, last at [0-9T:.+-]+: 203\.0\.113\.10 is announced by no node: NoAdvertisementForPool \(", events);

        // A mistyped annotation: the speaker still announces, but the annotation does nothing.
        web["metadata"]!["annotations"] = new JsonObject { ["metallb.universe.tf/allow-shared-ip"] = "dns", ["metallb.io/alow-shared-ip"] = "dns" };
        await server.ApplyAsync("services", web);
        await NamesAsync("web", "step 1 (service)", "UnknownAnnotation", "metallb.io/alow-shared-ip");
        web["metadata"]!["annotations"] = new JsonObject { ["metallb.io/allow-shared-ip"] = "dns" };
        await server.ApplyAsync("services", web);
        await HoldsAsync("web");

        // Allocation causes of Services that have no address yet (no controller runs: explain runs the allocator).
        var late = KubeObjects.Service("default", "late");
        late["metadata"]!["annotations"] = new JsonObject { ["metallb.io/address-pool"] = "tiny" };
        var dns = KubeObjects.Service("default", "dns-udp");
        dns["metadata"]!["annotations"] = new JsonObject { ["metallb.io/loadBalancerIPs"] = "203.0.113.10", ["metallb.io/allow-shared-ip"] = "dns-v2" };
        dns["spec"]!["ports"] = new JsonArray(new JsonObject { ["port"] = 53, ["protocol"] = "UDP" });
        var outside = KubeObjects.Service("default", "outside");
        outside["metadata"]!["annotations"] = new JsonObject { ["metallb.io/loadBalancerIPs"] = "192.0.2.50" };
        await server.ApplyAsync("services", late);
        await server.ApplyAsync("services", dns);
        await server.ApplyAsync("services", outside);
        await NamesAsync("outside", "step 2 (allocation)", "NotInAnyPool", "192.0.2.50");
        await NamesAsync("late", "step 2 (allocation)", "PoolExhausted", "pool 'tiny'");
        await NamesAsync("dns-udp", "step 2 (allocation)", "AddressInUse", "default/web");
        // With the holder's key the address is shared; the allocator would give it, but no controller wrote it yet.
        dns["metadata"]!["annotations"]!["metallb.io/allow-shared-ip"] = "dns";
        await server.ApplyAsync("services", dns);
        await NamesAsync("dns-udp", "step 2 (allocation)", "NotAllocated", "the allocator would give 203.0.113.10 from pool 'main'");
        lab.Passed();
    }

    [Fact]
    public async Task Explain_with_a_kubeconfig_names_a_Service_without_endpoints_and_holds_once_it_has_one()
    {
        await using var server = await FakeKubeApiServer.StartAsync();
        server.Apply("ipaddresspools", KubeObjects.Pool("main", "203.0.113.0/24"));
        server.Apply("bgppeers", KubeObjects.Peer("router", "198.18.0.1", SpeakerAs, RouterAs, 179));
        server.Apply("bgpadvertisements", KubeObjects.BgpAdvertisement("adv"));
        server.Apply("nodes", KubeObjects.Node("node1"));
        server.Apply("services", KubeObjects.Service("default", "web", "203.0.113.9"));
        var directory = Directory.CreateTempSubdirectory("bgplb-explain-kube-");
        try
        {
            var kubeconfig = Path.Combine(directory.FullName, "kubeconfig");
            server.WriteKubeconfig(kubeconfig);

            var unannounced = await BgplbCli.RunAsync("explain", "default/web", "--kubeconfig", kubeconfig);
            output.WriteLine(unannounced.StandardOutput);
            Assert.True(unannounced.ExitCode == 1, Show(unannounced));
            Assert.Contains("203.0.113.9 from pool 'main' (Service status)", unannounced.StandardOutput, StringComparison.Ordinal);
            Assert.Contains("reason: NoReadyEndpoint", unannounced.StandardOutput, StringComparison.Ordinal);

            server.Apply("endpointslices", KubeObjects.EndpointSlice("default", "web", "node1", "10.0.0.5"));
            var announced = await BgplbCli.RunAsync("explain", "default/web", "--kubeconfig", kubeconfig);
            Assert.True(announced.ExitCode == 0, Show(announced));
            Assert.Contains("announced by node1 (BGP)", announced.StandardOutput, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    /// <summary>bgplb explain default/SERVICE in the node's namespace, on its config directory and its speaker's /status.</summary>
    private static Task<CommandResult> ExplainAsync(LabNode node, string directory, string service, params string[] more) =>
        BgplbCli.RunInNamespaceAsync(node.Namespace, ["explain", "default/" + service, "--config", directory, "--speaker", Speaker, .. more]);

    private static string Show(CommandResult result) => $"exit {result.ExitCode}\n{result.StandardOutput}{result.StandardError}";
}
