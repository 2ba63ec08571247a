using System.Collections.Immutable;
using System.Net;
using System.Text.Json.Nodes;
using BgpLb.Config;
using BgpLb.Config.Resources;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace BgpLb.Kubernetes.Tests;

public sealed class KubeStoreTests : IAsyncLifetime, IDisposable
{
    private const string Ns = "metallb-system";
    private const int KindCount = 12;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private static readonly KubeStoreOptions Fast = new()
    {
        RetryDelay = TimeSpan.FromMilliseconds(20),
        MaxRetryDelay = TimeSpan.FromMilliseconds(200),
        SilentWatchTimeout = TimeSpan.FromMinutes(1),
    };

    private FakeKubeApiServer _server = null!;
    private readonly CancellationTokenSource _stop = new(Patience * 2);

    public async Task InitializeAsync() => _server = await FakeKubeApiServer.StartAsync();

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        await _server.DisposeAsync();
    }

    public void Dispose() => _stop.Dispose();

    private KubeStore Store(TimeProvider? time = null, KubeStoreOptions? options = null) =>
        new(_server.CreateClient(), new ConfigOptions(), options ?? Fast, time ?? TimeProvider.System, NullLogger<KubeStore>.Instance);

    internal static JsonObject Pool(string name, params string[] addresses) => new()
    {
        ["apiVersion"] = "metallb.io/v1beta1",
        ["kind"] = "IPAddressPool",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = Ns },
        ["spec"] = new JsonObject { ["addresses"] = new JsonArray([.. addresses.Select(a => JsonValue.Create(a))]) },
    };

    internal static JsonObject Service(string ns, string name, int port = 80, string type = "LoadBalancer") => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Service",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
        ["spec"] = new JsonObject { ["type"] = type, ["ports"] = new JsonArray(new JsonObject { ["port"] = port }) },
    };

    private static JsonObject Secret(string ns, string name) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Secret",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
        ["type"] = "kubernetes.io/basic-auth",
        ["data"] = new JsonObject { ["password"] = "c2VjcmV0" },
    };

    private static ResourceKey PoolKey(string name) => new("IPAddressPool", Ns, name);

    private static ResourceKey ServiceKey(string name) => new("Service", "default", name);

    private static string Origin(ResourceKey key) => $"kube:{key}";

    /// <summary>What the consumer knows from the batches so far, and every batch read.</summary>
    private sealed class Consumer(IAsyncEnumerator<ResourceBatch> batches)
    {
        public Dictionary<ResourceKey, object> Objects { get; } = [];
        public Dictionary<string, ImmutableArray<ConfigError>> Problems { get; } = new(StringComparer.Ordinal);
        public List<ResourceBatch> Read { get; } = [];

        public async Task<ResourceBatch> NextAsync()
        {
            Assert.True(await batches.MoveNextAsync().AsTask().WaitAsync(Patience), "the batches ended");
            var batch = batches.Current;
            Read.Add(batch);
            foreach (var (key, value) in batch.Changes)
            {
                if (value is null)
                {
                    Objects.Remove(key);
                }
                else
                {
                    Objects[key] = value;
                }
            }
            foreach (var (origin, problems) in batch.Problems)
            {
                if (problems.IsEmpty)
                {
                    Problems.Remove(origin);
                }
                else
                {
                    Problems[origin] = problems;
                }
            }
            return batch;
        }

        /// <summary>Reads batches until <paramref name="condition"/> holds; returns the batches read for it.</summary>
        public async Task<List<ResourceBatch>> UntilAsync(Func<Consumer, bool> condition)
        {
            var start = Read.Count;
            while (!condition(this))
            {
                await NextAsync();
            }
            return Read[start..];
        }

        public bool Has(ResourceKey key) => Objects.ContainsKey(key);
    }

    private static ResourceKey[] ChangedKeys(IEnumerable<ResourceBatch> batches) =>
        [.. batches.SelectMany(b => b.Changes).Select(c => c.Key).Distinct().OrderBy(k => k.ToString(), StringComparer.Ordinal)];

    private static ResourceKey[] Keys(params ResourceKey[] keys) => [.. keys.OrderBy(k => k.ToString(), StringComparer.Ordinal)];

    internal static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached in time");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task First_batch_holds_every_listed_kind_and_sets_readiness()
    {
        _server.Apply("ipaddresspools", Pool("pool-a", "203.0.113.0/28"));
        _server.Apply("bgppeers", new JsonObject
        {
            ["apiVersion"] = "metallb.io/v1beta1", // an object stored at the older version is accepted and converted
            ["kind"] = "BGPPeer",
            ["metadata"] = new JsonObject { ["name"] = "router", ["namespace"] = Ns },
            ["spec"] = new JsonObject { ["myASN"] = 64513, ["peerASN"] = 64512, ["peerAddress"] = "198.18.0.1" },
        });
        _server.Apply("services", Service("default", "web"));
        _server.Apply("services", Service("default", "internal", type: "ClusterIP"));
        _server.Apply("nodes", new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Node", ["metadata"] = new JsonObject { ["name"] = "node-1" } });
        _server.Apply("secrets", Secret(Ns, "bgp-password"));
        _server.Apply("secrets", Secret("default", "unrelated"));
        _server.Apply("namespaces", new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Namespace", ["metadata"] = new JsonObject { ["name"] = "default" } });
        _server.Apply("endpointslices", new JsonObject
        {
            ["apiVersion"] = "discovery.k8s.io/v1",
            ["kind"] = "EndpointSlice",
            ["metadata"] = new JsonObject { ["name"] = "web-abc", ["namespace"] = "default", ["labels"] = new JsonObject { ["kubernetes.io/service-name"] = "web" } },
            ["addressType"] = "IPv4",
            ["endpoints"] = new JsonArray(new JsonObject { ["addresses"] = new JsonArray("10.0.0.5"), ["nodeName"] = "node-1" }),
        });
        var store = Store();
        Assert.False(store.IsReady);

        await using var batches = store.WatchAsync(_stop.Token).GetAsyncEnumerator();
        var consumer = new Consumer(batches);
        var first = await consumer.NextAsync();

        Assert.True(store.IsReady);
        Assert.True(first.IsInitial);
        Assert.Empty(first.Problems);
        Assert.All(first.Changes, c => Assert.NotNull(c.Value));
        Assert.Equal(first.Changes.Count, first.Changes.Select(c => c.Key).Distinct().Count());
        var pool = Assert.IsType<MetalLbObject>(consumer.Objects[PoolKey("pool-a")]);
        Assert.Equal("kube:IPAddressPool metallb-system/pool-a", pool.Origin);
        Assert.Equal(["203.0.113.0/28"], Assert.IsType<IPAddressPoolSpec>(pool.Spec).Addresses!);
        Assert.IsType<BGPPeerSpec>(Assert.IsType<MetalLbObject>(consumer.Objects[new ResourceKey("BGPPeer", Ns, "router")]).Spec);
        var web = Assert.IsType<ServiceInfo>(consumer.Objects[ServiceKey("web")]);
        Assert.Equal("default/web", web.Key);
        Assert.Equal([new ServicePort("TCP", 80)], web.Ports);
        Assert.False(consumer.Has(ServiceKey("internal"))); // not a LoadBalancer: of no use to BgpLb
        Assert.Equal("node-1", Assert.IsType<NodeInfo>(consumer.Objects[new ResourceKey("Node", "", "node-1")]).Name);
        Assert.Equal("secret", Assert.IsType<SecretInfo>(consumer.Objects[new ResourceKey("Secret", Ns, "bgp-password")]).Password);
        Assert.False(consumer.Has(new ResourceKey("Secret", "default", "unrelated")));
        Assert.IsType<NamespaceInfo>(consumer.Objects[new ResourceKey("Namespace", "", "default")]);
        var slice = Assert.IsType<EndpointSliceInfo>(consumer.Objects[new ResourceKey("EndpointSlice", "default", "web-abc")]);
        Assert.Equal(new EndpointSliceInfo("default/web-abc", "default/web", true, ["node-1"]), slice);
        Assert.Equal(7, consumer.Objects.Count);
        Assert.Equal(1, _server.Requests("LIST ipaddresspools"));
        Assert.Equal(1, _server.Requests("LIST services"));
    }

    [Fact]
    public async Task Watch_events_add_modify_and_delete_objects_one_change_each()
    {
        await using var batches = Store().WatchAsync(_stop.Token).GetAsyncEnumerator();
        var consumer = new Consumer(batches);
        Assert.Empty((await consumer.NextAsync()).Changes);

        _server.Apply("ipaddresspools", Pool("pool-a", "203.0.113.0/28"));
        var added = Assert.Single((await consumer.NextAsync()).Changes);
        Assert.Equal(PoolKey("pool-a"), added.Key);
        Assert.Equal(["203.0.113.0/28"], ((IPAddressPoolSpec)((MetalLbObject)added.Value!).Spec).Addresses!);

        _server.Apply("ipaddresspools", Pool("pool-a", "198.51.100.0/28"));
        var modified = Assert.Single((await consumer.NextAsync()).Changes);
        Assert.Equal(["198.51.100.0/28"], ((IPAddressPoolSpec)((MetalLbObject)modified.Value!).Spec).Addresses!);

        _server.Remove("ipaddresspools", Ns, "pool-a");
        Assert.Equal(new ResourceChange(PoolKey("pool-a"), null), Assert.Single((await consumer.NextAsync()).Changes));
        Assert.Equal(1, _server.Requests("LIST ipaddresspools"));
    }

    [Fact]
    public async Task Broken_watch_reconnects_from_its_resource_version_without_losing_changes()
    {
        _server.Apply("services", Service("default", "a"));
        await using var batches = Store().WatchAsync(_stop.Token).GetAsyncEnumerator();
        var consumer = new Consumer(batches);
        await consumer.NextAsync();
        Assert.True(consumer.Has(ServiceKey("a")));
        await WaitForAsync(() => _server.OpenWatches == KindCount);

        _server.BreakWatches();
        _server.Apply("services", Service("default", "b"));
        _server.Remove("services", "default", "a");

        var read = await consumer.UntilAsync(c => c.Has(ServiceKey("b")) && !c.Has(ServiceKey("a")));
        Assert.Equal(Keys(ServiceKey("a"), ServiceKey("b")), ChangedKeys(read));
        Assert.True(_server.Requests("WATCH services") >= 2);
        Assert.Equal(1, _server.Requests("LIST services")); // resumed, not relisted
    }

    [Fact]
    public async Task Gone_error_event_in_a_watch_relists_without_repeating_unchanged_objects()
    {
        _server.Apply("ipaddresspools", Pool("pool-a", "203.0.113.0/28"));
        _server.Apply("services", Service("default", "web"));
        await using var batches = Store().WatchAsync(_stop.Token).GetAsyncEnumerator();
        var consumer = new Consumer(batches);
        await consumer.NextAsync();
        await WaitForAsync(() => _server.OpenWatches == KindCount);

        _server.SendGoneToWatches();
        await WaitForAsync(() => _server.Requests("LIST ipaddresspools") == 2 && _server.Requests("LIST services") == 2);
        _server.Apply("ipaddresspools", Pool("pool-b", "198.51.100.0/28"));

        // The relists come before pool-b in the informer's order: had they repeated anything, it would show up here.
        var read = await consumer.UntilAsync(c => c.Has(PoolKey("pool-b")));
        Assert.Equal(Keys(PoolKey("pool-b")), ChangedKeys(read));
        Assert.True(consumer.Has(PoolKey("pool-a")));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Watch_from_a_compacted_resource_version_relists_and_emits_only_the_difference(bool goneAsHttpStatus)
    {
        _server.GoneAsHttpStatus = goneAsHttpStatus;
        _server.SilentWatches = true; // the first watches must not see the changes below
        _server.Apply("ipaddresspools", Pool("pool-a", "203.0.113.0/28"));
        _server.Apply("ipaddresspools", Pool("pool-c", "192.0.2.0/28"));
        _server.Apply("services", Service("default", "web"));
        _server.Apply("services", Service("default", "gone"));
        _server.Apply("services", Service("default", "resized"));
        await using var batches = Store().WatchAsync(_stop.Token).GetAsyncEnumerator();
        var consumer = new Consumer(batches);
        await consumer.NextAsync();
        await WaitForAsync(() => _server.OpenWatches == KindCount);

        _server.Remove("ipaddresspools", Ns, "pool-a");
        _server.Apply("ipaddresspools", Pool("pool-b", "198.51.100.0/28"));
        _server.Remove("services", "default", "gone");
        _server.Apply("services", Service("default", "resized", port: 8080));
        _server.Compact(); // the deletions are no longer in the history: only a relist can reveal them
        _server.SilentWatches = false;
        _server.BreakWatches();

        var read = await consumer.UntilAsync(c => !c.Has(PoolKey("pool-a")) && c.Has(PoolKey("pool-b")) && !c.Has(ServiceKey("gone"))
            && ((ServiceInfo)c.Objects[ServiceKey("resized")]).Ports[0].Port == 8080);
        // Each kind's relist is one change set: unchanged pool-c and web are not in it.
        Assert.Equal(Keys(PoolKey("pool-a"), PoolKey("pool-b"), ServiceKey("gone"), ServiceKey("resized")), ChangedKeys(read));
        Assert.Contains(read, b => b.Changes.Contains(new ResourceChange(PoolKey("pool-a"), null)) && b.Changes.Any(c => c.Key == PoolKey("pool-b")));
        Assert.True(consumer.Has(PoolKey("pool-c")));
        Assert.True(consumer.Has(ServiceKey("web")));
        Assert.Equal(2, _server.Requests("LIST ipaddresspools"));
    }

    [Fact]
    public async Task Silent_watch_is_restarted_by_the_watchdog_and_not_before()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var batches = Store(time).WatchAsync(_stop.Token).GetAsyncEnumerator();
        var consumer = new Consumer(batches);
        await consumer.NextAsync();
        await WaitForAsync(() => _server.OpenWatches == KindCount);

        // Short of the timeout the first watch still delivers: a watchdog firing now would have cancelled it
        // synchronously in Advance, and the event could then only come through a second watch request.
        time.Advance(Fast.SilentWatchTimeout - TimeSpan.FromSeconds(1));
        _server.Apply("services", Service("default", "early"));
        await consumer.UntilAsync(c => c.Has(ServiceKey("early")));
        Assert.Equal(1, _server.Requests("WATCH services"));

        _server.SilenceOpenWatches(); // hung connections; new watches deliver
        _server.Apply("services", Service("default", "late"));
        time.Advance(Fast.SilentWatchTimeout);
        await consumer.UntilAsync(c => c.Has(ServiceKey("late")));
        Assert.Equal(2, _server.Requests("WATCH services"));
        Assert.Equal(1, _server.Requests("LIST services"));
    }

    [Fact]
    public async Task Slow_server_delays_readiness_until_every_kind_is_listed()
    {
        using var release = new ReleaseOnDispose();
        _server.Delay = TimeSpan.FromMilliseconds(300);
        _server.BeforeList = (resource, _) => resource == "endpointslices" ? release.Task : Task.CompletedTask;
        _server.Apply("services", Service("default", "web"));
        var store = Store();
        await using var batches = store.WatchAsync(_stop.Token).GetAsyncEnumerator();
        var consumer = new Consumer(batches);
        var first = consumer.NextAsync();
        await WaitForAsync(() => _server.Requests("LIST endpointslices") == 1 && _server.OpenWatches == KindCount - 1);
        Assert.False(first.IsCompleted);
        Assert.False(store.IsReady);

        release.Release();
        Assert.True((await first).IsInitial);
        Assert.True(store.IsReady);
        Assert.True(consumer.Has(ServiceKey("web")));
        _server.Apply("services", Service("default", "second"));
        await consumer.UntilAsync(c => c.Has(ServiceKey("second")));
    }

    /// <summary>A gate the fake server waits on; released at the latest when the test ends, so no request hangs.</summary>
    private sealed class ReleaseOnDispose : IDisposable
    {
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Task => _gate.Task;

        public void Release() => _gate.TrySetResult();

        public void Dispose() => Release();
    }

    [Fact]
    public async Task A_kind_that_cannot_be_listed_keeps_the_store_unready_until_it_recovers()
    {
        var failing = true;
        _server.Fail = what => failing && what == "LIST endpointslices";
        var store = Store();
        await using var batches = store.WatchAsync(_stop.Token).GetAsyncEnumerator();
        var first = batches.MoveNextAsync().AsTask();
        await WaitForAsync(() => _server.Requests("LIST endpointslices") >= 3 && _server.OpenWatches == KindCount - 1);
        Assert.False(first.IsCompleted);
        Assert.False(store.IsReady);

        failing = false;
        Assert.True(await first.WaitAsync(Patience));
        Assert.True(batches.Current.IsInitial);
        Assert.True(store.IsReady);
    }

    [Fact]
    public async Task Invalid_object_reports_problems_for_its_origin_and_keeps_the_last_good_version()
    {
        _server.Apply("ipaddresspools", Pool("pool-a", "203.0.113.0/28"));
        var state = new ClusterState(new ConfigOptions());
        await using var batches = Store().WatchAsync(_stop.Token).GetAsyncEnumerator();
        var consumer = new Consumer(batches);
        state.Apply(await consumer.NextAsync());
        Assert.False(state.HasErrors);
        var origin = Origin(PoolKey("pool-a"));

        var misspelt = Pool("pool-a", "203.0.113.0/28");
        misspelt["spec"]!["autoAsign"] = false;
        _server.Apply("ipaddresspools", misspelt);
        var batch = await consumer.NextAsync();
        Assert.Empty(batch.Changes); // the last good version stays downstream
        var error = Assert.Single(batch.Problems[origin]);
        Assert.Equal(ConfigSeverity.Error, error.Severity);
        Assert.Equal(origin, error.Origin);
        Assert.Equal("spec.autoAsign", error.Field);
        Assert.Contains("unknown field", error.Message, StringComparison.Ordinal);
        state.Apply(batch);
        Assert.Equal([IPNetwork.Parse("203.0.113.0/28")], Assert.Single(state.Config.Pools).Cidrs);

        // Readable again but semantically wrong: the value changes, the read problem clears, validation keeps the last good.
        _server.Apply("ipaddresspools", Pool("pool-a", "bogus"));
        batch = await consumer.NextAsync();
        Assert.Equal(PoolKey("pool-a"), Assert.Single(batch.Changes).Key);
        Assert.Empty(batch.Problems[origin]);
        state.Apply(batch);
        Assert.Contains(state.Problems, e => e.Field == "spec.addresses[0]" && e.Resource == PoolKey("pool-a"));
        Assert.Equal([IPNetwork.Parse("203.0.113.0/28")], Assert.Single(state.Config.Pools).Cidrs);

        // Deleting an object whose problems were reported clears them.
        _server.Apply("ipaddresspools", misspelt);
        Assert.NotEmpty((await consumer.NextAsync()).Problems[origin]);
        _server.Remove("ipaddresspools", Ns, "pool-a");
        batch = await consumer.NextAsync();
        Assert.Equal(new ResourceChange(PoolKey("pool-a"), null), Assert.Single(batch.Changes));
        Assert.Empty(batch.Problems[origin]);
        Assert.Empty(consumer.Problems);
    }

    [Fact]
    public async Task The_excludel2_ConfigMap_sets_the_L2_exclusions_and_an_invalid_edit_keeps_the_last_good_list()
    {
        static JsonObject ConfigMap(string name, string content) => new()
        {
            ["apiVersion"] = "v1",
            ["kind"] = "ConfigMap",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = Ns },
            ["data"] = new JsonObject { ["excludel2.yaml"] = content },
        };
        _server.Apply("configmaps", ConfigMap("unrelated", "whatever: [1]"));
        var state = new ClusterState(new ConfigOptions());
        await using var batches = Store().WatchAsync(_stop.Token).GetAsyncEnumerator();
        var consumer = new Consumer(batches);
        state.Apply(await consumer.NextAsync());
        Assert.Empty(state.Problems);
        Assert.Equal(L2InterfaceExclusion.Default, state.Config.ExcludedL2Interfaces);

        _server.Apply("configmaps", ConfigMap("metallb-excludel2", "announcedInterfacesToExclude: [\"^eth9$\"]"));
        Assert.True(state.Apply(await consumer.NextAsync()).ConfigChanged);
        Assert.Equal(["^eth9$"], state.Config.ExcludedL2Interfaces.Patterns);

        _server.Apply("configmaps", ConfigMap("metallb-excludel2", "announcedInterfacesToExclude: [\"^eth[\"]"));
        state.Apply(await consumer.NextAsync());
        var error = Assert.Single(state.Problems);
        Assert.Equal((new ResourceKey("ConfigMap", Ns, "metallb-excludel2"), "data.excludel2.yaml: announcedInterfacesToExclude[0]"), (error.Resource, error.Field));
        Assert.Equal(["^eth9$"], state.Config.ExcludedL2Interfaces.Patterns);

        _server.Remove("configmaps", Ns, "metallb-excludel2");
        state.Apply(await consumer.NextAsync());
        Assert.Empty(state.Problems);
        Assert.Equal(L2InterfaceExclusion.Default, state.Config.ExcludedL2Interfaces);
    }

    [Fact]
    public async Task A_large_kind_arrives_complete_across_pages()
    {
        for (var i = 0; i < 1200; i++)
        {
            _server.Apply("services", Service($"ns-{i % 7}", $"svc-{i:D4}"));
        }
        _server.Apply("nodes", new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Node", ["metadata"] = new JsonObject { ["name"] = "node-1" } });
        await using var batches = Store().WatchAsync(_stop.Token).GetAsyncEnumerator();
        var consumer = new Consumer(batches);

        var first = await consumer.NextAsync();
        Assert.Equal(1200, consumer.Objects.Keys.Count(k => k.Kind == "Service"));
        Assert.Equal(1201, first.Changes.Count);
        Assert.Equal(3, _server.Requests("LIST services")); // 500 + 500 + 200
        Assert.Equal(1, _server.Requests("LIST nodes"));

        _server.Apply("services", Service("default", "after"));
        await consumer.UntilAsync(c => c.Has(ServiceKey("after")));
    }

    [Fact]
    public async Task An_expired_continue_token_restarts_the_list()
    {
        for (var i = 0; i < 1200; i++)
        {
            _server.Apply("services", Service("default", $"svc-{i:D4}"));
        }
        var expired = 0;
        _server.BeforeList = (resource, continuation) =>
        {
            if (resource == "services" && continuation && Interlocked.Exchange(ref expired, 1) == 0)
            {
                _server.Apply("services", Service("default", "aaa-while-listing")); // before the first page's position
                _server.Remove("services", "default", "svc-0000");
                _server.Compact();
            }
            return Task.CompletedTask;
        };
        await using var batches = Store().WatchAsync(_stop.Token).GetAsyncEnumerator();
        var consumer = new Consumer(batches);

        var first = await consumer.NextAsync();
        Assert.True(first.IsInitial);
        Assert.Equal(1200, consumer.Objects.Keys.Count(k => k.Kind == "Service"));
        Assert.True(consumer.Has(ServiceKey("aaa-while-listing")));
        Assert.False(consumer.Has(ServiceKey("svc-0000")));
        Assert.Equal(5, _server.Requests("LIST services")); // first page, the expired second, then three again

        _server.Apply("services", Service("default", "after"));
        await consumer.UntilAsync(c => c.Has(ServiceKey("after")));
    }

    [Fact]
    public async Task A_modification_of_nothing_BgpLb_uses_is_no_change()
    {
        _server.Apply("services", Service("default", "web"));
        _server.Apply("services", Service("default", "internal", type: "ClusterIP"));
        await using var batches = Store().WatchAsync(_stop.Token).GetAsyncEnumerator();
        var consumer = new Consumer(batches);
        await consumer.NextAsync();
        Assert.True(consumer.Has(ServiceKey("web")));

        var annotated = Service("default", "web");
        annotated["metadata"]!["annotations"] = new JsonObject { ["example.com/owner"] = "team-a" };
        annotated["spec"]!["sessionAffinity"] = "ClientIP";
        _server.Apply("services", annotated);
        _server.Apply("services", Service("default", "internal", port: 8080, type: "ClusterIP"));
        _server.Apply("services", Service("default", "internal-2", type: "ClusterIP"));
        _server.Remove("services", "default", "internal");
        _server.Apply("services", Service("default", "marker"));

        // The events above come before the marker's on the same watch: any change from them would be read first.
        var read = await consumer.UntilAsync(c => c.Has(ServiceKey("marker")));
        Assert.Equal(Keys(ServiceKey("marker")), ChangedKeys(read));
        Assert.All(read, b => Assert.Empty(b.Problems));
    }

    [Fact]
    public async Task A_slow_consumer_gets_one_change_per_object_with_its_latest_value()
    {
        _server.Apply("services", Service("default", "web"));
        await using var batches = Store().WatchAsync(_stop.Token).GetAsyncEnumerator();
        var consumer = new Consumer(batches);
        await consumer.NextAsync();
        await WaitForAsync(() => _server.OpenWatches == KindCount);

        for (var i = 1; i <= 100; i++)
        {
            _server.Apply("services", Service("default", "web", port: 1000 + i));
        }
        for (var i = 0; i < 50; i++)
        {
            _server.Apply("services", Service("default", $"s{i:D2}"));
        }
        for (var i = 0; i < 25; i++)
        {
            _server.Remove("services", "default", $"s{i:D2}");
        }
        // Once the watch is closed and opened again, the store has taken in every event above; nobody has read them.
        _server.CloseWatches("services");
        await WaitForAsync(() => _server.Requests("WATCH services") == 2);

        var batch = await consumer.NextAsync();
        Assert.Equal(51, batch.Changes.Count);
        Assert.Equal(51, batch.Changes.Select(c => c.Key).Distinct().Count());
        Assert.Equal([new ServicePort("TCP", 1100)], Assert.IsType<ServiceInfo>(batch.Changes.Single(c => c.Key == ServiceKey("web")).Value).Ports);
        Assert.All(Enumerable.Range(0, 25), i => Assert.Contains(new ResourceChange(ServiceKey($"s{i:D2}"), null), batch.Changes));
        Assert.All(Enumerable.Range(25, 25), i => Assert.True(consumer.Has(ServiceKey($"s{i:D2}"))));
    }

    [Fact]
    public async Task Cancelling_the_watch_closes_every_watch_connection()
    {
        using var cancel = new CancellationTokenSource();
        var batches = Store().WatchAsync(cancel.Token).GetAsyncEnumerator();
        await new Consumer(batches).NextAsync();
        await WaitForAsync(() => _server.OpenWatches == KindCount);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await batches.MoveNextAsync().AsTask().WaitAsync(Patience));
        await batches.DisposeAsync().AsTask().WaitAsync(Patience);
        await WaitForAsync(() => _server.OpenWatches == 0);
    }
}
