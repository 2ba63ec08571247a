using System.Net;
using System.Text.Json.Nodes;
using BgpLb.Config;
using BgpLb.Kubernetes;
using BgpLb.L2.Announcing;
using BgpLb.L2.Wire;
using BgpLb.Kubernetes.Testing;
using BgpLb.Planning;
using BgpLb.Speaker.Kubernetes;
using Microsoft.Extensions.Logging.Abstractions;
using static BgpLb.Kubernetes.Testing.KubeObjects;

namespace BgpLb.Speaker.Tests;

/// <summary>
/// The speaker's status objects (ServiceL2Status, ServiceBGPStatus, ConfigurationState, nodeAssigned events) from the
/// passes of its reconcile loop, written in-process against the fake API server (an L2 speaker process would open raw
/// sockets on the host's interfaces, so the status path is tested without one).
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "xunit disposes it through IAsyncLifetime.DisposeAsync.")]
public sealed class SpeakerL2StatusTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private FakeKubeApiServer _server = null!;
    private SpeakerStatusService _status = null!;
    private readonly ClusterState _state = new(new ConfigOptions());

    public async Task InitializeAsync()
    {
        _server = await FakeKubeApiServer.StartAsync();
        var client = _server.CreateClient();
        var options = new SpeakerOptions { NodeName = "node-1", MetricsListen = IPEndPoint.Parse("127.0.0.1:1") };
        _status = new SpeakerStatusService(options,
            new ConfigurationStateWriter(client, MetalLbNamespace, "speaker", "node-1", null, TimeProvider.System, NullLogger<ConfigurationStateWriter>.Instance),
            new BgpStatusWriter(client, MetalLbNamespace, "node-1", null, NullLogger<BgpStatusWriter>.Instance),
            new L2StatusWriter(client, MetalLbNamespace, "node-1", null, NullLogger<L2StatusWriter>.Instance),
            new EventRecorder(client, "bgplb-speaker", "node-1", TimeProvider.System, NullLogger<EventRecorder>.Instance),
            TimeProvider.System, NullLogger<SpeakerStatusService>.Instance);
        await _status.StartAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _status.StopAsync(CancellationToken.None).WaitAsync(Timeout);
        _status.Dispose();
        await _server.DisposeAsync();
    }

    private static ServicePlan L2Plan(string service, string address, string owner, params string[] interfaces) =>
        new(service, [new AddressPlan(IPAddress.Parse(address), "main", null,
            new L2Decision(owner, owner == "node-1" ? AnnounceReason.Announced : AnnounceReason.NotElected, "test", [.. interfaces]))], []);

    private static ServicePlan BgpPlan(string service, string address, params string[] peers) =>
        new(service, [new AddressPlan(IPAddress.Parse(address), "main", new BgpDecision(AnnounceReason.Announced, "announced", [.. peers]), null)], []);

    private void Pass(bool problemsChanged, params PlanChange[] changes)
    {
        var delta = new PlanDelta();
        delta.Plans.AddRange(changes);
        _status.Applied(new SpeakerPass(_state, delta, problemsChanged));
    }

    private JsonObject? StatusOf(string resource, string service) =>
        _server.All(resource).FirstOrDefault(s => s["status"]?["serviceName"]?.GetValue<string>() == service);

    [Fact]
    public async Task Owned_l2_addresses_get_one_service_l2_status_each_and_a_node_assigned_event()
    {
        _state.ApplyValid(Batches.Initial(Service("default", "web"), Service("default", "other")));
        var web = L2Plan("default/web", "203.0.113.10", "node-1", "eth1");

        Pass(true, new PlanChange("default/web", null, web), new PlanChange("default/other", null, L2Plan("default/other", "203.0.113.11", "node-2")));

        var l2 = await UntilAsync(() => StatusOf("servicel2statuses", "web") is { } s && s["status"]?["interfaces"] is not null ? s : null);
        Assert.Equal("node-1", l2["status"]!["node"]!.GetValue<string>());
        Assert.Equal(["eth1"], l2["status"]!["interfaces"]!.AsArray().Select(i => i!["name"]!.GetValue<string>()));
        var assigned = await UntilAsync(() => _server.All("events").FirstOrDefault(e => e["reason"]?.GetValue<string>() == "nodeAssigned"));
        Assert.Equal("web", assigned["involvedObject"]!["name"]!.GetValue<string>());
        Assert.Equal("announcing from node \"node-1\" with protocol \"layer2\"", assigned["message"]!.GetValue<string>());
        // Events are recorded after the status objects of the pass: none for a Service another node answers for, no BGP status.
        Assert.Single(_server.All("servicel2statuses"));
        Assert.Empty(_server.All("servicebgpstatuses"));

        // No longer owned: its status object goes.
        Pass(false, new PlanChange("default/web", web, L2Plan("default/web", "203.0.113.10", "node-2")));
        await UntilAsync(() => _server.All("servicel2statuses").Count == 0 ? new JsonObject() : null);
    }

    [Fact]
    public async Task Bgp_announcements_get_a_service_bgp_status_and_problems_the_configuration_state()
    {
        _state.ApplyValid(Batches.Initial(Service("default", "api")));
        var api = BgpPlan("default/api", "203.0.113.20", "router-a", "router-b");

        Pass(true, new PlanChange("default/api", null, api));

        var bgp = await UntilAsync(() => _server.All("servicebgpstatuses").FirstOrDefault(s => s["status"]?["peers"] is not null));
        Assert.Equal(["router-a", "router-b"], bgp["status"]!["peers"]!.AsArray().Select(p => p!.GetValue<string>()));
        Assert.Equal("node-1", bgp["status"]!["node"]!.GetValue<string>());
        var state = await UntilAsync(() => _server.Get("configurationstates", MetalLbNamespace, "speaker-node-1") is { } s && s["status"]?["result"] is not null ? s : null);
        Assert.Equal("Valid", state["status"]!["result"]!.GetValue<string>());
        var assigned = await UntilAsync(() => _server.All("events").FirstOrDefault(e => e["reason"]?.GetValue<string>() == "nodeAssigned"));
        Assert.Equal("announcing from node \"node-1\" with protocol \"bgp\"", assigned["message"]!.GetValue<string>());

        // A broken BGPPeer: the ConfigurationState names it.
        var broken = Peer("broken", "198.18.0.9", 64512, 64513, 179);
        broken["spec"]!.AsObject().Remove("myASN");
        _state.Apply(Batches.Changed(broken));
        Pass(true);
        state = await UntilAsync(() => _server.Get("configurationstates", MetalLbNamespace, "speaker-node-1") is { } s
            && s["status"]!["result"]!.GetValue<string>() == "Invalid" ? s : null);
        Assert.Contains("broken", state["status"]!["errorSummary"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("myASN", state["status"]!["errorSummary"]!.GetValue<string>(), StringComparison.Ordinal);

        // Withdrawn: the Service's status object goes.
        Pass(false, new PlanChange("default/api", api, null));
        await UntilAsync(() => _server.All("servicebgpstatuses").Count == 0 ? new JsonObject() : null);
    }

    private static async Task<JsonObject> UntilAsync(Func<JsonObject?> read)
    {
        using var cancel = new CancellationTokenSource(Timeout);
        while (true)
        {
            if (read() is { } found)
                return found;
            await Task.Delay(50, cancel.Token);
        }
    }

    [Fact]
    public async Task Another_host_answering_for_an_owned_address_is_a_warning_event_naming_its_mac()
    {
        _state.ApplyValid(Batches.Initial(Service("default", "web"), Service("default", "other")));
        Pass(true, new PlanChange("default/web", null, L2Plan("default/web", "203.0.113.10", "node-1", "eth1")),
            new PlanChange("default/other", null, L2Plan("default/other", "203.0.113.11", "node-2")));

        // An address another node owns first, then this node's: events go out in order, so once the second is written the
        // first would have been too.
        _status.Conflicted(new AddressConflict(IPAddress.Parse("203.0.113.11"), "eth1", new MacAddress(0x0200_0000_0008), DateTimeOffset.UnixEpoch));
        _status.Conflicted(new AddressConflict(IPAddress.Parse("203.0.113.10"), "eth1", new MacAddress(0x0200_0000_0009), DateTimeOffset.UnixEpoch));

        var warning = await UntilAsync(() => _server.All("events").FirstOrDefault(e => e["reason"]?.GetValue<string>() == "announceFailed"));
        Assert.Equal(("Warning", "web"), (warning["type"]!.GetValue<string>(), warning["involvedObject"]!["name"]!.GetValue<string>()));
        Assert.Equal("203.0.113.10 is not announced from node \"node-1\": host 02:00:00:00:00:09 also answers for it on eth1 (address conflict)",
            warning["message"]!.GetValue<string>());
        Assert.Single(_server.All("events"), e => e["reason"]?.GetValue<string>() == "announceFailed");
    }
}
