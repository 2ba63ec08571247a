using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using BgpLb.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace BgpLb.Kubernetes.Tests;

/// <summary>
/// Each candidate runs on its own virtual clock (an elector trusts no other clock), moved only once the candidate waits for
/// it: a step is one retry period after an attempt has finished, so what a candidate saw is known without any sleep.
/// </summary>
public sealed class LeaseElectorTests : IAsyncLifetime
{
    private const string Ns = "metallb-system";
    private static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan RenewDeadline = TimeSpan.FromMilliseconds(1500);
    private static readonly TimeSpan RetryPeriod = TimeSpan.FromMilliseconds(100);
    private FakeKubeApiServer _server = null!;

    public async Task InitializeAsync() => _server = await FakeKubeApiServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private LeaseElector Candidate(string identity, TimeProvider time) => new(_server.CreateClient(), new LeaseElectorOptions
    {
        Namespace = Ns,
        Name = "bgplb-controller",
        Identity = identity,
        LeaseDuration = LeaseDuration,
        RenewDeadline = RenewDeadline,
        RetryPeriod = RetryPeriod,
    }, time, NullLogger<LeaseElector>.Instance);

    private string? Holder() => _server.Get("leases", Ns, "bgplb-controller")?["spec"]?["holderIdentity"]?.GetValue<string>();

    /// <summary>Waits until the candidate has finished an attempt and waits for its retry period.</summary>
    private static Task AttemptedAsync(ArmedTimeProvider time) => time.WaitUntilArmedAsync(RetryPeriod);

    /// <summary>Lets one retry period pass, then waits until the attempt it starts has finished.</summary>
    private static async Task StepAsync(ArmedTimeProvider time)
    {
        await AttemptedAsync(time);
        time.Advance(RetryPeriod);
        await AttemptedAsync(time);
    }

    [Fact]
    public async Task One_candidate_leads_and_hands_over_on_release()
    {
        var timeA = new ArmedTimeProvider();
        var a = Candidate("a", timeA);
        var changes = new ConcurrentQueue<bool>();
        a.LeadershipChanged += (_, leader) => changes.Enqueue(leader);
        using var stopA = new CancellationTokenSource();
        var runA = a.RunAsync(stopA.Token);
        await AttemptedAsync(timeA);
        Assert.True(a.IsLeader);
        Assert.Equal("a", Holder());

        var timeB = new ArmedTimeProvider();
        var b = Candidate("b", timeB);
        using var stopB = new CancellationTokenSource();
        var runB = b.RunAsync(stopB.Token);
        await AttemptedAsync(timeB);
        for (var waited = RetryPeriod; waited < LeaseDuration; waited += RetryPeriod)
        {
            await StepAsync(timeB);
            Assert.False(b.IsLeader, $"took a held lease after {waited}");
        }
        Assert.True(a.IsLeader);

        await stopA.CancelAsync();
        await runA;
        Assert.False(a.IsLeader);
        Assert.Equal([true, false], changes);
        await StepAsync(timeB);
        Assert.True(b.IsLeader, "a released lease is taken at the next attempt, without waiting for it to expire");
        Assert.Equal("b", Holder());
        Assert.Equal(1, _server.Get("leases", Ns, "bgplb-controller")!["spec"]!["leaseTransitions"]!.GetValue<int>());

        await stopB.CancelAsync();
        await runB;
    }

    [Fact]
    public async Task Lease_of_a_frozen_leader_is_taken_only_after_it_expires()
    {
        var leaseDuration = TimeSpan.FromSeconds(1);
        _server.Apply("leases", new JsonObject
        {
            ["apiVersion"] = "coordination.k8s.io/v1",
            ["kind"] = "Lease",
            ["metadata"] = new JsonObject { ["name"] = "bgplb-controller", ["namespace"] = Ns },
            ["spec"] = new JsonObject
            {
                ["holderIdentity"] = "frozen",
                ["leaseDurationSeconds"] = (int)leaseDuration.TotalSeconds,
                ["renewTime"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", System.Globalization.CultureInfo.InvariantCulture),
            },
        });
        var time = new ArmedTimeProvider();
        var b = Candidate("b", time);
        using var stop = new CancellationTokenSource();
        var run = b.RunAsync(stop.Token);
        await AttemptedAsync(time);
        var waited = TimeSpan.Zero;
        while (!b.IsLeader)
        {
            Assert.True(waited < leaseDuration, $"not leader after the lease expired {waited - leaseDuration} ago");
            await StepAsync(time);
            waited += RetryPeriod;
        }
        Assert.Equal(leaseDuration, waited); // the first attempt at or after expiry, measured from the first sight of the lease
        Assert.Equal("b", Holder());
        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task Leader_steps_down_when_another_holder_appears()
    {
        var time = new ArmedTimeProvider();
        var a = Candidate("a", time);
        using var stop = new CancellationTokenSource();
        var run = a.RunAsync(stop.Token);
        await AttemptedAsync(time);
        Assert.True(a.IsLeader);

        var lease = _server.Get("leases", Ns, "bgplb-controller")!;
        lease["spec"]!["holderIdentity"] = "usurper";
        _server.Apply("leases", lease);
        await StepAsync(time);
        Assert.False(a.IsLeader);

        await stop.CancelAsync();
        await run;
        Assert.Equal("usurper", Holder()); // not ours, so not released
    }

    [Fact]
    public async Task Leader_steps_down_when_renewing_hangs_past_the_deadline()
    {
        var time = new ArmedTimeProvider();
        var a = Candidate("a", time);
        using var stop = new CancellationTokenSource();
        var run = a.RunAsync(stop.Token);
        await AttemptedAsync(time);
        Assert.True(a.IsLeader);

        _server.Delay = TimeSpan.FromHours(1); // the API server never answers; the elector's deadline aborts the request
        time.Advance(RetryPeriod);
        await time.WaitUntilArmedAsync(RenewDeadline);
        Assert.True(a.IsLeader); // a renewal in progress is no reason to step down yet
        time.Advance(RenewDeadline);
        await AttemptedAsync(time);
        Assert.False(a.IsLeader);

        _server.Delay = TimeSpan.Zero;
        await stop.CancelAsync();
        await run;
    }
}
