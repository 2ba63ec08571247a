using System.Net;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using BgpLb.Bgp;
using BgpLb.Config;
using BgpLb.Bgp.Wire;
using BgpLb.Hosting;
using BgpLb.Kubernetes.Testing;
using BgpLb.L2.Announcing;
using BgpLb.L2.Membership;
using BgpLb.Planning;
using BgpLb.Speaker.Addresses;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using static BgpLb.Kubernetes.Testing.KubeObjects;

namespace BgpLb.Speaker.Tests;

/// <summary>
/// The speaker's reconcile loop end to end without sockets to routers: batches from a source the test feeds, addresses
/// allocated in process (or held back), sessions over the in-memory transport whose fake routers read what the
/// speaker sends. Every wait is for a message or a pass, with a timeout; timers run on a fake clock.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "xunit disposes it through IAsyncLifetime.DisposeAsync.")]
public sealed class SpeakerReconcilerTests : IAsyncLifetime
{
    private const string Node = "node-1";
    private const uint RouterAsn = 64512;
    private static readonly TimeSpan Timeout = FakePeer.Timeout;

    private readonly TestResourceSource _source = new();
    private readonly WakeSignal _wake = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly TestTransport _transport = new();
    private readonly TestMeterFactory _meters = new();
    private readonly PassRecorder _passes = new();
    private readonly Readiness _readiness = new();
    private ResourceFeed? _feed;
    private PeerManager? _peers;
    private SpeakerMembership? _membership;
    private SpeakerReconciler? _reconciler;
    private bool _started;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_started)
            await _reconciler!.StopAsync(CancellationToken.None).WaitAsync(Timeout);
        _reconciler?.Dispose();
        if (_peers is not null)
            await _peers.DisposeAsync().AsTask().WaitAsync(Timeout);
        if (_membership is not null)
            await _membership.DisposeAsync().AsTask().WaitAsync(Timeout);
        if (_feed is not null)
            await _feed.DisposeAsync().AsTask().WaitAsync(Timeout);
        _meters.Dispose();
    }

    private SpeakerReconciler Reconciler(IAddressSource? addresses = null, bool membershipKey = true)
    {
        var keys = membershipKey ? MembershipKeys.Parse("speaker-tests-shared-key") : null;
        var options = new SpeakerOptions { NodeName = Node, ConfigDirectory = "unused", MetricsListen = IPEndPoint.Parse("127.0.0.1:1"), MemberlistKeys = keys };
        _feed = new ResourceFeed(_source, _wake);
        _peers = new PeerManager(new PeerManagerOptions(), _transport, _time, NullLoggerFactory.Instance, new BgpMetrics(_meters));
        _membership = new SpeakerMembership(new MembershipOptions { NodeName = Node, Port = 0, BindAddress = IPAddress.Loopback, Keys = keys }, _time,
            _meters, NullLogger<SpeakerMembership>.Instance);
        var announcer = new L2Announcer(new L2AnnouncerOptions(), _time, _meters, NullLogger<L2Announcer>.Instance);
        _reconciler = new SpeakerReconciler(options, _feed, _wake, new ClusterState(new ConfigOptions()), new ConfigReporter(NullLogger<ConfigReporter>.Instance),
            addresses ?? new InProcessAddresses(NullLogger<InProcessAddresses>.Instance), _peers, _membership, announcer, [_passes], _readiness,
            NullLogger<SpeakerReconciler>.Instance);
        return _reconciler;
    }

    private async Task StartAsync(SpeakerReconciler reconciler)
    {
        await reconciler.StartAsync(CancellationToken.None).WaitAsync(Timeout);
        _started = true;
    }

    /// <summary>This node, one router, one pool announced to it, and Services with the addresses their status shows, each with a ready endpoint here.</summary>
    private static JsonObject[] ClusterObjects(params string[] services) =>
    [
        KubeObjects.Node(Node),
        Pool("main", "203.0.113.0/24"),
        Peer("router", "198.18.0.2", 64513, RouterAsn, 179),
        BgpAdvertisement("all"),
        .. services.SelectMany((name, i) => new[] { Service("default", name, $"203.0.113.{i + 1}"), EndpointSlice("default", name, Node, $"10.0.0.{i + 1}") }),
    ];

    private static ResourceBatch Cluster(params string[] services) => Batches.Initial(ClusterObjects(services));

    /// <summary>Polls a condition that the loop makes true a moment after a signal the test already saw.</summary>
    private static async Task UntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        while (!condition())
            await Task.Delay(10, timeout.Token);
    }

    private static IPNetwork Prefix(string address) => new(IPAddress.Parse(address), 32);

    private static IPNetwork[] Sorted(IEnumerable<IPNetwork> prefixes) => [.. prefixes.OrderBy(p => p.ToString(), StringComparer.Ordinal)];

    /// <summary>Accepts the session the speaker opens and returns the fake router after the OPEN/KEEPALIVE exchange.</summary>
    private async Task<FakePeer> RouterAsync()
    {
        var router = await _transport.NextConnectionAsync();
        await router.EstablishAsync(RouterAsn);
        return router;
    }

    private static JsonObject NotReady(JsonObject slice)
    {
        slice["endpoints"]![0]!["conditions"]!["ready"] = false;
        return slice;
    }

    [Fact]
    public async Task The_first_batch_opens_the_sessions_with_every_route_in_place()
    {
        _source.Publish(Batches.Initial([.. ClusterObjects("a", "b", "c"), Peer("router-2", "198.18.0.3", 64513, RouterAsn, 179)]));
        await StartAsync(Reconciler());

        // Both routers: the first UPDATE carries every route (one attribute set: one message), End-of-RIB comes after it.
        foreach (var router in new[] { await RouterAsync(), await RouterAsync() })
        {
            var update = Assert.Single(await router.ReadUntilEndOfRibAsync());
            Assert.Equal([Prefix("203.0.113.1"), Prefix("203.0.113.2"), Prefix("203.0.113.3")], Sorted(update.Nlri));
            Assert.Empty(update.Withdrawn);
        }
        Assert.Equal(2, _peers!.GetStatus().Count);
        var pass = await _passes.NextAsync();
        Assert.Equal(["default/a", "default/b", "default/c"], pass.Plans.Select(p => p.Service).Order(StringComparer.Ordinal));
        await UntilAsync(() => _readiness.IsReady);
    }

    [Fact]
    public async Task One_service_added_sends_exactly_its_route()
    {
        _source.Publish(Cluster("a", "b"));
        await StartAsync(Reconciler());
        var router = await RouterAsync();
        await router.ReadUntilEndOfRibAsync();

        _source.Publish(Batches.Changed(Service("default", "new", "203.0.113.50"), EndpointSlice("default", "new", Node, "10.0.0.50")));

        var update = await router.ReadUpdateAsync();
        Assert.Equal([Prefix("203.0.113.50")], update.Nlri);
        Assert.Empty(update.Withdrawn);

        // The next UPDATE answers the next change: nothing else was sent for the new Service's pass.
        _source.Publish(Batches.Removed("Service", "default", "a"));
        var withdrawal = await router.ReadUpdateAsync();
        Assert.Equal([Prefix("203.0.113.1")], withdrawal.Withdrawn);
        Assert.Empty(withdrawal.Nlri);
    }

    [Fact]
    public async Task An_endpoint_slice_that_turns_not_ready_withdraws_the_route_and_ready_again_announces_it()
    {
        _source.Publish(Cluster("a", "b"));
        await StartAsync(Reconciler());
        var router = await RouterAsync();
        await router.ReadUntilEndOfRibAsync();

        _source.Publish(Batches.Changed(NotReady(EndpointSlice("default", "b", Node, "10.0.0.2"))));

        var withdrawal = await router.ReadUpdateAsync();
        Assert.Equal([Prefix("203.0.113.2")], withdrawal.Withdrawn);
        Assert.Empty(withdrawal.Nlri);

        _source.Publish(Batches.Changed(EndpointSlice("default", "b", Node, "10.0.0.2")));
        var announcement = await router.ReadUpdateAsync();
        Assert.Equal([Prefix("203.0.113.2")], announcement.Nlri);
        Assert.Empty(announcement.Withdrawn);
    }

    [Fact]
    public async Task Without_a_liveness_key_this_node_wins_no_l2_election()
    {
        var l2 = new JsonObject
        {
            ["apiVersion"] = "metallb.io/v1beta1",
            ["kind"] = "L2Advertisement",
            ["metadata"] = new JsonObject { ["name"] = "l2", ["namespace"] = "metallb-system" },
            ["spec"] = new JsonObject(),
        };
        _source.Publish(Batches.Initial([KubeObjects.Node(Node), Pool("main", "203.0.113.0/24"), l2,
            Service("default", "web", "203.0.113.1"), EndpointSlice("default", "web", Node, "10.0.0.1")]));
        await StartAsync(Reconciler(membershipKey: false));

        var pass = await _passes.NextAsync(p => p.Plans.Any(c => c.Service == "default/web"));
        var decision = Assert.Single(pass.Plans.Single(c => c.Service == "default/web").After!.Addresses).L2!;
        Assert.False(decision.Announced);
        Assert.Null(decision.Owner);
    }

    [Fact]
    public async Task A_standalone_first_configuration_with_errors_refuses_to_start()
    {
        var broken = Peer("broken", "198.18.0.9", 64513, RouterAsn, 179);
        broken["spec"]!.AsObject().Remove("myASN");
        _source.Publish(Batches.Initial([.. ClusterObjects("a"), broken]));
        var reconciler = Reconciler();

        await Assert.ThrowsAsync<SpeakerStartupException>(() => reconciler.StartAsync(CancellationToken.None).WaitAsync(Timeout));

        // Refused before anything started: no session, no liveness socket, not ready.
        Assert.Empty(_peers!.GetStatus());
        Assert.Equal(0, _transport.ConnectAttempts);
        Assert.Equal(0, _membership!.LocalPort);
        Assert.False(_readiness.IsReady);
    }

    [Fact]
    public async Task No_session_opens_before_the_addresses_are_known()
    {
        var addresses = new HeldAddresses(new InProcessAddresses(NullLogger<InProcessAddresses>.Instance));
        _source.Publish(Cluster("a"));
        await StartAsync(Reconciler(addresses));
        await addresses.NextUpdateAsync(delta => delta.Services.Contains("default/a"));

        // A later pass proves the first one is over: it opened no session, planned nothing, and the speaker is not ready.
        _source.Publish(Batches.Changed(Service("default", "b", "203.0.113.2"), EndpointSlice("default", "b", Node, "10.0.0.2")));
        await addresses.NextUpdateAsync(delta => delta.Services.Contains("default/b"));
        Assert.Empty(_peers!.GetStatus());
        Assert.Equal(0, _transport.ConnectAttempts);
        Assert.Equal(0, _passes.Count);
        Assert.False(_readiness.IsReady);

        addresses.Known = true;
        _wake.Set();

        var router = await RouterAsync();
        var update = Assert.Single(await router.ReadUntilEndOfRibAsync());
        Assert.Equal([Prefix("203.0.113.1"), Prefix("203.0.113.2")], Sorted(update.Nlri));
        await _passes.NextAsync();
        await UntilAsync(() => _readiness.IsReady);
    }

    [Fact]
    public async Task A_removed_peer_gets_a_cease_and_its_routes_go_with_it()
    {
        _source.Publish(Cluster("a"));
        await StartAsync(Reconciler());
        var router = await RouterAsync();
        await router.ReadUntilEndOfRibAsync();

        _source.Publish(Batches.Removed("BGPPeer", MetalLbNamespace, "router"));

        var closing = (await router.ReadUntilClosedAsync())[^1];
        Assert.Equal(BgpMessageType.Notification, closing.Type);
        Assert.Equal((BgpErrorCode.Cease, CeaseSubcode.PeerDeconfigured), NotificationCodec.Read(closing.Body) is var n ? (n.Code, n.Subcode) : default);
        var pass = await _passes.NextAsync(p => p.Peers is { IsEmpty: true });
        Assert.Contains(pass.Routes, r => r.Prefix == Prefix("203.0.113.1") && r.Attributes is null);
        Assert.Empty(_peers!.GetStatus());
    }

    /// <summary>An address source that is not known until the test says so, and reports each of its updates.</summary>
    private sealed class HeldAddresses(IAddressSource inner) : IAddressSource
    {
        private readonly Channel<ClusterDelta> _updates = Channel.CreateUnbounded<ClusterDelta>();
        private volatile bool _known;

        public bool Known
        {
            get => _known;
            set => _known = value;
        }

        public bool IsKnown => _known && inner.IsKnown;

        public void Update(ClusterState state, ClusterDelta delta, ISet<string> changed)
        {
            inner.Update(state, delta, changed);
            _updates.Writer.TryWrite(delta);
        }

        public ServiceAddresses? AddressesOf(string service) => inner.AddressesOf(service);

        /// <summary>Waits for an update (a pass of the loop) whose change matches.</summary>
        public async Task NextUpdateAsync(Func<ClusterDelta, bool> match)
        {
            using var timeout = new CancellationTokenSource(Timeout);
            while (!match(await _updates.Reader.ReadAsync(timeout.Token)))
            {
            }
        }
    }

    /// <summary>Records the passes of the loop (their changes; the state is only valid during the call).</summary>
    private sealed class PassRecorder : ISpeakerObserver
    {
        private readonly Channel<PlanDelta> _passes = Channel.CreateUnbounded<PlanDelta>();
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public void Applied(SpeakerPass pass)
        {
            Interlocked.Increment(ref _count);
            _passes.Writer.TryWrite(pass.Changes);
        }

        public async Task<PlanDelta> NextAsync(Func<PlanDelta, bool>? match = null)
        {
            using var timeout = new CancellationTokenSource(Timeout);
            while (true)
            {
                var pass = await _passes.Reader.ReadAsync(timeout.Token);
                if (match is null || match(pass))
                    return pass;
            }
        }
    }
}
