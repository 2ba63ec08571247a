using System.IO.Pipelines;
using System.Net;

namespace BgpLb.Bgp.Transport;

/// <summary>One TCP connection as a duplex pipe, with its endpoints (the local address is the NEXT_HOP and the default router id).</summary>
public sealed class BgpConnection(IDuplexPipe pipe, IPEndPoint localEndPoint, IPEndPoint remoteEndPoint, IAsyncDisposable? owner = null)
    : IDuplexPipe, IAsyncDisposable
{
    public PipeReader Input => pipe.Input;
    public PipeWriter Output => pipe.Output;
    public IPEndPoint LocalEndPoint { get; } = Normalize(localEndPoint);
    public IPEndPoint RemoteEndPoint { get; } = Normalize(remoteEndPoint);

    /// <summary>Completes both pipes (queued output, such as a final NOTIFICATION, is still sent) and releases the socket.</summary>
    public async ValueTask DisposeAsync()
    {
        await pipe.Output.CompleteAsync().ConfigureAwait(false);
        await pipe.Input.CompleteAsync().ConfigureAwait(false);
        if (owner is not null) await owner.DisposeAsync().ConfigureAwait(false);
    }

    // A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d; peers are configured by their IPv4 address.
    private static IPEndPoint Normalize(IPEndPoint ep) =>
        ep.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(ep.Address.MapToIPv4(), ep.Port) : ep;
}
