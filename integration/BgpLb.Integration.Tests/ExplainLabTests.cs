using System.Net;
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

        async Task<CommandResult> ExplainAsync(string service, params string[] more) =>
            await BgplbCli.RunInNamespaceAsync(node.Namespace, ["explain", "default/" + service, "--config", directory, "--speaker", Speaker, .. more]);

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

        Task<CommandResult> ExplainAsync() =>
            BgplbCli.RunInNamespaceAsync(node.Namespace, "explain", "default/web", "--config", directory, "--speaker", Speaker);

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

    private static string Show(CommandResult result) => $"exit {result.ExitCode}\n{result.StandardOutput}{result.StandardError}";
}
