using System.Net;
using System.Net.Sockets;

namespace BgpLb.Bgp.Transport;

/// <summary>Passive side: a listening socket whose accepted connections are wrapped by the same factory as active ones.</summary>
internal sealed class BgpListener : IBgpListener
{
    private readonly Socket _socket;

    public BgpListener(IPEndPoint endPoint)
    {
        _socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.Address.Equals(IPAddress.IPv6Any))
                _socket.DualMode = true;
            _socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            _socket.Bind(endPoint);
            _socket.Listen(64);
            LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        }
        catch
        {
            _socket.Dispose();
            throw;
        }
    }

    public IPEndPoint LocalEndPoint { get; }

    public async ValueTask<BgpConnection> AcceptAsync(CancellationToken ct)
    {
        var accepted = await _socket.AcceptAsync(ct).ConfigureAwait(false);
        try
        {
            return SocketBgpTransportFactory.Wrap(accepted);
        }
        catch
        {
            accepted.Dispose();
            throw;
        }
    }

    public void SetPeerPassword(IPAddress peer, string? password) => TcpMd5.SetKey(_socket, peer, password);

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return default;
    }
}
