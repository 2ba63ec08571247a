using System.Text.Json.Nodes;
using BgpLb.Kubernetes.Testing;
using static BgpLb.Kubernetes.Testing.KubeObjects;

namespace BgpLb.Speaker.Tests;

/// <summary>
/// The real bgplb-speaker process in Kubernetes mode (--kubeconfig) against the in-test fake API server. Its only
/// BGPPeer is 127.0.0.1 on a closed port and its listener is disabled: it dials nothing but loopback.
/// </summary>
public sealed class SpeakerKubernetesTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private const string PodUid = "5f0c6d2e-0000-4000-8000-000000000001";

    private readonly string _dir = Directory.CreateTempSubdirectory("bgplb-spk-kube-").FullName;
    private FakeKubeApiServer _server = null!;
    private DaemonProcess? _speaker;

    public async Task InitializeAsync() => _server = await FakeKubeApiServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_speaker is not null)
            await _speaker.DisposeAsync();
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private async Task<JsonObject> UntilAsync(Func<JsonObject?> read, Func<JsonObject, bool> condition, string what)
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
                throw new TimeoutException($"{what} did not happen within {Timeout}:\n{_speaker?.Output}");
            }
        }
    }

    private JsonObject? BgpStatusOf(string service) =>
        _server.All("servicebgpstatuses").FirstOrDefault(s => s["metadata"]?["labels"]?["metallb.io/service-name"]?.GetValue<string>() == service);

    [Fact]
    public async Task Writes_service_bgp_status_configuration_state_and_node_assigned_for_an_announced_service()
    {
        _server.Apply("nodes", Node("node-1"));
        _server.Apply("ipaddresspools", Pool("main", "203.0.113.0/24"));
        using var absentRouter = DaemonProcess.ClosedTcpPort(out var routerPort);
        _server.Apply("bgppeers", Peer("router", "127.0.0.1", 64512, 64513, routerPort));
        _server.Apply("bgpadvertisements", BgpAdvertisement("all"));
        _server.Apply("services", Service("default", "web", "203.0.113.5"));
        _server.Apply("endpointslices", EndpointSlice("default", "web", "node-1", "10.0.0.5"));
        _server.Apply("services", Service("default", "idle", "203.0.113.6")); // no endpoints: not announced
        var requested = Service("default", "requested"); // an address only asked for, not (yet) allocated by the controller
        requested["metadata"]!["annotations"] = new JsonObject { ["metallb.io/loadBalancerIPs"] = "203.0.113.7" };
        _server.Apply("services", requested);
        _server.Apply("endpointslices", EndpointSlice("default", "requested", "node-1", "10.0.0.7"));
        var kubeconfig = Path.Combine(_dir, "kubeconfig");
        _server.WriteKubeconfig(kubeconfig);

        (_speaker, _) = await DaemonProcess.StartOnFreePortsAsync("bgplb-speaker.dll", 2,
            ports => ["--kubeconfig", kubeconfig, "--node", "node-1", "--bgp-listen", "127.0.0.1:0", "--metrics-listen", $"127.0.0.1:{ports[0]}",
                      "--memberlist-port", $"{ports[1]}"],
            new Dictionary<string, string> { ["POD_NAME"] = "speaker-abcde", ["POD_UID"] = PodUid }, Timeout);

        // The object is created first and its status written next: wait for the status.
        var status = await UntilAsync(() => BgpStatusOf("web"), s => s["status"]?["peers"] is not null, "ServiceBGPStatus for default/web");
        Assert.Equal(["router"], status["status"]!["peers"]!.AsArray().Select(p => p!.GetValue<string>()));
        Assert.Equal("node-1", status["status"]!["node"]!.GetValue<string>());
        Assert.Equal("node-1", status["metadata"]!["labels"]!["metallb.io/node"]!.GetValue<string>());
        var owner = Assert.Single(status["metadata"]!["ownerReferences"]!.AsArray())!;
        Assert.Equal(("Pod", "speaker-abcde", PodUid), (owner["kind"]!.GetValue<string>(), owner["name"]!.GetValue<string>(), owner["uid"]!.GetValue<string>()));
        Assert.Null(BgpStatusOf("idle"));
        Assert.Null(BgpStatusOf("requested"));

        var state = await UntilAsync(() => _server.Get("configurationstates", MetalLbNamespace, "speaker-node-1"),
            s => s["status"]?["result"] is not null, "ConfigurationState");
        Assert.Equal("Valid", state["status"]!["result"]!.GetValue<string>());
        var assigned = await UntilAsync(() => _server.All("events").FirstOrDefault(e => e["reason"]?.GetValue<string>() == "nodeAssigned"), _ => true, "nodeAssigned");
        Assert.Equal("web", assigned["involvedObject"]!["name"]!.GetValue<string>());
        Assert.Equal("announcing from node \"node-1\" with protocol \"bgp\"", assigned["message"]!.GetValue<string>());
        // The Service without endpoints is announced by no node: a Warning names the reason.
        var failed = await UntilAsync(() => _server.All("events").FirstOrDefault(e => e["reason"]?.GetValue<string>() == "announceFailed"), _ => true, "announceFailed");
        Assert.Equal(("idle", "Warning"), (failed["involvedObject"]!["name"]!.GetValue<string>(), failed["type"]!.GetValue<string>()));
        Assert.StartsWith("203.0.113.6 is announced by no node: NoReadyEndpoint (", failed["message"]!.GetValue<string>(), StringComparison.Ordinal);

        // The endpoint goes away: no longer announced, so its status object goes too.
        _server.Remove("endpointslices", "default", "web-abcde");
        await UntilAsync(() => BgpStatusOf("web") is null ? new JsonObject() : null, _ => true, "ServiceBGPStatus removal");

        // A broken peer makes the speaker's configuration Invalid, naming object and field.
        var broken = Peer("broken", "127.0.0.2", 64512, 64513, 179);
        broken["spec"]!.AsObject().Remove("myASN");
        _server.Apply("bgppeers", broken);
        state = await UntilAsync(() => _server.Get("configurationstates", MetalLbNamespace, "speaker-node-1"),
            s => s["status"]!["result"]!.GetValue<string>() == "Invalid", "ConfigurationState Invalid");
        Assert.Contains("BGPPeer", state["status"]!["errorSummary"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("broken", state["status"]!["errorSummary"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("myASN", state["status"]!["errorSummary"]!.GetValue<string>(), StringComparison.Ordinal);

        Assert.Equal(0, await _speaker.StopAsync(Timeout));
    }
}
