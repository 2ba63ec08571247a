using System.Net;
using System.Net.Sockets;

namespace BgpLb.Hosting;

/// <summary>Exit codes of both daemons (README "Exit codes").</summary>
public static class ExitCodes
{
    /// <summary>The first configuration, the state file or the API server is unusable (the log says which).</summary>
    public const int StartupFailed = 1;
    /// <summary>A bad flag or value.</summary>
    public const int Usage = 2;
    /// <summary>A listener could not be opened: the address is not on this host, the port is taken, or no permission.</summary>
    public const int CannotListen = 3;
}

/// <summary>A listener the command line asked for could not be opened; the message names the flag, the address and why.</summary>
public sealed class ListenerException(string flag, string endPoint, string reason, Exception inner)
    : Exception($"cannot listen on {endPoint} (--{flag}): {reason}", inner)
{
    /// <summary>Wraps a bind failure of the listener that <paramref name="flag"/> configures.</summary>
    public static ListenerException From(string flag, string endPoint, Exception failure) => new(flag, endPoint, Reason(failure), failure);

    /// <summary>
    /// Binds and releases a socket on <paramref name="endPoint"/> the way the listener binds it, so that a listener that
    /// cannot open fails before the host starts, with one clear line, instead of inside it with a stack trace (Kestrel
    /// does not even say which address it failed on). A failure between this check and the real bind is still reported.
    /// </summary>
    /// <exception cref="ListenerException">The address is not on this host, the port is taken, or no permission.</exception>
    public static void Probe(string flag, IPEndPoint endPoint, ProtocolType protocol = ProtocolType.Tcp)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        using var socket = new Socket(endPoint.AddressFamily, protocol == ProtocolType.Tcp ? SocketType.Stream : SocketType.Dgram, protocol);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, protocol == ProtocolType.Tcp);
            socket.Bind(endPoint);
            if (protocol == ProtocolType.Tcp)
                socket.Listen();
        }
        catch (SocketException e)
        {
            throw From(flag, endPoint.ToString(), e);
        }
    }

    private static string Reason(Exception failure)
    {
        for (var e = failure; e is not null; e = e.InnerException)
        {
            if (e is SocketException socket)
            {
                return socket.SocketErrorCode switch
                {
                    SocketError.AddressNotAvailable => "the address is not on this host",
                    SocketError.AddressAlreadyInUse => "the port is already in use",
                    SocketError.AccessDenied => "permission denied (a port below 1024 needs root or CAP_NET_BIND_SERVICE)",
                    _ => socket.Message,
                };
            }
        }
        return failure.Message;
    }
}
