using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace BgpLb.Netlab;

/// <summary>
/// Sockets that live in a lab namespace while this process stays in its own: a socket belongs to the network namespace
/// of the thread that created it, so a short-lived thread enters the namespace (setns), creates the socket and ends.
/// Lets a test talk to a daemon's listener inside a namespace (e.g. as a gRPC <see cref="SocketsHttpHandler.ConnectCallback"/>).
/// </summary>
public static partial class NamespaceSockets
{
    private const int CloneNewNet = 0x40000000;

    /// <summary>A TCP socket of <paramref name="family"/> in namespace <paramref name="netns"/> (/run/netns/NAME).</summary>
    public static Socket CreateTcp(string netns, AddressFamily family)
    {
        Socket? socket = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var target = File.OpenHandle(Path.Combine("/run/netns", netns));
                if (SetNamespace(target.DangerousGetHandle().ToInt32(), CloneNewNet) != 0)
                {
                    throw new IOException($"setns into {netns} failed (errno {Marshal.GetLastPInvokeError()})");
                }

                // This thread stays in the namespace until it ends, right after.
                socket = new Socket(family, SocketType.Stream, ProtocolType.Tcp);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or SocketException)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        return socket ?? throw new IOException($"no socket in {netns}", failure);
    }

    /// <summary>An HTTP handler whose connections are made from inside <paramref name="netns"/>.</summary>
    public static SocketsHttpHandler HttpHandler(string netns) => new()
    {
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = CreateTcp(netns, AddressFamily.InterNetwork);
            try
            {
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNamespace(int fd, int nstype);
}
