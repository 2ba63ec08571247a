using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;

namespace BgpLb.Kubernetes.Tests;

public sealed class LeaseElectorTests : IAsyncLifetime
{
    private const string Ns = "metallb-system";
    private FakeKubeApiServer _server = null!;

    public async Task InitializeAsync() => _server = await FakeKubeApiServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private LeaseElector Candidate(string identity) => new(_server.CreateClient(), new LeaseElectorOptions
    {
        Namespace = Ns,
        Name = "bgplb-controller",
        Identity = identity,
        LeaseDuration = TimeSpan.FromSeconds(2),
        RenewDeadline = TimeSpan.FromMilliseconds(1500),
        RetryPeriod = TimeSpan.FromMilliseconds(100),
    }, TimeProvider.System, NullLogger<LeaseElector>.Instance);

    private string? Holder() => _server.Get("leases", Ns, "bgplb-controller")?["spec"]?["holderIdentity"]?.GetValue<string>();

    [Fact]
    public async Task One_candidate_leads_and_hands_over_on_release()
    {
        var a = Candidate("a");
        var changes = new ConcurrentQueue<bool>();
        a.LeadershipChanged += (_, leader) => changes.Enqueue(leader);
        using var stopA = new CancellationTokenSource();
        var runA = a.RunAsync(stopA.Token);
        await KubeStoreTests.WaitForAsync(() => a.IsLeader);
        Assert.Equal("a", Holder());

        var b = Candidate("b");
        using var stopB = new CancellationTokenSource();
        var runB = b.RunAsync(stopB.Token);
        await Task.Delay(300);
        Assert.False(b.IsLeader);
        Assert.True(a.IsLeader);

        var stoppedAt = DateTime.UtcNow;
        await stopA.CancelAsync();
        await runA;
        Assert.False(a.IsLeader);
        Assert.Equal([true, false], changes);
        await KubeStoreTests.WaitForAsync(() => b.IsLeader);
        Assert.True(DateTime.UtcNow - stoppedAt < TimeSpan.FromSeconds(2), "released lease should be taken without waiting for expiry");
        Assert.Equal("b", Holder());
        Assert.Equal(1, _server.Get("leases", Ns, "bgplb-controller")!["spec"]!["leaseTransitions"]!.GetValue<int>());

        await stopB.CancelAsync();
        await runB;
    }

    [Fact]
    public async Task Lease_of_a_frozen_leader_is_taken_only_after_it_expires()
    {
        _server.Apply("leases", new JsonObject
        {
            ["apiVersion"] = "coordination.k8s.io/v1",
            ["kind"] = "Lease",
            ["metadata"] = new JsonObject { ["name"] = "bgplb-controller", ["namespace"] = Ns },
            ["spec"] = new JsonObject
            {
                ["holderIdentity"] = "frozen",
                ["leaseDurationSeconds"] = 1,
                ["renewTime"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", System.Globalization.CultureInfo.InvariantCulture),
            },
        });
        var b = Candidate("b");
        var becameLeaderAt = DateTime.MaxValue;
        b.LeadershipChanged += (_, leader) => becameLeaderAt = leader ? DateTime.UtcNow : becameLeaderAt;
        using var stop = new CancellationTokenSource();
        var started = DateTime.UtcNow;
        var run = b.RunAsync(stop.Token);
        await KubeStoreTests.WaitForAsync(() => b.IsLeader);
        Assert.True(becameLeaderAt - started >= TimeSpan.FromSeconds(1), $"took over after {becameLeaderAt - started}");
        Assert.Equal("b", Holder());
        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task Leader_steps_down_when_another_holder_appears()
    {
        var a = Candidate("a");
        using var stop = new CancellationTokenSource();
        var run = a.RunAsync(stop.Token);
        await KubeStoreTests.WaitForAsync(() => a.IsLeader);

        var lease = _server.Get("leases", Ns, "bgplb-controller")!;
        lease["spec"]!["holderIdentity"] = "usurper";
        _server.Apply("leases", lease);
        await KubeStoreTests.WaitForAsync(() => !a.IsLeader);

        await stop.CancelAsync();
        await run;
        Assert.Equal("usurper", Holder()); // not ours, so not released
    }

    [Fact]
    public async Task Leader_steps_down_when_renewing_hangs_past_the_deadline()
    {
        var a = Candidate("a");
        using var stop = new CancellationTokenSource();
        var run = a.RunAsync(stop.Token);
        await KubeStoreTests.WaitForAsync(() => a.IsLeader);

        _server.Delay = TimeSpan.FromSeconds(5);
        var hungAt = DateTime.UtcNow;
        await KubeStoreTests.WaitForAsync(() => !a.IsLeader);
        Assert.True(DateTime.UtcNow - hungAt < TimeSpan.FromSeconds(3), "stepped down only after the API server answered");

        _server.Delay = TimeSpan.Zero;
        await stop.CancelAsync();
        await run;
    }
}
