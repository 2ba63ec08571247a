using System.Net;
using System.Net.Sockets;
using System.Text;

namespace BgpLb.Bgp.Transport;

/// <summary>
/// RFC 2385 TCP MD5 signatures through Linux <c>setsockopt(IPPROTO_TCP, TCP_MD5SIG)</c>. The option value is
/// <c>struct tcp_md5sig { sockaddr_storage tcpm_addr; u8 tcpm_flags; u8 tcpm_prefixlen; u16 tcpm_keylen; u32 tcpm_ifindex; u8 tcpm_key[80]; }</c>
/// in host byte order (it is a kernel structure, not wire data), except the sockaddr port and address which are network order.
/// A zero key length deletes the key for that address.
/// </summary>
internal static class TcpMd5
{
    private const int TcpMd5Sig = 14;
    private const int SockaddrStorageSize = 128;
    private const int MaxKeyLength = 80;
    private const int StructSize = SockaddrStorageSize + 1 + 1 + 2 + 4 + MaxKeyLength;
    private const ushort AfInet = 2;
    private const ushort AfInet6 = 10;

    /// <summary>Sets (or with null removes) the key for <paramref name="peer"/> on <paramref name="socket"/>.</summary>
    public static void SetKey(Socket socket, IPAddress peer, string? password)
    {
        if (!OperatingSystem.IsLinux())
        {
            if (password is null) return;
            throw new PlatformNotSupportedException("TCP MD5 signatures need Linux.");
        }
        // A dual-stack IPv6 socket needs IPv4 peers as mapped addresses; the kernel files them under AF_INET.
        if (socket.AddressFamily == AddressFamily.InterNetworkV6 && peer.AddressFamily == AddressFamily.InterNetwork)
            peer = peer.MapToIPv6();
        if (password is not null) Validate(password);
        Span<byte> value = stackalloc byte[StructSize];
        Encode(value, peer, password);
        socket.SetRawSocketOption((int)SocketOptionLevel.Tcp, TcpMd5Sig, value);
    }

    internal static void Encode(Span<byte> value, IPAddress peer, string? password)
    {
        value.Clear();
        if (peer.AddressFamily == AddressFamily.InterNetwork)
        {
            BitConverter.TryWriteBytes(value, AfInet);
            peer.TryWriteBytes(value[4..8], out _);
        }
        else
        {
            BitConverter.TryWriteBytes(value, AfInet6);
            peer.TryWriteBytes(value[8..24], out _);
        }
        if (password is null) return;
        var keyLength = Encoding.UTF8.GetBytes(password, value.Slice(SockaddrStorageSize + 8, MaxKeyLength));
        BitConverter.TryWriteBytes(value.Slice(SockaddrStorageSize + 2, 2), (ushort)keyLength);
    }

    public static void Validate(string password)
    {
        if (Encoding.UTF8.GetByteCount(password) > MaxKeyLength)
            throw new ArgumentException($"A TCP MD5 key is at most {MaxKeyLength} bytes.", nameof(password));
    }
}
