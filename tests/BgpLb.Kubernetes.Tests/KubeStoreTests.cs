using System.Net;
using System.Text.Json.Nodes;
using BgpLb.Config;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace BgpLb.Kubernetes.Tests;

public sealed class KubeStoreTests : IAsyncLifetime, IDisposable
{
    private const string Ns = "metallb-system";
    private const int KindCount = 11;
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

    internal static JsonObject Service(string ns, string name) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Service",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
        ["spec"] = new JsonObject { ["type"] = "LoadBalancer", ["ports"] = new JsonArray(new JsonObject { ["port"] = 80 }) },
    };

    private static JsonObject Secret(string ns, string name) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Secret",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
        ["type"] = "kubernetes.io/basic-auth",
        ["data"] = new JsonObject { ["password"] = "c2VjcmV0" },
    };

    private static bool Has(ResourceSnapshot snapshot, string kind, string ns, string name) =>
        snapshot.Resources.Any(r => r.Key == new ResourceKey(kind, ns, name) && r.Resource is not null);

    private static async Task<ResourceSnapshot> UntilAsync(IAsyncEnumerator<ResourceSnapshot> snapshots, Func<ResourceSnapshot, bool> condition)
    {
        using var timeout = new CancellationTokenSource(Patience);
        while (true)
        {
            var next = snapshots.MoveNextAsync().AsTask();
            var finished = await Task.WhenAny(next, Task.Delay(Timeout.Infinite, timeout.Token).ContinueWith(_ => false, TaskScheduler.Default));
            Assert.True(finished == next, "no matching snapshot in time");
            Assert.True(await next);
            if (condition(snapshots.Current))
            {
                return snapshots.Current;
            }
        }
    }

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
    public async Task First_snapshot_holds_every_listed_kind_and_sets_readiness()
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
        _server.Apply("nodes", new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Node", ["metadata"] = new JsonObject { ["name"] = "node-1" } });
        _server.Apply("secrets", Secret(Ns, "bgp-password"));
        _server.Apply("secrets", Secret("default", "unrelated"));
        _server.Apply("endpointslices", new JsonObject
        {
            ["apiVersion"] = "discovery.k8s.io/v1",
            ["kind"] = "EndpointSlice",
            ["metadata"] = new JsonObject { ["name"] = "web-abc", ["namespace"] = "default", ["labels"] = new JsonObject { ["kubernetes.io/service-name"] = "web" } },
            ["addressType"] = "IPv4",
            ["endpoints"] = new JsonArray(),
        });
        var store = Store();
        Assert.False(store.IsReady);

        await using var snapshots = store.WatchAsync(_stop.Token).GetAsyncEnumerator();
        var first = await UntilAsync(snapshots, _ => true);

        Assert.True(store.IsReady);
        Assert.True(Has(first, "IPAddressPool", Ns, "pool-a"));
        Assert.True(Has(first, "BGPPeer", Ns, "router"));
        Assert.True(Has(first, "Service", "default", "web"));
        Assert.True(Has(first, "Node", "", "node-1"));
        Assert.True(Has(first, "Secret", Ns, "bgp-password"));
        Assert.False(Has(first, "Secret", "default", "unrelated"));
        Assert.True(Has(first, "EndpointSlice", "default", "web-abc"));
        Assert.Empty(first.Errors);
        Assert.Equal("kube:IPAddressPool metallb-system/pool-a", first.Resources.Single(r => r.Key.Kind == "IPAddressPool").Origin);
        Assert.Equal(1, _server.Requests("LIST ipaddresspools"));
        Assert.Equal(1, _server.Requests("LIST services"));
    }

    [Fact]
    public async Task Watch_events_add_modify_and_delete_objects()
    {
        await using var snapshots = Store().WatchAsync(_stop.Token).GetAsyncEnumerator();
        await UntilAsync(snapshots, _ => true);

        _server.Apply("ipaddresspools", Pool("pool-a", "203.0.113.0/28"));
        await UntilAsync(snapshots, s => Has(s, "IPAddressPool", Ns, "pool-a"));

        _server.Apply("ipaddresspools", Pool("pool-a", "198.51.100.0/28"));
        await UntilAsync(snapshots, s => s.Resources.Any(r => r.Resource is Config.Resources.IPAddressPool { Spec.Addresses: ["198.51.100.0/28"] }));

        _server.Remove("ipaddresspools", Ns, "pool-a");
        await UntilAsync(snapshots, s => !s.Resources.Any(r => r.Key.Kind == "IPAddressPool"));
        Assert.Equal(1, _server.Requests("LIST ipaddresspools"));
    }

    [Fact]
    public async Task Broken_watch_reconnects_from_its_resource_version_without_losing_changes()
    {
        _server.Apply("services", Service("default", "a"));
        await using var snapshots = Store().WatchAsync(_stop.Token).GetAsyncEnumerator();
        await UntilAsync(snapshots, s => Has(s, "Service", "default", "a"));
        await WaitForAsync(() => _server.OpenWatches == KindCount);

        _server.BreakWatches();
        _server.Apply("services", Service("default", "b"));
        _server.Remove("services", "default", "a");

        await UntilAsync(snapshots, s => Has(s, "Service", "default", "b") && !Has(s, "Service", "default", "a"));
        Assert.True(_server.Requests("WATCH services") >= 2);
        Assert.Equal(1, _server.Requests("LIST services")); // resumed, not relisted
    }

    [Fact]
    public async Task Gone_error_event_in_a_watch_relists()
    {
        _server.Apply("ipaddresspools", Pool("pool-a", "203.0.113.0/28"));
        await using var snapshots = Store().WatchAsync(_stop.Token).GetAsyncEnumerator();
        await UntilAsync(snapshots, s => Has(s, "IPAddressPool", Ns, "pool-a"));
        await WaitForAsync(() => _server.OpenWatches == KindCount);

        _server.SendGoneToWatches();
        await WaitForAsync(() => _server.Requests("LIST ipaddresspools") == 2);
        _server.Apply("ipaddresspools", Pool("pool-b", "198.51.100.0/28"));
        await UntilAsync(snapshots, s => Has(s, "IPAddressPool", Ns, "pool-a") && Has(s, "IPAddressPool", Ns, "pool-b"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Watch_from_a_compacted_resource_version_relists_and_sees_deletions(bool goneAsHttpStatus)
    {
        _server.GoneAsHttpStatus = goneAsHttpStatus;
        _server.SilentWatches = true; // the first watches must not see the changes below
        _server.Apply("ipaddresspools", Pool("pool-a", "203.0.113.0/28"));
        await using var snapshots = Store().WatchAsync(_stop.Token).GetAsyncEnumerator();
        await UntilAsync(snapshots, s => Has(s, "IPAddressPool", Ns, "pool-a"));
        await WaitForAsync(() => _server.OpenWatches == KindCount);

        _server.Remove("ipaddresspools", Ns, "pool-a");
        _server.Apply("ipaddresspools", Pool("pool-b", "198.51.100.0/28"));
        _server.Compact(); // the deletion is no longer in the history: only a relist can reveal it
        _server.SilentWatches = false;
        _server.BreakWatches();

        await UntilAsync(snapshots, s => !Has(s, "IPAddressPool", Ns, "pool-a") && Has(s, "IPAddressPool", Ns, "pool-b"));
        Assert.Equal(2, _server.Requests("LIST ipaddresspools"));
    }

    [Fact]
    public async Task Silent_watch_is_restarted_by_the_watchdog()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        _server.SilentWatches = true;
        await using var snapshots = Store(time).WatchAsync(_stop.Token).GetAsyncEnumerator();
        await UntilAsync(snapshots, _ => true);
        await WaitForAsync(() => _server.OpenWatches == KindCount);
        _server.SilentWatches = false; // new watches deliver again; the open ones stay silent
        _server.Apply("services", Service("default", "late"));

        time.Advance(Fast.SilentWatchTimeout - TimeSpan.FromSeconds(1));
        await Task.Delay(200);
        Assert.Equal(1, _server.Requests("WATCH services"));

        time.Advance(TimeSpan.FromSeconds(1));
        await UntilAsync(snapshots, s => Has(s, "Service", "default", "late"));
        Assert.Equal(2, _server.Requests("WATCH services"));
        Assert.Equal(1, _server.Requests("LIST services"));
    }

    [Fact]
    public async Task Slow_server_delays_readiness_until_every_kind_is_listed()
    {
        _server.Delay = TimeSpan.FromMilliseconds(300);
        _server.Apply("services", Service("default", "web"));
        var store = Store();
        await using var snapshots = store.WatchAsync(_stop.Token).GetAsyncEnumerator();
        var first = snapshots.MoveNextAsync().AsTask();
        await Task.Delay(100);
        Assert.False(first.IsCompleted);
        Assert.False(store.IsReady);

        Assert.True(await first.WaitAsync(Patience));
        Assert.True(store.IsReady);
        Assert.True(Has(snapshots.Current, "Service", "default", "web"));
        _server.Apply("services", Service("default", "second"));
        await UntilAsync(snapshots, s => Has(s, "Service", "default", "second"));
    }

    [Fact]
    public async Task A_kind_that_cannot_be_listed_keeps_the_store_unready_until_it_recovers()
    {
        var failing = true;
        _server.Fail = what => failing && what == "LIST endpointslices";
        var store = Store();
        await using var snapshots = store.WatchAsync(_stop.Token).GetAsyncEnumerator();
        var first = snapshots.MoveNextAsync().AsTask();
        await WaitForAsync(() => _server.Requests("LIST endpointslices") >= 3 && _server.OpenWatches == KindCount - 1);
        Assert.False(first.IsCompleted);
        Assert.False(store.IsReady);

        failing = false;
        Assert.True(await first.WaitAsync(Patience));
        Assert.True(store.IsReady);
    }

    [Fact]
    public async Task Invalid_object_from_the_api_names_object_and_field_and_keeps_the_last_good_version()
    {
        _server.Apply("ipaddresspools", Pool("pool-a", "203.0.113.0/28"));
        var compiler = new ConfigCompiler(new ConfigOptions());
        await using var snapshots = Store().WatchAsync(_stop.Token).GetAsyncEnumerator();
        var good = compiler.Compile(await UntilAsync(snapshots, s => Has(s, "IPAddressPool", Ns, "pool-a")));
        Assert.False(good.HasErrors);

        var misspelt = Pool("pool-a", "203.0.113.0/28");
        misspelt["spec"]!["autoAsign"] = false;
        _server.Apply("ipaddresspools", misspelt);
        var snapshot = await UntilAsync(snapshots, s => s.Errors.Length > 0);
        var update = compiler.Compile(snapshot);

        var error = Assert.Single(update.Errors, e => e.Severity == ConfigSeverity.Error);
        Assert.Equal("kube:IPAddressPool metallb-system/pool-a", error.Origin);
        Assert.Equal("spec.autoAsign", error.Field);
        Assert.Contains("unknown field", error.Message, StringComparison.Ordinal);
        var pool = Assert.Single(update.Config.Pools);
        Assert.Equal("pool-a", pool.Name);
        Assert.Equal([IPNetwork.Parse("203.0.113.0/28")], pool.Cidrs);

        _server.Apply("ipaddresspools", Pool("pool-a", "bogus"));
        update = compiler.Compile(await UntilAsync(snapshots, s => s.Resources.Any(r => r.Resource is Config.Resources.IPAddressPool { Spec.Addresses: ["bogus"] })));
        Assert.Contains(update.Errors, e => e.Field == "spec.addresses[0]" && e.Resource == new ResourceKey("IPAddressPool", Ns, "pool-a"));
        Assert.Equal([IPNetwork.Parse("203.0.113.0/28")], Assert.Single(update.Config.Pools).Cidrs);
    }

    [Fact]
    public async Task Read_lists_once_without_watching()
    {
        _server.Apply("ipaddresspools", Pool("pool-a", "203.0.113.0/28"));
        var snapshot = await Store().ReadAsync(_stop.Token);
        Assert.True(Has(snapshot, "IPAddressPool", Ns, "pool-a"));
        Assert.Equal(0, _server.Requests("WATCH ipaddresspools"));
        Assert.Equal(0, _server.OpenWatches);
    }

    [Fact]
    public async Task Unreachable_api_server_fails_a_read()
    {
        var store = Store();
        await _server.DisposeAsync();
        await Assert.ThrowsAnyAsync<HttpRequestException>(async () => await store.ReadAsync(_stop.Token));
        _server = await FakeKubeApiServer.StartAsync();
    }

    [Fact]
    public async Task Cancelling_the_watch_closes_every_watch_connection()
    {
        using var cancel = new CancellationTokenSource();
        var snapshots = Store().WatchAsync(cancel.Token).GetAsyncEnumerator();
        await UntilAsync(snapshots, _ => true);
        await WaitForAsync(() => _server.OpenWatches == KindCount);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await snapshots.MoveNextAsync());
        await snapshots.DisposeAsync();
        await WaitForAsync(() => _server.OpenWatches == 0);
    }
}
