using System.Net;
using System.Text.Json.Nodes;
using BgpLb.Config;
using BgpLb.Kubernetes;
using BgpLb.Kubernetes.Testing;
using BgpLb.Speaker.Bgp;
using BgpLb.Speaker.Kubernetes;
using BgpLb.Speaker.L2;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;

namespace BgpLb.Speaker.Tests;

/// <summary>
/// ServiceL2Status from the L2 plans, written in-process against the fake API server (an L2 speaker process would open
/// raw sockets on the host's interfaces, so the status path is tested without one).
/// </summary>
public sealed class SpeakerL2StatusTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private FakeKubeApiServer _server = null!;

    public async Task InitializeAsync() => _server = await FakeKubeApiServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Owned_l2_addresses_get_one_service_l2_status_each_and_a_node_assigned_event()
    {
        var client = _server.CreateClient();
        var options = new SpeakerOptions { NodeName = "node-1", MetricsListen = IPEndPoint.Parse("127.0.0.1:1") };
        var status = new SpeakerStatusService(options,
            new ConfigurationStateWriter(client, "metallb-system", "speaker", "node-1", null, NullLogger<ConfigurationStateWriter>.Instance),
            new BgpStatusWriter(client, "metallb-system", "node-1", null, NullLogger<BgpStatusWriter>.Instance),
            new L2StatusWriter(client, "metallb-system", "node-1", null, NullLogger<L2StatusWriter>.Instance),
            new EventRecorder(client, "bgplb-speaker", "node-1", TimeProvider.System, NullLogger<EventRecorder>.Instance),
            TimeProvider.System, NullLogger<SpeakerStatusService>.Instance);
        var web = new V1Service { Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "default", Uid = "u-web" } };
        var update = new ConfigUpdate(BgpLbConfig.Empty with { Services = [web] }, []);

        await status.StartAsync(CancellationToken.None);
        try
        {
            status.PlanApplied(update, new BgpPlan([], [], []));
            status.L2PlanApplied(new L2Plan([
                new L2AddressDecision("default/web", IPAddress.Parse("203.0.113.10"), "node-1", true, ["eth1"], "announced"),
                new L2AddressDecision("default/other", IPAddress.Parse("203.0.113.11"), "node-2", false, [], "node-2 owns it"),
            ]));

            var l2 = await UntilAsync(() => _server.All("servicel2statuses").FirstOrDefault(o => o["status"]?["interfaces"] is not null));
            Assert.Equal("web", l2["status"]!["serviceName"]!.GetValue<string>());
            Assert.Equal("node-1", l2["status"]!["node"]!.GetValue<string>());
            Assert.Equal(["eth1"], l2["status"]!["interfaces"]!.AsArray().Select(i => i!["name"]!.GetValue<string>()));
            Assert.Single(_server.All("servicel2statuses"));
            var assigned = await UntilAsync(() => _server.All("events").FirstOrDefault(e => e["reason"]?.GetValue<string>() == "nodeAssigned"));
            Assert.Equal("announcing from node \"node-1\" with protocol \"layer2\"", assigned["message"]!.GetValue<string>());

            status.L2PlanApplied(new L2Plan([]));
            await UntilAsync(() => _server.All("servicel2statuses").Count == 0 ? new JsonObject() : null);
        }
        finally
        {
            await status.StopAsync(CancellationToken.None);
        }
    }

    private static async Task<JsonObject> UntilAsync(Func<JsonObject?> read)
    {
        using var cancel = new CancellationTokenSource(Timeout);
        while (true)
        {
            if (read() is { } found) return found;
            await Task.Delay(50, cancel.Token);
        }
    }
}
