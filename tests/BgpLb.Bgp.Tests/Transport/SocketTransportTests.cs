using System.Buffers;
using System.Net;
using System.Net.Sockets;
using BgpLb.Bgp.Fsm;
using BgpLb.Bgp.Transport;
using Microsoft.Extensions.Logging.Abstractions;

namespace BgpLb.Bgp.Tests.Transport;

public class SocketTransportTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private readonly SocketBgpTransportFactory _factory = new();

    private static BgpPeerConfig Peer(IPAddress address, int port, string? password = null, IPAddress? source = null) => new()
    {
        Name = "test",
        Address = address,
        Port = (ushort)port,
        LocalAsn = 64513,
        PeerAsn = 64512,
        Password = password,
        SourceAddress = source,
    };

    [Fact]
    public async Task Connector_and_listener_exchange_bytes_and_report_endpoints()
    {
        await using var listener = _factory.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        var accept = listener.AcceptAsync(CancellationToken.None).AsTask();

        await using var client = await _factory.ConnectAsync(Peer(IPAddress.Loopback, listener.LocalEndPoint.Port, source: IPAddress.Loopback), CancellationToken.None);
        await using var server = await accept.WaitAsync(Timeout);

        Assert.Equal(listener.LocalEndPoint, client.RemoteEndPoint);
        Assert.Equal(client.LocalEndPoint, server.RemoteEndPoint);
        await client.Output.WriteAsync(new byte[] { 1, 2, 3 });
        var read = await server.Input.ReadAtLeastAsync(3).AsTask().WaitAsync(Timeout);
        Assert.Equal(new byte[] { 1, 2, 3 }, read.Buffer.ToArray());
        server.Input.AdvanceTo(read.Buffer.End);
    }

    [Fact]
    public async Task Ipv6_ebgp_connection_with_md5_connects_over_loopback()
    {
        await using var listener = _factory.Listen(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        listener.SetPeerPassword(IPAddress.IPv6Loopback, "v6-secret");
        var accept = listener.AcceptAsync(CancellationToken.None).AsTask();

        await using var client = await _factory.ConnectAsync(Peer(IPAddress.IPv6Loopback, listener.LocalEndPoint.Port, "v6-secret"), CancellationToken.None)
            .AsTask().WaitAsync(Timeout);
        await using var server = await accept.WaitAsync(Timeout);

        Assert.Equal(IPAddress.IPv6Loopback, server.RemoteEndPoint.Address);
    }

    [Fact]
    public async Task Dual_stack_listener_applies_md5_to_ipv4_peers_and_reports_plain_ipv4_addresses()
    {
        await using var listener = _factory.Listen(new IPEndPoint(IPAddress.IPv6Any, 0));
        var port = listener.LocalEndPoint.Port;
        listener.SetPeerPassword(IPAddress.Loopback, "dual");

        using (var none = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
                await _factory.ConnectAsync(Peer(IPAddress.Loopback, port), none.Token));
        var accept = listener.AcceptAsync(CancellationToken.None).AsTask();
        await using var client = await _factory.ConnectAsync(Peer(IPAddress.Loopback, port, "dual"), CancellationToken.None).AsTask().WaitAsync(Timeout);
        await using var server = await accept.WaitAsync(Timeout);

        Assert.Equal(IPAddress.Loopback, server.RemoteEndPoint.Address);
        Assert.Equal(IPAddress.Loopback, server.LocalEndPoint.Address);
    }

    [Theory]
    [InlineData(64512u, false, 1)]
    [InlineData(64512u, true, 255)]
    [InlineData(64513u, false, null)]
    public void Ttl_is_one_for_single_hop_ebgp_and_255_for_multihop(uint peerAs, bool multiHop, int? expected)
    {
        var config = Peer(IPAddress.Loopback, 179) with { PeerAsn = peerAs, EbgpMultiHop = multiHop };
        Assert.Equal(expected, SocketBgpTransportFactory.TtlFor(config));
    }

    [Theory]
    [InlineData(AddressFamily.InterNetwork, 0, 2)]        // IPPROTO_IP, IP_TTL
    [InlineData(AddressFamily.InterNetworkV6, 41, 16)]    // IPPROTO_IPV6, IPV6_UNICAST_HOPS
    public void Ttl_lands_in_the_kernel_option(AddressFamily family, int level, int option)
    {
        using var socket = new Socket(family, SocketType.Stream, ProtocolType.Tcp);
        SocketBgpTransportFactory.SetTtl(socket, 1);
        var value = new byte[4];
        socket.GetRawSocketOption(level, option, value);
        Assert.Equal(1, BitConverter.ToInt32(value));
        SocketBgpTransportFactory.SetTtl(socket, 255);
        socket.GetRawSocketOption(level, option, value);
        Assert.Equal(255, BitConverter.ToInt32(value));
    }

    [Fact]
    public void Dynamic_external_asn_counts_as_ebgp()
    {
        var config = Peer(IPAddress.Loopback, 179) with { PeerAsn = null, DynamicAsn = DynamicAsnMode.External };
        Assert.Equal(1, SocketBgpTransportFactory.TtlFor(config));
    }

    [Fact]
    public void Md5_option_layout_matches_struct_tcp_md5sig()
    {
        var value = new byte[216];
        TcpMd5.Encode(value, IPAddress.Parse("198.18.0.2"), "secret");
        Assert.Equal(2, BitConverter.ToUInt16(value, 0));
        Assert.Equal(new byte[] { 198, 18, 0, 2 }, value[4..8]);
        Assert.Equal(6, BitConverter.ToUInt16(value, 130));
        Assert.Equal("secret"u8.ToArray(), value[136..142]);

        TcpMd5.Encode(value, IPAddress.Parse("2001:db8::2"), null);
        Assert.Equal(10, BitConverter.ToUInt16(value, 0));
        Assert.Equal(IPAddress.Parse("2001:db8::2").GetAddressBytes(), value[8..24]);
        Assert.Equal(0, BitConverter.ToUInt16(value, 130));
    }

    [Fact]
    public void Md5_key_longer_than_80_bytes_is_rejected()
    {
        Assert.Throws<ArgumentException>(() => TcpMd5.Validate(new string('k', 81)));
        TcpMd5.Validate(new string('k', 80));
    }

    [Fact]
    public async Task Md5_matching_keys_connect_and_mismatching_keys_never_do()
    {
        await using var listener = _factory.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        listener.SetPeerPassword(IPAddress.Loopback, "secret");
        var port = listener.LocalEndPoint.Port;

        using (var wrong = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
                await _factory.ConnectAsync(Peer(IPAddress.Loopback, port, "wrong"), wrong.Token));
        using (var none = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
                await _factory.ConnectAsync(Peer(IPAddress.Loopback, port), none.Token));

        var accept = listener.AcceptAsync(CancellationToken.None).AsTask();
        await using var client = await _factory.ConnectAsync(Peer(IPAddress.Loopback, port, "secret"), CancellationToken.None).AsTask().WaitAsync(Timeout);
        await using var server = await accept.WaitAsync(Timeout);
        Assert.Equal(client.LocalEndPoint, server.RemoteEndPoint);
    }

    [Fact]
    public async Task Two_peer_managers_peer_with_each_other_over_loopback()
    {
        var a = IPAddress.Parse("127.0.0.1");
        var b = IPAddress.Parse("127.0.0.2");
        using var meters = new Session.TestMeterFactory();
        await using var managerA = new PeerManager(new PeerManagerOptions { ListenEndPoint = new IPEndPoint(a, 0) }, _factory,
            TimeProvider.System, NullLoggerFactory.Instance, new BgpMetrics(meters));
        var logsB = new Session.ListLoggerFactory();
        await using var managerB = new PeerManager(new PeerManagerOptions { ListenEndPoint = new IPEndPoint(b, 0) }, _factory,
            TimeProvider.System, logsB, new BgpMetrics(meters));
        await managerA.StartAsync(CancellationToken.None);
        await managerB.StartAsync(CancellationToken.None);
        var portB = managerB.ListenEndPoint!.Port;
        // Only A dials: B dials a port of A's address that is bound but not listening, so its attempts are refused. With both
        // dialling, which collision case happens is up to the kernel's timing; the collision rules have deterministic tests
        // of each case (PeerManagerTests, PeerManagerUpdateTests).
        using var closedPort = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        closedPort.Bind(new IPEndPoint(a, 0));
        var refusedPort = ((IPEndPoint)closedPort.LocalEndPoint!).Port;

        var route = new Route(IPNetwork.Parse("203.0.113.1/32"), RouteAttributes.Empty);
        managerA.Apply([new PeerIntent(Peer(b, portB, source: a) with { LocalAsn = 64513, PeerAsn = 64512 }, [route])]);
        managerB.Apply([new PeerIntent(Peer(a, refusedPort, source: b) with { LocalAsn = 64512, PeerAsn = 64513 }, [])]);

        await WaitFor(() => managerA.GetStatus()[0] is { State: BgpState.Established, AdvertisedPrefixes: 1 }
            && managerB.GetStatus()[0] is { State: BgpState.Established, Counters.UpdatesReceived: >= 3 },
            () => $"A: {managerA.GetStatus()[0]} B: {managerB.GetStatus()[0]}");
        Assert.Equal(64512u, managerA.GetStatus()[0].RemoteAsn);
        Assert.Equal(b, managerA.GetStatus()[0].RemoteRouterId);

        await managerA.StopAsync(CancellationToken.None).WaitAsync(Timeout);
        // The state change (1200), not the NOTIFICATION line (1204), which is rate-limited per peer.
        await WaitFor(() => logsB.Entries.Any(e => e.EventId == 1200 && e.Message.Contains("NOTIFICATION received 6/2", StringComparison.Ordinal)
            && e.Message.Contains("bgplb speaker shutting down", StringComparison.Ordinal)),
            () => string.Join("\n", logsB.Entries.Where(e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Information)));
        Assert.NotEqual(BgpState.Established, managerB.GetStatus()[0].State);
    }

    private static async Task WaitFor(Func<bool> condition, Func<string>? describe = null)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail("condition not met in time " + describe?.Invoke());
            await Task.Delay(20);
        }
    }
}
