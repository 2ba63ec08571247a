using System.Net;
using BgpLb.L2.Membership;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace BgpLb.L2.Tests;

public sealed class MembershipTests
{
    private static readonly TimeSpan Suspicion = TimeSpan.FromSeconds(1);
    private static TimeSpan Ms(int ms) => TimeSpan.FromMilliseconds(ms);

    [Fact]
    public void Peers_start_alive_and_die_after_the_suspicion_timeout()
    {
        var table = new MembershipTable("me", Suspicion);
        Assert.Equal(["me"], table.Alive);
        Assert.True(table.SetPeers(["me", "a", "b"], Ms(0)));
        Assert.Equal(["a", "b", "me"], table.Alive);

        Assert.False(table.Heard("a", 1, Ms(900)));
        Assert.Empty(table.Expire(Ms(999)));
        Assert.Equal(["b"], table.Expire(Ms(1000)));
        Assert.Equal(["a", "me"], table.Alive);
        Assert.Empty(table.Expire(Ms(1899)));
        Assert.Equal(["a"], table.Expire(Ms(1900)));
        Assert.Equal(["me"], table.Alive);

        Assert.True(table.Heard("b", 1, Ms(2000)));
        Assert.Equal(["b", "me"], table.Alive);
    }

    [Fact]
    public void Leave_is_immediate_and_only_a_newer_incarnation_revives()
    {
        var table = new MembershipTable("me", Suspicion);
        table.SetPeers(["a"], Ms(0));
        table.Heard("a", 5, Ms(100));
        Assert.False(table.Left("a", 4)); // a stale leave from an older run
        Assert.True(table.Left("a", 5));
        Assert.Equal(["me"], table.Alive);
        Assert.False(table.Heard("a", 5, Ms(200))); // a heartbeat that was in flight
        Assert.True(table.Heard("a", 6, Ms(300)));  // restarted
        Assert.Equal(["a", "me"], table.Alive);
    }

    [Fact]
    public void Unknown_senders_are_ignored_and_removed_peers_forgotten()
    {
        var table = new MembershipTable("me", Suspicion);
        table.SetPeers(["a", "b"], Ms(0));
        Assert.False(table.Heard("stranger", 1, Ms(10)));
        Assert.False(table.Left("stranger", 1));
        Assert.True(table.SetPeers(["a"], Ms(20)));
        Assert.Equal(["a", "me"], table.Alive);
    }

    [Fact]
    public void Messages_round_trip_and_malformed_datagrams_are_rejected()
    {
        var buffer = new byte[MembershipMessage.MaxLength];
        var length = new MembershipMessage(MembershipMessageType.Leave, 42, 7, "node-1"u8).Write(buffer);
        Assert.Equal(24, length);
        Assert.True(MembershipMessage.TryRead(buffer.AsSpan(0, length), out var message));
        Assert.Equal((MembershipMessageType.Leave, 42UL, 7U), (message.Type, message.Incarnation, message.Sequence));
        Assert.True(message.NodeName.SequenceEqual("node-1"u8));

        Assert.False(MembershipMessage.TryRead(buffer.AsSpan(0, length - 1), out _), "truncated name");
        Assert.False(MembershipMessage.TryRead(buffer.AsSpan(0, length + 1), out _), "trailing byte");
        Assert.False(MembershipMessage.TryRead(buffer.AsSpan(0, 18), out _), "header only");
        foreach (var (offset, value) in new[] { (0, (byte)'X'), (4, (byte)0), (4, (byte)3), (17, (byte)0) })
        {
            var bad = buffer.AsSpan(0, length).ToArray();
            bad[offset] = value;
            Assert.False(MembershipMessage.TryRead(bad, out _), $"byte {offset} = {value}");
        }
    }

    [Fact]
    public async Task Speakers_on_loopback_keep_each_other_alive_and_learn_of_a_leave_at_once()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        // Two speakers on 127.0.0.1 and 127.0.0.2 share the port number, as real nodes do.
        var port = FreeUdpPort();
        await using var a = Start("a", IPAddress.Parse("127.0.0.1"), port, time);
        await using var b = Start("b", IPAddress.Parse("127.0.0.2"), port, time);
        a.SetPeers(new Dictionary<string, IPAddress> { ["b"] = IPAddress.Parse("127.0.0.2") });
        b.SetPeers(new Dictionary<string, IPAddress> { ["a"] = IPAddress.Parse("127.0.0.1") });

        // Heartbeats flow on virtual time: advancing in heartbeat steps keeps both alive well past the suspicion timeout.
        for (var i = 0; i < 15; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(200));
            await Task.Delay(20);
        }
        Assert.Equal(["a", "b"], a.Alive);
        Assert.Equal(["a", "b"], b.Alive);

        await b.StopAsync(CancellationToken.None); // graceful: a learns at once
        await WaitUntil(() => a.Alive.Count == 1);
        Assert.True(a.Changes.TryRead(out _));
    }

    [Fact]
    public async Task A_silent_peer_is_dead_after_the_suspicion_timeout_of_virtual_time()
    {
        var time = new FakeTimeProvider();
        await using var a = Start("a", IPAddress.Loopback, 0, time);
        a.SetPeers(new Dictionary<string, IPAddress> { ["ghost"] = IPAddress.Parse("127.0.0.3") });
        Assert.Equal(["a", "ghost"], a.Alive);
        time.Advance(TimeSpan.FromMilliseconds(800));
        await Task.Delay(20);
        Assert.Equal(["a", "ghost"], a.Alive);
        for (var i = 0; i < 2; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(200));
            await Task.Delay(20);
        }
        await WaitUntil(() => a.Alive.Count == 1);
    }

    [Fact]
    public async Task Garbage_datagrams_are_ignored()
    {
        var time = new FakeTimeProvider();
        await using var a = Start("a", IPAddress.Loopback, 0, time);
        a.SetPeers(new Dictionary<string, IPAddress> { ["b"] = IPAddress.Parse("127.0.0.2") });
        using var sender = new System.Net.Sockets.UdpClient();
        var random = new Random(7);
        for (var i = 0; i < 200; i++)
        {
            var junk = new byte[random.Next(0, 300)];
            random.NextBytes(junk);
            await sender.SendAsync(junk, new IPEndPoint(IPAddress.Loopback, a.LocalPort));
        }
        var leave = new byte[MembershipMessage.MaxLength];
        var length = new MembershipMessage(MembershipMessageType.Leave, ulong.MaxValue, 1, "b"u8).Write(leave);
        await sender.SendAsync(leave.AsMemory(0, length), new IPEndPoint(IPAddress.Loopback, a.LocalPort));
        await WaitUntil(() => a.Alive.Count == 1); // still receiving after the junk
    }

    private static SpeakerMembership Start(string name, IPAddress bind, int port, TimeProvider time)
    {
        var membership = new SpeakerMembership(new MembershipOptions { NodeName = name, Port = port, BindAddress = bind },
            time, NullLogger<SpeakerMembership>.Instance);
        membership.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        return membership;
    }

    private static int FreeUdpPort()
    {
        using var probe = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    internal static async Task WaitUntil(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        while (!condition())
            await Task.Delay(10, timeout.Token);
    }
}
