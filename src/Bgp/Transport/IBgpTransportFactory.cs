using System.Net;

namespace BgpLb.Bgp.Transport;

/// <summary>The only place that creates connections; everything above it sees a <see cref="BgpConnection"/> (an <c>IDuplexPipe</c>).</summary>
public interface IBgpTransportFactory
{
    /// <summary>Opens the active connection to <paramref name="peer"/> (source address, TTL, TCP MD5 applied).</summary>
    ValueTask<BgpConnection> ConnectAsync(BgpPeerConfig peer, CancellationToken ct);

    /// <summary>Starts a passive listener on <paramref name="endPoint"/>.</summary>
    IBgpListener Listen(IPEndPoint endPoint);
}

/// <summary>A passive BGP listener.</summary>
public interface IBgpListener : IAsyncDisposable
{
    IPEndPoint LocalEndPoint { get; }

    /// <summary>Waits for the next inbound connection.</summary>
    ValueTask<BgpConnection> AcceptAsync(CancellationToken ct);

    /// <summary>Installs (or with null removes) the TCP MD5 key for inbound connections from <paramref name="peer"/>.</summary>
    void SetPeerPassword(IPAddress peer, string? password);
}
