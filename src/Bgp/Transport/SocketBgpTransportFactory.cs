using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Pipelines.Sockets.Unofficial;

namespace BgpLb.Bgp.Transport;

/// <summary>
/// TCP transport on Pipelines.Sockets.Unofficial. Active connections bind to the configured source address, use TTL 1 for
/// single-hop eBGP (255 with eBGP multihop), TCP_NODELAY and the peer's TCP MD5 key.
/// </summary>
public sealed class SocketBgpTransportFactory : IBgpTransportFactory
{
    private const int MaxTtl = 255;
    private const int IpProtoIPv6 = 41;
    private const int Ipv6UnicastHops = 16;

    public async ValueTask<BgpConnection> ConnectAsync(BgpPeerConfig peer, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(peer);
        var socket = new Socket(peer.Address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.NoDelay = true;
            if (TtlFor(peer) is { } ttl) SetTtl(socket, ttl);
            if (peer.Password is not null) TcpMd5.SetKey(socket, peer.Address, peer.Password);
            if (peer.SourceAddress is not null) socket.Bind(new IPEndPoint(peer.SourceAddress, 0));
            await socket.ConnectAsync(new IPEndPoint(peer.Address, peer.Port), ct).ConfigureAwait(false);
            return Wrap(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public IBgpListener Listen(IPEndPoint endPoint) => new BgpListener(endPoint);

    /// <summary>Bytes received from a peer and not yet handled by its session, at most (plus one socket read).</summary>
    internal const int ReceiveBufferBytes = 64 * 1024;

    /// <summary>
    /// Once <see cref="ReceiveBufferBytes"/> wait for the session, the connection stops reading the socket and TCP's window
    /// makes the peer wait: a router sending a full table is held to the pace of the session's parsing.
    /// </summary>
    private static readonly PipeOptions ReceiveOptions = new(pauseWriterThreshold: ReceiveBufferBytes,
        resumeWriterThreshold: ReceiveBufferBytes / 2, useSynchronizationContext: false);

    /// <summary>Wraps a connected socket (active or accepted) as a <see cref="BgpConnection"/>.</summary>
    internal static BgpConnection Wrap(Socket socket)
    {
        socket.NoDelay = true;
        var connection = SocketConnection.Create(socket, sendPipeOptions: null, ReceiveOptions, name: "bgp");
        return new BgpConnection(connection, (IPEndPoint)socket.LocalEndPoint!, (IPEndPoint)socket.RemoteEndPoint!, new DrainingCloser(connection));
    }

    /// <summary>
    /// Disposing a <see cref="SocketConnection"/> closes the socket at once, dropping output its send loop has not written yet
    /// (typically the final NOTIFICATION). The output pipe is already completed when this runs, so wait briefly for it to drain.
    /// </summary>
    private sealed class DrainingCloser(SocketConnection connection) : IAsyncDisposable
    {
        private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(2);
        private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(5);

        public async ValueTask DisposeAsync()
        {
            var deadline = Environment.TickCount64 + (long)DrainTimeout.TotalMilliseconds;
            while (connection.GetCounters().BytesWaitingToBeSent > 0 && Environment.TickCount64 < deadline)
                await Task.Delay(PollInterval).ConfigureAwait(false);
            connection.Dispose();
        }
    }

    /// <summary>TTL for the active side: 1 for single-hop eBGP, 255 for eBGP multihop, the system default for iBGP.</summary>
    internal static int? TtlFor(BgpPeerConfig peer)
    {
        var external = peer.PeerAsn is { } asn ? asn != peer.LocalAsn : peer.DynamicAsn == DynamicAsnMode.External;
        if (!external) return null;
        return peer.EbgpMultiHop ? MaxTtl : 1;
    }

    internal static void SetTtl(Socket socket, int ttl)
    {
        if (socket.AddressFamily == AddressFamily.InterNetworkV6)
        {
            // SocketOptionName.HopLimit is IPV6_HOPLIMIT (a receive option); the unicast hop limit is IPV6_UNICAST_HOPS.
            Span<byte> value = stackalloc byte[sizeof(int)];
            BitConverter.TryWriteBytes(value, ttl);
            socket.SetRawSocketOption(IpProtoIPv6, Ipv6UnicastHops, value);
        }
        else
        {
            socket.Ttl = (short)ttl;
        }
    }
}
