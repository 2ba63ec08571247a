using System.Collections.Concurrent;
using BgpLb.Allocation.Client;
using BgpLb.Allocation.V1;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using static BgpLb.Controller.Tests.ControllerFixture;

namespace BgpLb.Controller.Tests;

public sealed class ControllerEndToEndTests : IAsyncLifetime, IAsyncDisposable
{
    private readonly ControllerFixture _fixture = new();

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await _fixture.DisposeAsync();

    public ValueTask DisposeAsync() => _fixture.DisposeAsync();

    private static CancellationToken Timeout => new CancellationTokenSource(ControllerFixture.Timeout).Token;

    [Fact]
    public async Task List_get_and_pool_usage_report_allocations_with_reasons()
    {
        _fixture.Write("config.yaml", Pool("main", "203.0.113.0/31") + Service("a") + Service("b") + Service("c"));
        await _fixture.StartAsync();
        var client = _fixture.Client();

        var list = await client.ListAllocationsAsync(new ListAllocationsRequest(), cancellationToken: Timeout);
        Assert.Equal(["default/a", "default/b", "default/c"], list.Allocations.Select(a => a.Key));
        Assert.True(list.Revision > 0);

        var a = await client.GetAllocationAsync(new GetAllocationRequest { Key = "default/a" }, cancellationToken: Timeout);
        Assert.Equal(["203.0.113.0"], a.Addresses);
        Assert.Equal("main", a.Pool);
        Assert.Equal(Failure.None, a.Failure);

        var c = await client.GetAllocationAsync(new GetAllocationRequest { Key = "default/c" }, cancellationToken: Timeout);
        Assert.Empty(c.Addresses);
        Assert.Equal(Failure.PoolExhausted, c.Failure);
        Assert.Contains("no free IPv4 address", c.Reason, StringComparison.Ordinal);

        var missing = await Assert.ThrowsAsync<RpcException>(async () => await client.GetAllocationAsync(new GetAllocationRequest { Key = "default/zz" }, cancellationToken: Timeout));
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);

        var usage = await client.GetPoolUsageAsync(new GetPoolUsageRequest(), cancellationToken: Timeout);
        var pool = Assert.Single(usage.Pools);
        Assert.Equal(("main", 2.0, 2u, 2u), (pool.Pool, pool.TotalAddresses, pool.AddressesInUse, pool.Consumers));

        using var http = new HttpClient();
        var metrics = await http.GetStringAsync(new Uri($"http://{_fixture.Host!.MetricsEndPoint}/metrics"), Timeout);
        Assert.Contains("metallb_allocator_addresses_in_use_total{pool=\"main\"} 2", metrics, StringComparison.Ordinal);
        Assert.Contains("metallb_allocator_addresses_total{pool=\"main\"} 2", metrics, StringComparison.Ordinal);
        Assert.Equal("ok\n", await http.GetStringAsync(new Uri($"http://{_fixture.Host!.MetricsEndPoint}/readyz"), Timeout));
    }

    [Fact]
    public async Task Metrics_have_MetalLB_names_per_family_and_count_object_updates_and_errors()
    {
        _fixture.Write("config.yaml", Pool("main", "203.0.113.0/31, 2001:db8::/126") + Service("a")
            + Service("b", "  annotations: {metallb.io/loadBalancerIPs: \"2001:db8::2\"}"));
        await _fixture.StartAsync();
        using var http = new HttpClient();
        var uri = new Uri($"http://{_fixture.Host!.MetricsEndPoint}/metrics");
        var metrics = await http.GetStringAsync(uri, Timeout);
        foreach (var line in (string[])[
            "metallb_allocator_addresses_total{pool=\"main\"} 6",
            "metallb_allocator_ipv4_addresses_total{pool=\"main\"} 2",
            "metallb_allocator_ipv6_addresses_total{pool=\"main\"} 4",
            "metallb_allocator_addresses_in_use_total{pool=\"main\"} 2",
            "metallb_allocator_ipv4_addresses_in_use_total{pool=\"main\"} 1",
            "metallb_allocator_ipv6_addresses_in_use_total{pool=\"main\"} 1",
            "metallb_allocator_services_allocated_total{pool=\"main\"} 2",
            "metallb_k8s_client_updates_total 3",
            "metallb_k8s_client_update_errors_total 0",
            "metallb_k8s_client_config_loaded_bool 1",
            "metallb_k8s_client_config_stale_bool 0",
        ])
        {
            Assert.Contains(line + "\n", metrics, StringComparison.Ordinal);
        }

        // An invalid pool next to the good one: one error, stale; the good pool stays in force. Written whole (renamed into
        // place), so that no half-written file is read: the counts are exact.
        _fixture.Write("broken.tmp", Pool("broken", "not-an-address"));
        File.Move(Path.Combine(_fixture.Directory, "broken.tmp"), Path.Combine(_fixture.Directory, "broken.yaml"));
        while (!(metrics = await http.GetStringAsync(uri, Timeout)).Contains("metallb_k8s_client_config_stale_bool 1\n", StringComparison.Ordinal))
            await Task.Delay(50, Timeout);
        Assert.Contains("metallb_k8s_client_updates_total 4\n", metrics, StringComparison.Ordinal);
        Assert.Contains("metallb_k8s_client_update_errors_total 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains("metallb_allocator_addresses_in_use_total{pool=\"main\"} 2\n", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_restart_keeps_every_address_even_when_a_new_service_sorts_first()
    {
        _fixture.Write("config.yaml", Pool("main", "203.0.113.0/29") + Service("m") + Service("n"));
        await _fixture.StartAsync();
        var before = (await _fixture.Client().ListAllocationsAsync(new ListAllocationsRequest(), cancellationToken: Timeout)).Allocations.ToList();
        await _fixture.StopAsync();

        _fixture.Write("config.yaml", Pool("main", "203.0.113.0/29") + Service("a") + Service("m") + Service("n"));
        await _fixture.StartAsync();
        var after = (await _fixture.Client().ListAllocationsAsync(new ListAllocationsRequest(), cancellationToken: Timeout)).Allocations.ToDictionary(a => a.Key);

        foreach (var allocation in before)
            Assert.Equal(allocation.Addresses, after[allocation.Key].Addresses);
        Assert.Equal(["203.0.113.2"], after["default/a"].Addresses);
    }

    [Fact]
    public async Task A_corrupt_state_file_stops_the_start_and_is_not_overwritten()
    {
        _fixture.Write("config.yaml", Pool("main", "203.0.113.0/29") + Service("m"));
        await File.WriteAllTextAsync(_fixture.StatePath, "{\"version\": 1, \"allocations\": {");

        await Assert.ThrowsAsync<ControllerStartupException>(() => _fixture.StartAsync());
        Assert.Equal("{\"version\": 1, \"allocations\": {", await File.ReadAllTextAsync(_fixture.StatePath));
    }

    [Fact]
    public async Task A_first_configuration_with_errors_stops_the_start()
    {
        _fixture.Write("config.yaml", Pool("main", "203.0.113.0/33"));
        await Assert.ThrowsAsync<ControllerStartupException>(() => _fixture.StartAsync());
    }

    [Fact]
    public async Task Allocate_is_idempotent_persisted_and_released()
    {
        var yaml = Pool("main", "203.0.113.0/30") + Service("svc");
        _fixture.Write("config.yaml", yaml);
        await _fixture.StartAsync();
        var client = _fixture.Client();

        var first = await client.AllocateAsync(new AllocateRequest { Name = "tool" }, cancellationToken: Timeout);
        var again = await client.AllocateAsync(new AllocateRequest { Name = "tool" }, cancellationToken: Timeout);
        Assert.Equal(["203.0.113.1"], first.Addresses);
        Assert.Equal(first, again);
        Assert.True(new StateFile(_fixture.StatePath).Load(out _).External.ContainsKey("tool"));

        var pinned = await client.AllocateAsync(new AllocateRequest { Name = "pinned", Addresses = { "203.0.113.3" } }, cancellationToken: Timeout);
        Assert.Equal(["203.0.113.3"], pinned.Addresses);

        var taken = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.AllocateAsync(new AllocateRequest { Name = "thief", Addresses = { "203.0.113.3" } }, cancellationToken: Timeout));
        Assert.Equal(StatusCode.FailedPrecondition, taken.StatusCode);
        Assert.Contains("in use by pinned", taken.Status.Detail, StringComparison.Ordinal);
        var invalid = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.AllocateAsync(new AllocateRequest { Name = "a/b" }, cancellationToken: Timeout));
        Assert.Equal(StatusCode.InvalidArgument, invalid.StatusCode);

        // External allocations survive a restart.
        await _fixture.StopAsync();
        await _fixture.StartAsync();
        client = _fixture.Client();
        Assert.Equal(["203.0.113.1"], (await client.GetAllocationAsync(new GetAllocationRequest { Key = "tool" }, cancellationToken: Timeout)).Addresses);

        Assert.True((await client.ReleaseAsync(new ReleaseRequest { Name = "tool" }, cancellationToken: Timeout)).Released);
        Assert.False((await client.ReleaseAsync(new ReleaseRequest { Name = "tool" }, cancellationToken: Timeout)).Released);
        var gone = await Assert.ThrowsAsync<RpcException>(async () => await client.GetAllocationAsync(new GetAllocationRequest { Key = "tool" }, cancellationToken: Timeout));
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);
        Assert.False(new StateFile(_fixture.StatePath).Load(out _).External.ContainsKey("tool"));
        Assert.Equal(yaml, await File.ReadAllTextAsync(Path.Combine(_fixture.Directory, "config.yaml"))); // never rewritten
        Assert.Equal([".bgplb-state.json", ".bgplb-state.json.journal", "config.yaml"], Directory.GetFiles(_fixture.Directory).Select(Path.GetFileName).Order());
    }

    [Fact]
    public async Task Parallel_allocate_callers_never_receive_the_same_address()
    {
        _fixture.Write("config.yaml", Pool("main", "203.0.113.0/26") + Service("svc"));
        await _fixture.StartAsync();
        var results = new ConcurrentBag<(string Name, string Address)>();

        await Parallel.ForEachAsync(Enumerable.Range(0, 60), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
        {
            var client = _fixture.Client();
            var allocation = await client.AllocateAsync(new AllocateRequest { Name = $"caller-{i}" }, cancellationToken: Timeout);
            results.Add((allocation.Key, Assert.Single(allocation.Addresses)));
        });

        Assert.Equal(60, results.Select(r => r.Address).Distinct().Count());
        Assert.DoesNotContain("203.0.113.0", results.Select(r => r.Address)); // the Service's
        // 61 consumers and 64 addresses: the next three fit, the fourth does not.
        var client = _fixture.Client();
        for (var i = 0; i < 3; i++)
            await client.AllocateAsync(new AllocateRequest { Name = $"extra-{i}" }, cancellationToken: Timeout);
        var full = await Assert.ThrowsAsync<RpcException>(async () => await client.AllocateAsync(new AllocateRequest { Name = "one-too-many" }, cancellationToken: Timeout));
        Assert.Contains("PoolExhausted", full.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Watch_sends_a_snapshot_then_changes_and_resumes_without_loss_or_duplicates()
    {
        _fixture.Write("config.yaml", Pool("main", "203.0.113.0/28") + Service("svc"));
        await _fixture.StartAsync();
        var client = _fixture.Client();

        ulong epoch, revision;
        using (var call = client.WatchAllocations(new WatchAllocationsRequest(), cancellationToken: Timeout))
        {
            var stream = call.ResponseStream;
            Assert.True(await stream.MoveNext(Timeout));
            Assert.True(stream.Current.Snapshot);
            Assert.Equal(["default/svc"], stream.Current.Allocations.Select(a => a.Key));

            await client.AllocateAsync(new AllocateRequest { Name = "one" }, cancellationToken: Timeout);
            Assert.True(await stream.MoveNext(Timeout));
            var change = stream.Current;
            Assert.False(change.Snapshot);
            Assert.Equal(["one"], change.Allocations.Select(a => a.Key));
            (epoch, revision) = (change.Epoch, change.Revision);
        }

        // While disconnected: one allocation added, one removed.
        await client.AllocateAsync(new AllocateRequest { Name = "two" }, cancellationToken: Timeout);
        await client.ReleaseAsync(new ReleaseRequest { Name = "one" }, cancellationToken: Timeout);

        using (var resumed = client.WatchAllocations(new WatchAllocationsRequest { Epoch = epoch, Revision = revision }, cancellationToken: Timeout))
        {
            var stream = resumed.ResponseStream;
            Assert.True(await stream.MoveNext(Timeout));
            Assert.False(stream.Current.Snapshot);
            Assert.Equal(revision + 1, stream.Current.Revision);
            Assert.Equal(["two"], stream.Current.Allocations.Select(a => a.Key));
            Assert.True(await stream.MoveNext(Timeout));
            Assert.Equal(revision + 2, stream.Current.Revision);
            Assert.Equal(["one"], stream.Current.Removed);
            Assert.Empty(stream.Current.Allocations);
        }

        // An unknown epoch (another controller run) or a revision from the future gets a snapshot.
        foreach (var request in new[] { new WatchAllocationsRequest { Epoch = epoch + 2, Revision = revision }, new WatchAllocationsRequest { Epoch = epoch, Revision = revision + 100 } })
        {
            using var fresh = client.WatchAllocations(request, cancellationToken: Timeout);
            Assert.True(await fresh.ResponseStream.MoveNext(Timeout));
            Assert.True(fresh.ResponseStream.Current.Snapshot);
            Assert.Equal(["default/svc", "two"], fresh.ResponseStream.Current.Allocations.Select(a => a.Key));
        }
    }

    [Fact]
    public async Task Watch_follows_configuration_changes()
    {
        _fixture.Write("config.yaml", Pool("main", "203.0.113.0/28") + Service("svc"));
        await _fixture.StartAsync();
        using var call = _fixture.Client().WatchAllocations(new WatchAllocationsRequest(), cancellationToken: Timeout);
        Assert.True(await call.ResponseStream.MoveNext(Timeout));

        _fixture.Write("config.yaml", Pool("main", "203.0.113.0/28") + Service("svc") + Service("new"));
        Assert.True(await call.ResponseStream.MoveNext(Timeout));
        var change = call.ResponseStream.Current;
        Assert.Equal(["default/new"], change.Allocations.Select(a => a.Key));
        Assert.Equal(["203.0.113.1"], change.Allocations[0].Addresses);
    }

    [Fact]
    public async Task The_watcher_resumes_after_a_controller_restart_with_a_fresh_snapshot()
    {
        _fixture.Write("config.yaml", Pool("main", "203.0.113.0/28") + Service("svc"));
        var host = await _fixture.StartAsync();
        var port = host.GrpcEndPoint.Port;
        var watcher = new AllocationWatcher(new ControllerConnection(_fixture.GrpcUri), NullLogger<AllocationWatcher>.Instance,
            options: new AllocationWatcherOptions { InitialBackoff = TimeSpan.FromMilliseconds(50), MaxBackoff = TimeSpan.FromMilliseconds(300) });
        using var cancel = new CancellationTokenSource(ControllerFixture.Timeout);
        await using var updates = watcher.WatchAsync(cancel.Token).GetAsyncEnumerator(cancel.Token);

        Assert.True(await updates.MoveNextAsync());
        var first = updates.Current;
        Assert.True(first.Snapshot);
        Assert.Equal(["default/svc"], first.Upserted.Where(e => e.IsAllocated).Select(e => e.Key));

        // Shutdown must not wait for watchers: the server ends each stream when the controller stops, so a raw stream
        // sees a clean end (status OK). A stream left open would hold the host until its 10 s shutdown timeout and
        // then be aborted, which the client sees as an RpcException instead.
        using var raw = _fixture.Client().WatchAllocations(new WatchAllocationsRequest(), cancellationToken: cancel.Token);
        Assert.True(await raw.ResponseStream.MoveNext(cancel.Token));
        await _fixture.StopAsync();
        Assert.False(await raw.ResponseStream.MoveNext(cancel.Token));
        Assert.Equal(StatusCode.OK, raw.GetStatus().StatusCode);

        await _fixture.StartAsync(port);
        await _fixture.Client().AllocateAsync(new AllocateRequest { Name = "after-restart" }, cancellationToken: cancel.Token);
        // The watcher resumes with the old epoch; the new controller does not know it and answers with a snapshot.
        Assert.True(await updates.MoveNextAsync());
        var resumed = updates.Current;
        Assert.True(resumed.Snapshot);
        Assert.NotEqual(first.Epoch, resumed.Epoch);
        var known = resumed.Upserted.ToDictionary(e => e.Key);
        while (!known.ContainsKey("after-restart"))
        {
            Assert.True(await updates.MoveNextAsync());
            foreach (var entry in updates.Current.Upserted)
                known[entry.Key] = entry;
        }
        Assert.Equal("203.0.113.0", known["default/svc"].Addresses.Single().ToString());
    }
}
