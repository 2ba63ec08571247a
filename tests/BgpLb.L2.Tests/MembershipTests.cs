using System.Net;
using BgpLb.L2.Membership;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
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

    private static readonly MembershipKeys Keys = MembershipKeys.Parse("an-old-shared-key-1\n");

    [Fact]
    public void Messages_round_trip_signed_and_plain_and_malformed_datagrams_are_rejected()
    {
        var buffer = new byte[MembershipMessage.MaxLength];
        var plain = new MembershipMessage(MembershipMessageType.Leave, 42, 7, "node-1"u8).Write(buffer, null);
        Assert.Equal(24, plain);
        Assert.True(MembershipMessage.TryRead(buffer.AsSpan(0, plain), null, out var message, out _));
        Assert.Equal((MembershipMessageType.Leave, 42UL, 7U), (message.Type, message.Incarnation, message.Sequence));
        Assert.True(message.NodeName.SequenceEqual("node-1"u8));
        // Each side takes only its own kind: a plain datagram is unauthenticated for a speaker with keys.
        Assert.False(MembershipMessage.TryRead(buffer.AsSpan(0, plain), Keys, out _, out var rejection));
        Assert.Equal(MembershipRejection.Unauthenticated, rejection);

        var signed = new MembershipMessage(MembershipMessageType.Heartbeat, 42, 8, "node-1"u8).Write(buffer, Keys);
        Assert.Equal(24 + MembershipKeys.TagLength, signed);
        Assert.True(MembershipMessage.TryRead(buffer.AsSpan(0, signed), Keys, out message, out _));
        Assert.Equal((MembershipMessageType.Heartbeat, 8U), (message.Type, message.Sequence));
        Assert.False(MembershipMessage.TryRead(buffer.AsSpan(0, signed), null, out _, out rejection));
        Assert.Equal(MembershipRejection.Unauthenticated, rejection);

        Assert.False(MembershipMessage.TryRead(buffer.AsSpan(0, signed - 1), Keys, out _, out rejection), "truncated tag");
        Assert.Equal(MembershipRejection.Malformed, rejection);
        Assert.False(MembershipMessage.TryRead(buffer.AsSpan(0, 18), Keys, out _, out _), "header only");
        foreach (var (offset, value) in new[] { (0, (byte)'X'), (4, (byte)0), (4, (byte)3), (17, (byte)0) })
        {
            var bad = buffer.AsSpan(0, signed).ToArray();
            bad[offset] = value;
            Assert.False(MembershipMessage.TryRead(bad, Keys, out _, out _), $"byte {offset} = {value}");
        }
    }

    [Fact]
    public void A_key_rotates_through_a_second_line_and_weak_or_missing_keys_are_refused()
    {
        var buffer = new byte[MembershipMessage.MaxLength];
        var rotating = MembershipKeys.Parse("a-brand-new-shared-key\nan-old-shared-key-1\n");
        var length = new MembershipMessage(MembershipMessageType.Heartbeat, 1, 1, "a"u8).Write(buffer, rotating);
        Assert.False(MembershipMessage.TryRead(buffer.AsSpan(0, length), Keys, out _, out _), "signed with the new key: unknown to the old set");
        Assert.True(MembershipMessage.TryRead(buffer.AsSpan(0, length), MembershipKeys.Parse("an-old-shared-key-1\na-brand-new-shared-key"), out _, out _));
        length = new MembershipMessage(MembershipMessageType.Heartbeat, 1, 2, "a"u8).Write(buffer, Keys);
        Assert.True(MembershipMessage.TryRead(buffer.AsSpan(0, length), rotating, out _, out _), "the old key still verifies during the change");

        Assert.Contains("no key", Assert.Throws<FormatException>(() => MembershipKeys.Parse("\n\n")).Message, StringComparison.Ordinal);
        Assert.Contains("16 are needed", Assert.Throws<FormatException>(() => MembershipKeys.Parse("short")).Message, StringComparison.Ordinal);
        Assert.Contains("at most 2", Assert.Throws<FormatException>(() => MembershipKeys.Parse("aaaaaaaaaaaaaaaa\nbbbbbbbbbbbbbbbb\ncccccccccccccccc")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Only_newer_datagrams_of_a_node_are_taken()
    {
        var table = new MembershipTable("me", Suspicion);
        table.SetPeers(["a"], Ms(0));
        Assert.True(table.TryAdvance("a", 5, 1));
        Assert.True(table.TryAdvance("a", 5, 2));
        Assert.False(table.TryAdvance("a", 5, 2), "the same datagram again");
        Assert.False(table.TryAdvance("a", 5, 1), "an older one");
        Assert.False(table.TryAdvance("a", 4, 99), "an older incarnation");
        Assert.True(table.TryAdvance("a", 6, 1), "a restart starts its sequence over");
        Assert.False(table.TryAdvance("stranger", 9, 9));
    }

    [Fact]
    public async Task Speakers_on_loopback_keep_each_other_alive_and_learn_of_a_leave_at_once()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        using TestMeterFactory metersA = new(), metersB = new();
        using ReceiveBarrier barrierA = new(metersA), barrierB = new(metersB);
        // Two speakers on 127.0.0.1 and 127.0.0.2 share the port number, as real nodes do.
        var (a, b) = StartPair(time, metersA, metersB);
        await using var disposeA = a;
        await using var disposeB = b;
        a.SetPeers(new Dictionary<string, IPAddress> { ["b"] = IPAddress.Parse("127.0.0.2") });
        b.SetPeers(new Dictionary<string, IPAddress> { ["a"] = IPAddress.Parse("127.0.0.1") });

        // Heartbeats flow on virtual time: advancing in heartbeat steps keeps both alive well past the suspicion timeout.
        // Each step's heartbeats are sent within Advance; the barriers make sure both were handled before time moves on.
        for (var i = 0; i < 15; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(200));
            await barrierA.PassAsync(new IPEndPoint(IPAddress.Parse("127.0.0.1"), a.LocalPort));
            await barrierB.PassAsync(new IPEndPoint(IPAddress.Parse("127.0.0.2"), b.LocalPort));
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
        // Expiry is checked in the heartbeat timer's callback, which Advance runs: no waiting needed either way.
        time.Advance(TimeSpan.FromMilliseconds(800));
        Assert.Equal(["a", "ghost"], a.Alive);
        time.Advance(TimeSpan.FromMilliseconds(200));
        Assert.Equal(["a"], a.Alive);
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
        var length = new MembershipMessage(MembershipMessageType.Leave, ulong.MaxValue, 1, "b"u8).Write(leave, Keys);
        using var b = new System.Net.Sockets.UdpClient(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
        await b.SendAsync(leave.AsMemory(0, length), new IPEndPoint(IPAddress.Loopback, a.LocalPort));
        await WaitUntil(() => a.Alive.Count == 1); // still receiving after the junk
    }

    /// <summary>
    /// The test plays node b from 127.0.0.2 and an attacker from 127.0.0.3. Datagrams are handled in order by one receive
    /// loop, so once the last (valid) leave has taken b out, every datagram before it has been judged; the rejection
    /// counts then say exactly which were dropped, and the valid leave being taken proves no forged one was.
    /// </summary>
    [Fact]
    public async Task Forged_spoofed_and_replayed_datagrams_are_dropped_and_counted()
    {
        using var meters = new TestMeterFactory();
        var rejected = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == meters && instrument.Name == "bgplb_memberlist_rejected_total")
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            lock (rejected)
                rejected[(string)tags[0].Value!] = rejected.GetValueOrDefault((string)tags[0].Value!) + value;
        });
        listener.Start();

        var time = new FakeTimeProvider();
        await using var a = Start("a", IPAddress.Loopback, 0, time, meters);
        a.SetPeers(new Dictionary<string, IPAddress> { ["b"] = IPAddress.Parse("127.0.0.2") });
        using var b = new System.Net.Sockets.UdpClient(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
        using var attacker = new System.Net.Sockets.UdpClient(new IPEndPoint(IPAddress.Parse("127.0.0.3"), 0));
        var target = new IPEndPoint(IPAddress.Loopback, a.LocalPort);
        async Task Send(System.Net.Sockets.UdpClient from, MembershipMessageType type, uint sequence, MembershipKeys? keys)
        {
            var datagram = new byte[MembershipMessage.MaxLength];
            var length = new MembershipMessage(type, 10, sequence, "b"u8).Write(datagram, keys);
            await from.SendAsync(datagram.AsMemory(0, length), target);
        }

        await Send(b, MembershipMessageType.Heartbeat, 5, Keys);
        await Send(b, MembershipMessageType.Heartbeat, 5, Keys);                                   // replayed
        await Send(b, MembershipMessageType.Leave, 4, Keys);                                       // replayed: older
        await Send(attacker, MembershipMessageType.Leave, 6, Keys);                                // wrong source
        await Send(b, MembershipMessageType.Leave, 6, MembershipKeys.Parse("not-the-shared-key")); // unauthenticated
        await Send(b, MembershipMessageType.Leave, 6, null);                                       // unauthenticated: unsigned
        await Send(b, MembershipMessageType.Leave, 6, Keys);                                       // the real one
        await WaitUntil(() => a.Alive.Count == 1);

        listener.RecordObservableInstruments();
        lock (rejected)
            Assert.Equal(new Dictionary<string, long> { ["Replayed"] = 2, ["WrongSource"] = 1, ["Unauthenticated"] = 2 }, rejected);
    }

    private static SpeakerMembership Start(string name, IPAddress bind, int port, TimeProvider time, IMeterFactory? meters = null,
        ILogger<SpeakerMembership>? logger = null)
    {
        var membership = new SpeakerMembership(new MembershipOptions { NodeName = name, Port = port, BindAddress = bind, Keys = Keys },
            time, meters ?? new TestMeterFactory(), logger ?? NullLogger<SpeakerMembership>.Instance);
        membership.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        return membership;
    }

    /// <summary>
    /// Speakers on 127.0.0.1 and 127.0.0.2 on one port number that was free a moment ago; when another process took it in
    /// between, the pair is started again on a new one.
    /// </summary>
    private static (SpeakerMembership A, SpeakerMembership B) StartPair(TimeProvider time, IMeterFactory metersA, IMeterFactory metersB)
    {
        for (var attempt = 1; ; attempt++)
        {
            var port = FreeUdpPort();
            SpeakerMembership? a = null;
            try
            {
                a = Start("a", IPAddress.Parse("127.0.0.1"), port, time, metersA);
                return (a, Start("b", IPAddress.Parse("127.0.0.2"), port, time, metersB));
            }
            catch (System.Net.Sockets.SocketException e) when (e.SocketErrorCode == System.Net.Sockets.SocketError.AddressAlreadyInUse && attempt < 5)
            {
                a?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }
    }

    private static int FreeUdpPort()
    {
        using var probe = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    /// <summary>
    /// One receive loop handles a speaker's datagrams in the order they arrive: once a junk datagram sent after others
    /// has been rejected (counted on the speaker's own meters), those before it have been handled.
    /// </summary>
    private sealed class ReceiveBarrier : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _rejected;

        public ReceiveBarrier(IMeterFactory scope)
        {
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == scope && instrument.Name == "bgplb_memberlist_rejected_total")
                    l.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _rejected, value));
            _listener.Start();
        }

        public async Task PassAsync(IPEndPoint speaker)
        {
            var before = Interlocked.Read(ref _rejected);
            using var sender = new System.Net.Sockets.UdpClient();
            await sender.SendAsync(new byte[] { 0 }, speaker);
            await WaitUntil(() => Interlocked.Read(ref _rejected) > before);
        }

        public void Dispose() => _listener.Dispose();
    }

    /// <summary>Waits for a condition in real time; the bound is generous, so that a loaded machine only makes a failure slower.</summary>
    internal static async Task WaitUntil(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition())
            await Task.Delay(10, timeout.Token);
    }
}
