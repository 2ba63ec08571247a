using System.Net;
using System.Net.Sockets;

namespace BgpLb.Cli;

/// <summary><c>--probe PORT</c>: one TCP connect per address, bounded by a timeout.</summary>
public static class Probe
{
    public static async Task<IReadOnlyList<ProbeResult>> ConnectAllAsync(IEnumerable<IPAddress> addresses, int port, TimeSpan timeout, CancellationToken cancellationToken) =>
        await Task.WhenAll(addresses.Select(a => ConnectAsync(a, port, timeout, cancellationToken)));

    public static async Task<ProbeResult> ConnectAsync(IPAddress address, int port, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(address, port, deadline.Token);
            return new ProbeResult(address, port, null);
        }
        catch (SocketException e)
        {
            return new ProbeResult(address, port, e.SocketErrorCode == SocketError.ConnectionRefused ? "connection refused" : e.Message);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ProbeResult(address, port, $"no answer within {timeout.TotalSeconds:0} s");
        }
    }
}
