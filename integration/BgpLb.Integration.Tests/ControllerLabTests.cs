using System.Net;
using System.Net.Sockets;
using BgpLb.Integration.Tests.Harness;
using BgpLb.Netlab;
using Xunit.Abstractions;

namespace BgpLb.Integration.Tests;

/// <summary>
/// bgplb-controller in the router namespace (gRPC on 0.0.0.0:7473, reached by each speaker at its router-side link
/// address) and two bgplb-speakers with --controller in the node namespaces, against BIRD.
/// </summary>
[Collection(LabTestGroup.Name)]
public sealed class ControllerLabTests(ITestOutputHelper output)
{
    private const uint RouterAs = 64512;
    private const uint SpeakerAs = 64513;
    private static readonly TimeSpan SessionTimeout = TimeSpan.FromSeconds(30);
    // The speakers' reconnect backoff to a restarted controller is capped at 10 s.
    private static readonly TimeSpan RouteTimeout = TimeSpan.FromSeconds(30);

    [NetnsFact]
    public async Task Speakers_announce_the_controllers_allocations_with_ecmp_and_a_killed_controller_withdraws_nothing()
    {
        await using var lab = await Lab.CreateAsync("ctl-ecmp", 2, output.WriteLine);
        var router = await StartRouterAsync(lab);
        var controllerConfig = Path.Combine(lab.Directory, "controller-config");
        var stateFile = Path.Combine(lab.Directory, "controller-state.json");
        MetalLbManifests.Write(controllerConfig, "pools.yaml", [MetalLbManifests.IpAddressPool("pool", "203.0.113.10-203.0.113.19")]);
        var controller = await ControllerProcess.StartAsync(lab, lab.RouterNamespace, controllerConfig, stateFile);
        await controller.WaitUntilReadyAsync(SessionTimeout);

        var speakers = new List<SpeakerProcess>();
        foreach (var node in lab.Nodes)
        {
            WriteSpeakerConfig(lab, node);
            speakers.Add(await SpeakerProcess.StartAsync(lab, node, NodeName(lab, node), SpeakerConfig(lab, node), controller: new Uri($"http://{node.RouterAddress}:7473")));
        }

        foreach (var node in lab.Nodes)
        {
            await router.WaitForEstablishedAsync(node.Address, SessionTimeout);
        }

        // Services without addresses: the controller allocates them, both speakers announce them.
        WriteServices(lab, controllerConfig, ["web-a", "web-b"]);
        foreach (var prefix in (string[])["203.0.113.10/32", "203.0.113.11/32"])
        {
            var route = await router.WaitForKernelRouteAsync(prefix, RouteTimeout, r => r?.Gateways.Count == 2);
            Assert.Equal(lab.Nodes.Select(n => n.Address.ToString()).Order(), route!.Gateways.Select(g => g.ToString()).Order());
        }

        Assert.Equal(new Dictionary<string, string> { ["default/web-a"] = "203.0.113.10", ["default/web-b"] = "203.0.113.11" }, StoredAllocations(stateFile));

        // kill -9: the speakers keep announcing what they last heard, also through a configuration change
        // (web-c, which has no address yet, is not announced).
        await controller.KillAsync();
        WriteServices(lab, controllerConfig, ["web-a", "web-b", "web-c"]);
        await Wait.HoldsForAsync(
            "both Services routed over both speakers and web-c not routed while the controller is down",
            TimeSpan.FromSeconds(5),
            () => router.GetKernelRoutesAsync(AddressFamily.InterNetwork),
            routes => HasBothNextHops(routes, "203.0.113.10/32") && HasBothNextHops(routes, "203.0.113.11/32") && routes.All(r => r.Destination != "203.0.113.12/32"));
        foreach (var speaker in speakers)
        {
            Assert.Contains("keeping the last known allocations", speaker.ReadLog(), StringComparison.Ordinal);
        }

        // Restart: the state file keeps every address; web-c gets the next one; nothing is withdrawn meanwhile.
        using var stopMonitor = new CancellationTokenSource();
        var monitor = MonitorAsync(router, ["203.0.113.10/32", "203.0.113.11/32"], stopMonitor.Token);
        controller = await ControllerProcess.StartAsync(lab, lab.RouterNamespace, controllerConfig, stateFile, name: "controller-restarted");
        await controller.WaitUntilReadyAsync(SessionTimeout);
        await router.WaitForKernelRouteAsync("203.0.113.12/32", RouteTimeout, r => r?.Gateways.Count == 2);
        await stopMonitor.CancelAsync();
        await monitor;

        Assert.Equal(
            new Dictionary<string, string> { ["default/web-a"] = "203.0.113.10", ["default/web-b"] = "203.0.113.11", ["default/web-c"] = "203.0.113.12" },
            StoredAllocations(stateFile));
        lab.Passed();
    }

    /// <summary>
    /// README "Security": certificates made by examples/security/make-certs.sh, the controller on a namespace address
    /// beyond loopback with TLS and client certificates, each speaker presenting its own; one without a certificate is refused.
    /// </summary>
    [NetnsFact]
    public async Task Speakers_reach_a_controller_beyond_loopback_over_tls_with_client_certificates_and_one_without_is_refused()
    {
        await using var lab = await Lab.CreateAsync("ctl-tls", 2, output.WriteLine);
        var router = await StartRouterAsync(lab);
        var pki = Path.Combine(lab.Directory, "pki");
        (await Command.RunAsync(Path.Combine(BuiltExecutable.RepositoryRoot(), "examples", "security", "make-certs.sh"),
            [pki, string.Join(",", lab.Nodes.Select(n => "IP:" + n.RouterAddress)), .. lab.Nodes.Select(n => NodeName(lab, n))])).EnsureSuccess();
        string Pem(string file) => Path.Combine(pki, file);

        var controllerConfig = Path.Combine(lab.Directory, "controller-config");
        MetalLbManifests.Write(controllerConfig, "pools.yaml", [MetalLbManifests.IpAddressPool("pool", "203.0.113.10-203.0.113.19")]);
        var controller = await ControllerProcess.StartAsync(lab, lab.RouterNamespace, controllerConfig, Path.Combine(lab.Directory, "controller-state.json"),
            grpcSecurity: ["--grpc-tls-cert", Pem("controller.crt"), "--grpc-tls-key", Pem("controller.key"), "--grpc-client-ca", Pem("ca.crt")]);
        await controller.WaitUntilReadyAsync(SessionTimeout);

        foreach (var node in lab.Nodes)
        {
            WriteSpeakerConfig(lab, node);
            await SpeakerProcess.StartAsync(lab, node, NodeName(lab, node), SpeakerConfig(lab, node), controller: new Uri($"https://{node.RouterAddress}:7473"),
                controllerCredentials: ["--controller-ca", Pem("ca.crt"), "--controller-cert", Pem(NodeName(lab, node) + ".crt"), "--controller-key", Pem(NodeName(lab, node) + ".key")]);
        }

        WriteServices(lab, controllerConfig, ["web-a"]);
        var route = await router.WaitForKernelRouteAsync("203.0.113.10/32", RouteTimeout, r => r?.Gateways.Count == 2);
        Assert.Equal(lab.Nodes.Select(n => n.Address.ToString()).Order(), route!.Gateways.Select(g => g.ToString()).Order());

        // The same CA but no client certificate: the controller answers UNAUTHENTICATED and the speaker says so.
        var node1 = lab.Nodes[0];
        var strangerConfig = Path.Combine(lab.Directory, "config-stranger");
        MetalLbManifests.Write(strangerConfig, "node.yaml", [MetalLbManifests.Node("stranger", node1.Address)]);
        var stranger = await SpeakerProcess.StartAsync(lab, node1.Namespace, "speaker-stranger", "stranger", strangerConfig, metricsPort: 7475, bgpListen: "0.0.0.0:0",
            controller: new Uri($"https://{node1.RouterAddress}:7473"), controllerCredentials: ["--controller-ca", Pem("ca.crt")]);
        await stranger.Process.WaitUntilReadyAsync("refusal logged", SessionTimeout, () => Task.FromResult(
            stranger.ReadLog().Contains("refused our credentials (Unauthenticated: a client certificate is required", StringComparison.Ordinal)));
        Assert.Contains("Refused /bgplb.allocation.v1.AllocationService/WatchAllocations", controller.ReadLog(), StringComparison.Ordinal);
        lab.Passed();
    }

    [NetnsFact]
    public async Task A_corrupt_state_file_is_refused_with_an_error_naming_it()
    {
        await using var lab = await Lab.CreateAsync("ctl-corrupt", 0, output.WriteLine);
        var config = Path.Combine(lab.Directory, "controller-config");
        MetalLbManifests.Write(config, "pools.yaml", [MetalLbManifests.IpAddressPool("pool", "203.0.113.10-203.0.113.19")]);
        var stateFile = lab.WriteFile("controller-state.json", "{\"version\": 1, \"allocations\": {");

        var controller = await ControllerProcess.StartAsync(lab, lab.RouterNamespace, config, stateFile);
        var exitCode = await controller.Process.WaitForExitAsync(TimeSpan.FromSeconds(20));

        Assert.NotEqual(0, exitCode);
        Assert.Contains($"state file {stateFile} is corrupt", controller.ReadLog(), StringComparison.Ordinal);
        Assert.Equal("{\"version\": 1, \"allocations\": {", await File.ReadAllTextAsync(stateFile));
        lab.Passed();
    }

    [NetnsFact]
    public async Task Without_controller_a_speaker_allocates_in_process_and_addresses_do_not_move()
    {
        await using var lab = await Lab.CreateAsync("ctl-inproc", 1, output.WriteLine);
        var node = lab.Nodes[0];
        var router = await Router.StartAsync(RouterKind.Bird, lab, lab.RouterNamespace, "router",
            new RouterOptions(IPAddress.Parse("198.18.255.1"), [new BgpNeighbor(node.Address, SpeakerAs) { HoldTime = 3 }]) { LocalAs = RouterAs });
        MetalLbManifests.Write(SpeakerConfig(lab, node), "peers.yaml",
        [
            MetalLbManifests.Node(NodeName(lab, node), node.Address),
            MetalLbManifests.IpAddressPool("pool", "203.0.113.10-203.0.113.19"),
            MetalLbManifests.BgpPeer("router", SpeakerAs, RouterAs, node.RouterAddress, holdTime: "3s"),
            MetalLbManifests.BgpAdvertisement("adv", ["pool"]),
            MetalLbManifests.Service("carried", IPAddress.Parse("203.0.113.15")),
            MetalLbManifests.EndpointSlice("carried", NodeName(lab, node), IPAddress.Parse("10.0.0.5")),
        ]);
        WriteServices(lab, null, ["web-m"]);
        await SpeakerProcess.StartAsync(lab, node, NodeName(lab, node), SpeakerConfig(lab, node));

        await router.WaitForKernelRouteAsync("203.0.113.10/32", SessionTimeout, r => r is not null);
        await router.WaitForKernelRouteAsync("203.0.113.15/32", RouteTimeout, r => r is not null);

        // web-a sorts first: allocated from scratch it would take .10; web-m keeps it, web-a gets the next free one.
        WriteServices(lab, null, ["web-a", "web-m"]);
        await router.WaitForKernelRouteAsync("203.0.113.11/32", RouteTimeout, r => r is not null);
        var routes = (await router.GetKernelRoutesAsync(AddressFamily.InterNetwork)).Select(r => r.Destination).Where(d => d.StartsWith("203.0.113.", StringComparison.Ordinal));
        Assert.Equal(["203.0.113.10/32", "203.0.113.11/32", "203.0.113.15/32"], routes.Order());
        lab.Passed();
    }

    /// <summary>BIRD in the router namespace with every node as an eBGP neighbour.</summary>
    private static Task<Router> StartRouterAsync(Lab lab) =>
        Router.StartAsync(RouterKind.Bird, lab, lab.RouterNamespace, "router",
            new RouterOptions(IPAddress.Parse("198.18.255.1"), [.. lab.Nodes.Select(n => new BgpNeighbor(n.Address, SpeakerAs) { HoldTime = 3 })])
            {
                LocalAs = RouterAs,
            });

    /// <summary>The node, the pool, the router as BGP peer and an advertisement of the pool.</summary>
    private static void WriteSpeakerConfig(Lab lab, LabNode node) =>
        MetalLbManifests.Write(SpeakerConfig(lab, node), "peers.yaml",
        [
            MetalLbManifests.Node(NodeName(lab, node), node.Address),
            MetalLbManifests.IpAddressPool("pool", "203.0.113.10-203.0.113.19"),
            MetalLbManifests.BgpPeer("router", SpeakerAs, RouterAs, node.RouterAddress, holdTime: "3s"),
            MetalLbManifests.BgpAdvertisement("adv", ["pool"]),
        ]);

    private static string NodeName(Lab lab, LabNode node) => "node" + (lab.Nodes.ToList().IndexOf(node) + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string SpeakerConfig(Lab lab, LabNode node) => Path.Combine(lab.Directory, "config-" + node.Role);

    /// <summary>The same Services (no address, a ready endpoint on every node) for the controller and every speaker; each file replaced in one rename.</summary>
    private static void WriteServices(Lab lab, string? controllerConfig, IReadOnlyList<string> services)
    {
        var documents = services.SelectMany(service => (IEnumerable<string>)
        [
            MetalLbManifests.ServiceWithoutAddress(service),
            .. lab.Nodes.Select(n => MetalLbManifests.EndpointSlice(service, NodeName(lab, n), IPAddress.Parse("10.0.0.5"))),
        ]).ToList();
        var speakerDirectories = lab.Nodes.Select(n => SpeakerConfig(lab, n));
        foreach (var directory in controllerConfig is null ? speakerDirectories : speakerDirectories.Prepend(controllerConfig))
        {
            var staging = MetalLbManifests.Write(Path.Combine(lab.Directory, "staging"), "services.yaml", documents);
            File.Move(staging, Path.Combine(directory, "services.yaml"), overwrite: true);
        }
    }

    private static bool HasBothNextHops(IReadOnlyList<KernelRoute> routes, string prefix) =>
        routes.FirstOrDefault(r => r.Destination == prefix)?.Gateways.Count == 2;

    /// <summary>Fails as soon as one of <paramref name="prefixes"/> has fewer than two next hops, until stopped.</summary>
    private static async Task MonitorAsync(Router router, IReadOnlyList<string> prefixes, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var routes = await router.GetKernelRoutesAsync(AddressFamily.InterNetwork);
            var lost = prefixes.FirstOrDefault(p => !HasBothNextHops(routes, p));
            if (lost is not null)
            {
                throw new InvalidOperationException($"{lost} lost a next hop during the controller restart: {string.Join("; ", routes)}");
            }

            try
            {
                await Task.Delay(100, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static Dictionary<string, string> StoredAllocations(string stateFile)
    {
        using var document = System.Text.Json.JsonDocument.Parse(File.ReadAllText(stateFile));
        return document.RootElement.GetProperty("allocations").EnumerateObject()
            .ToDictionary(p => p.Name, p => string.Join(",", p.Value.GetProperty("addresses").EnumerateArray().Select(a => a.GetString())));
    }
}
