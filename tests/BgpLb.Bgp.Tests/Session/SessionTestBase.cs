using System.Diagnostics.Metrics;
using System.Net;
using BgpLb.Bgp.Fsm;
using BgpLb.Bgp.Wire;
using BgpLb.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BgpLb.Bgp.Tests.Session;

internal sealed class TestMeterFactory : IMeterFactory
{
    private readonly List<Meter> _meters = [];

    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(options.Name, options.Version, options.Tags, this);
        _meters.Add(meter);
        return meter;
    }

    public void Dispose()
    {
        foreach (var meter in _meters) meter.Dispose();
    }
}

public abstract class SessionTestBase : IAsyncLifetime, IDisposable
{
    internal const uint LocalAs = 64513;
    internal const uint RouterAs = 64512;
    internal static readonly IPAddress RouterAddress = IPAddress.Parse("198.18.0.2");

    internal static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    internal readonly ArmedTimeProvider Time = new(Start);
    internal readonly TestTransport Transport = new();
    internal readonly TestMeterFactory MeterFactory = new();
    private PeerManager? _manager;

    internal PeerManager Manager => _manager ??= new PeerManager(ManagerOptions, Transport, Time, LoggerFactory, new BgpMetrics(MeterFactory));

    internal virtual ILoggerFactory LoggerFactory => NullLoggerFactory.Instance;

    internal virtual PeerManagerOptions ManagerOptions => new() { ListenEndPoint = new IPEndPoint(IPAddress.Any, 179) };

    internal static BgpPeerConfig Peer(uint localAs = LocalAs, uint? peerAs = RouterAs, TimeSpan? hold = null) => new()
    {
        Name = "default/router",
        Address = RouterAddress,
        LocalAsn = localAs,
        PeerAsn = peerAs,
        HoldTime = hold ?? TimeSpan.FromSeconds(90),
    };

    internal static Route R(string cidr, RouteAttributes? attributes = null) => new(IPNetwork.Parse(cidr), attributes ?? RouteAttributes.Empty);

    internal static PeerIntent Intent(BgpPeerConfig config, params Route[] routes) => new(config, routes);

    internal PeerStatus Status() => Assert.Single(Manager.GetStatus());

    /// <summary>Applies one peer, accepts the outbound connection and completes the handshake; returns the fake peer (its next messages are the initial routes and End-of-RIB).</summary>
    internal async Task<FakePeer> EstablishAsync(BgpPeerConfig config, Route[] routes, uint routerAs = RouterAs, bool fourOctetAs = true)
    {
        Manager.Apply([Intent(config, routes)]);
        var peer = await Transport.NextConnectionAsync();
        await peer.EstablishAsync(routerAs, fourOctetAs: fourOctetAs, hold: (ushort)config.HoldTime.TotalSeconds);
        return peer;
    }

    internal static bool IsEndOfRib(Received m) =>
        m.Type == BgpMessageType.Update && UpdateDecoder.Decode(m.Body, new UpdateDecodeContext(true, false)).EndOfRib is not null;

    internal static UpdateMessage Decode(Received m, bool isInternal = false)
    {
        Assert.Equal(BgpMessageType.Update, m.Type);
        return UpdateDecoder.Decode(m.Body, new UpdateDecodeContext(true, isInternal));
    }

    internal static void AssertNotification(Received m, BgpErrorCode code, byte subcode)
    {
        Assert.Equal(BgpMessageType.Notification, m.Type);
        var n = NotificationCodec.Read(m.Body);
        Assert.Equal((code, subcode), (n.Code, n.Subcode));
    }

    /// <summary>
    /// Moves virtual time from one armed timer's deadline to the next until <paramref name="condition"/> holds; while no
    /// timer is armed (the loops arm their waits asynchronously) it waits in real time for one, so time never passes unseen.
    /// </summary>
    internal async Task AdvanceUntilAsync(Func<bool> condition)
    {
        while (true)
        {
            DateTimeOffset[] deadlines = [];
            await SessionTests.WaitForAsync(() => condition() || (deadlines = Time.Deadlines()).Length > 0);
            if (condition()) return;
            Time.Advance(deadlines[0] - Time.GetUtcNow());
        }
    }

    internal async Task WaitForStateAsync(BgpState state)
    {
        var deadline = DateTime.UtcNow + FakePeer.Timeout;
        while (Status().State != state)
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"state {Status().State}, expected {state}");
            await Task.Delay(5);
        }
    }

    public Task InitializeAsync() => Manager.StartAsync(CancellationToken.None);

    public async Task DisposeAsync()
    {
        await Manager.DisposeAsync().AsTask().WaitAsync(FakePeer.Timeout);
    }

    public void Dispose()
    {
        MeterFactory.Dispose();
        GC.SuppressFinalize(this);
    }
}
