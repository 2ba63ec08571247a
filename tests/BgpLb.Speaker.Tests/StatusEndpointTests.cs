using System.Net;
using System.Text.Json;
using BgpLb.Kubernetes.Testing;
using BgpLb.Planning;
using BgpLb.StatusApi;

namespace BgpLb.Speaker.Tests;

/// <summary>
/// bgplb-speaker run as a process on a standalone configuration: GET /status says what it announces and why not, in the
/// schema the bgplb command reads, and the unannounced gauge agrees. The peer (a closed port) never comes up.
/// </summary>
public sealed class StatusEndpointTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly string _config = Directory.CreateTempSubdirectory("bgplb-status-").FullName;
    private readonly HttpClient _http = new();

    public void Dispose()
    {
        _absentRouter.Dispose();
        _http.Dispose();
        Directory.Delete(_config, recursive: true);
    }

    private static string Service(string name, string ip, string extra = "") => $$"""
        apiVersion: v1
        kind: Service
        metadata: { name: {{name}}, namespace: default, annotations: { metallb.io/loadBalancerIPs: {{ip}} } }
        spec: { type: LoadBalancer, ports: [{ port: 80, protocol: TCP }]{{extra}} }
        ---

        """;

    private static string Endpoints(string service) => $$"""
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: { name: {{service}}-1, namespace: default, labels: { kubernetes.io/service-name: {{service}} } }
        addressType: IPv4
        endpoints: [{ addresses: [10.0.0.5], nodeName: node-1, conditions: { ready: true } }]
        ---

        """;

    // The BGPPeer's port: bound and not listening, so the session never comes up.
    private readonly System.Net.Sockets.Socket _absentRouter;
    private readonly int _peerPort;

    public StatusEndpointTests() => _absentRouter = DaemonProcess.ClosedTcpPort(out _peerPort);

    private void WriteConfig(int peerPort, string node = "metadata: { name: node-1 }", string services = "") =>
        File.WriteAllText(Path.Combine(_config, "config.yaml"), $$"""
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: { name: main }
        spec: { addresses: [203.0.113.0/24] }
        ---
        apiVersion: metallb.io/v1beta1
        kind: BGPAdvertisement
        metadata: { name: all }
        ---
        apiVersion: metallb.io/v1beta2
        kind: BGPPeer
        metadata: { name: router }
        spec: { myASN: 64513, peerASN: 64512, peerAddress: 127.0.0.1, peerPort: {{peerPort}} }
        ---
        apiVersion: v1
        kind: Node
        {{node}}
        ---

        """ + services);

    /// <summary>Starts the speaker on the config directory and waits until it is ready; the caller disposes it.</summary>
    private async Task<(DaemonProcess Speaker, Uri Metrics)> StartAsync(params string[] flags)
    {
        var (speaker, ports) = await DaemonProcess.StartOnFreePortsAsync("bgplb-speaker.dll", 1,
            ports => ["--node", "node-1", "--config", _config, "--bgp-listen", "127.0.0.1:0", "--metrics-listen", $"127.0.0.1:{ports[0]}", .. flags],
            null, Timeout);
        var metrics = new Uri($"http://127.0.0.1:{ports[0]}");
        await UntilReadyAsync(speaker, metrics);
        return (speaker, metrics);
    }

    private async Task<SpeakerStatus> StatusAsync(Uri metrics, string query = "") =>
        JsonSerializer.Deserialize(await _http.GetStringAsync(new Uri(metrics, "/status" + query)), StatusJsonContext.Default.SpeakerStatus)!;

    /// <summary>Polls /readyz until the first plan is in place (the explicit signal), within <see cref="Timeout"/>.</summary>
    private async Task UntilReadyAsync(DaemonProcess speaker, Uri metrics)
    {
        using var cancel = new CancellationTokenSource(Timeout);
        while (true)
        {
            Assert.False(speaker.HasExited, speaker.Output);
            try
            {
                using var response = await _http.GetAsync(new Uri(metrics, "/readyz"), cancel.Token);
                if (response.StatusCode == HttpStatusCode.OK)
                    return;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(50, cancel.Token);
        }
    }

    [Fact]
    public async Task Status_names_the_session_the_planned_route_and_the_Service_without_endpoints()
    {
        WriteConfig(_peerPort, services: Service("web", "203.0.113.5") + Service("idle", "203.0.113.6") + Endpoints("web"));
        var (speaker, metrics) = await StartAsync();
        await using var _ = speaker;

        var json = await _http.GetStringAsync(new Uri(metrics, "/status"));
        var status = JsonSerializer.Deserialize(json, StatusJsonContext.Default.SpeakerStatus)!;
        Assert.Equal(("node-1", SpeakerStatus.CurrentVersion), (status.Node, status.Version));

        var session = Assert.Single(status.Sessions);
        Assert.Equal(("router", "127.0.0.1"), (session.Peer, session.Address));
        Assert.NotEqual("Established", session.State);
        var route = Assert.Single(session.Routes);
        Assert.Equal(("203.0.113.5/32", false, null), (route.Prefix, route.Advertised, route.SentAt));
        Assert.Equal(["default/web"], route.Services);

        Assert.Equal(["default/idle", "default/web"], status.Services.Select(s => s.Service));
        var idle = Assert.Single(status.Services[0].Addresses);
        Assert.Equal(("203.0.113.6", "main", AnnounceReason.NoReadyEndpoint), (idle.Address, idle.Pool, idle.Unannounced));
        Assert.Equal((false, AnnounceReason.NoReadyEndpoint), (idle.Bgp!.Announced, idle.Bgp.Reason));
        var web = Assert.Single(status.Services[1].Addresses);
        Assert.Equal((true, AnnounceReason.Announced, null), (web.Bgp!.Announced, web.Bgp.Reason, web.Unannounced));
        Assert.Equal(["router"], web.Bgp.Peers);
        // Enums travel as their names, so that scripts read them as the metric labels and logs print them.
        Assert.Contains("\"reason\": \"NoReadyEndpoint\"", json, StringComparison.Ordinal);

        var one = await StatusAsync(metrics, "?service=default/idle");
        Assert.Equal(["default/idle"], one.Services.Select(s => s.Service));
        Assert.Empty(Assert.Single(one.Sessions).Routes);

        var scrape = await _http.GetStringAsync(new Uri(metrics, "/metrics"));
        Assert.Equal(["bgplb_service_unannounced{reason=\"NoReadyEndpoint\",service=\"default/idle\"} 1"],
            scrape.Split('\n').Where(l => l.StartsWith("bgplb_service_unannounced{", StringComparison.Ordinal)));
        await speaker.WaitForOutputAsync("Not announcing 203.0.113.6 of default/idle: NoReadyEndpoint (the Service has no ready endpoint", Timeout);
        Assert.Equal(0, await speaker.StopAsync(Timeout));
    }

    [Fact]
    public async Task Lb_class_announces_its_class_only_and_says_which_Services_it_skips()
    {
        WriteConfig(_peerPort,
            services: Service("classy", "203.0.113.5", ", loadBalancerClass: example.com/lb") + Endpoints("classy") + Service("plain", "203.0.113.6") + Endpoints("plain"));
        var (speaker, metrics) = await StartAsync("--lb-class", "example.com/lb");
        await using var _ = speaker;

        var status = await StatusAsync(metrics);
        Assert.Equal(["default/classy"], status.Services.Select(s => s.Service));
        Assert.True(Assert.Single(status.Services[0].Addresses).Bgp!.Announced);
        await speaker.WaitForOutputAsync(
            "Skipping Service default/plain: its loadBalancerClass is (none), this daemon handles example.com/lb (--lb-class)", Timeout);
    }

    [Theory]
    [InlineData(false, AnnounceReason.NodeExcluded)]
    [InlineData(true, AnnounceReason.Announced)]
    public async Task Ignore_exclude_lb_announces_from_a_node_with_the_exclude_label(bool ignore, AnnounceReason expected)
    {
        WriteConfig(_peerPort, "metadata: { name: node-1, labels: { node.kubernetes.io/exclude-from-external-load-balancers: '' } }",
            Service("web", "203.0.113.5") + Endpoints("web"));
        var (speaker, metrics) = await StartAsync(ignore ? ["--ignore-exclude-lb"] : []);
        await using var _ = speaker;

        var web = Assert.Single(Assert.Single((await StatusAsync(metrics)).Services).Addresses);
        Assert.Equal(expected, web.Bgp!.Reason);
    }
}
