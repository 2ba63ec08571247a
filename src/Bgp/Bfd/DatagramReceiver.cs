using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace BgpLb.Bgp.Bfd;

/// <summary>A datagram's source address without allocating: the family and the address bits (IPv4-mapped IPv6 as IPv4).</summary>
internal readonly record struct PacketSource(AddressFamily Family, UInt128 Bits)
{
    public static PacketSource Of(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        return From(address.AddressFamily, bytes[..written]);
    }

    public static PacketSource From(AddressFamily family, ReadOnlySpan<byte> bytes)
    {
        // ::ffff:a.b.c.d is a.b.c.d
        if (family == AddressFamily.InterNetworkV6 && bytes[..10].IndexOfAnyExcept((byte)0) < 0 && bytes[10] == 0xFF && bytes[11] == 0xFF)
            return From(AddressFamily.InterNetwork, bytes[12..]);
        Span<byte> padded = stackalloc byte[16];
        bytes.CopyTo(padded);
        return new PacketSource(family, BinaryPrimitives.ReadUInt128BigEndian(padded));
    }

    public override string ToString() => ToAddress().ToString();

    /// <summary>For logs and errors only: allocates.</summary>
    public IPAddress ToAddress()
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, Bits);
        return new IPAddress(Family == AddressFamily.InterNetwork ? bytes[..4] : bytes);
    }
}

/// <summary>
/// recvmsg(2) with the TTL / hop limit each datagram arrived with (IP_RECVTTL, IPV6_RECVHOPLIMIT), which .NET's
/// ReceiveMessageFrom does not report and Linux's IP_MINTTL does not enforce for UDP. Linux, 64-bit.
/// </summary>
internal static unsafe partial class DatagramReceiver
{
    private const int SolIp = 0;
    private const int SolIpv6 = 41;
    private const int IpTtl = 2;
    private const int IpRecvTtl = 12;
    private const int Ipv6RecvHopLimit = 51;
    private const int Ipv6HopLimit = 52;
    private const int MsgDontWait = 0x40;
    private const int AfInet = 2;
    private const int AfInet6 = 10;

    /// <summary>Asks the kernel to report the TTL / hop limit of every datagram <paramref name="socket"/> receives.</summary>
    public static void EnableTtl(Socket socket)
    {
        Span<byte> one = stackalloc byte[sizeof(int)];
        BinaryPrimitives.WriteInt32LittleEndian(one, 1);
        if (socket.AddressFamily == AddressFamily.InterNetworkV6)
            socket.SetRawSocketOption(SolIpv6, Ipv6RecvHopLimit, one);
        else
            socket.SetRawSocketOption(SolIp, IpRecvTtl, one);
    }

    /// <summary>One datagram without waiting: its length (-1 when none is queued), sender and TTL (-1 when not reported).</summary>
    /// <exception cref="SocketException">recvmsg failed for another reason than an empty queue.</exception>
    public static int Receive(Socket socket, Span<byte> buffer, out PacketSource? from, out int ttl)
    {
        from = null;
        ttl = -1;
        var name = stackalloc byte[128];
        var control = stackalloc byte[128];
        fixed (byte* data = buffer)
        {
            var vector = new IoVector { Base = data, Length = (nuint)buffer.Length };
            var message = new MessageHeader
            {
                Name = name,
                NameLength = 128,
                Vectors = &vector,
                VectorCount = 1,
                Control = control,
                ControlLength = 128,
            };
            var length = (long)recvmsg((int)socket.SafeHandle.DangerousGetHandle(), &message, MsgDontWait);
            if (length < 0)
            {
                var error = Marshal.GetLastPInvokeError();
                if (error is 11) // EAGAIN
                    return -1;
                throw new SocketException(error);
            }
            from = Address(new ReadOnlySpan<byte>(name, (int)message.NameLength));
            ttl = Ttl(new ReadOnlySpan<byte>(control, (int)message.ControlLength));
            return (int)length;
        }
    }

    private static PacketSource? Address(ReadOnlySpan<byte> sockaddr) => sockaddr.Length < 2 ? null
        : MemoryMarshal.Read<ushort>(sockaddr) switch // sa_family is in host order
        {
            AfInet when sockaddr.Length >= 8 => PacketSource.From(AddressFamily.InterNetwork, sockaddr.Slice(4, 4)),
            AfInet6 when sockaddr.Length >= 24 => PacketSource.From(AddressFamily.InterNetworkV6, sockaddr.Slice(8, 16)),
            _ => null,
        };

    /// <summary>Walks the control messages (struct cmsghdr: size_t len, int level, int type, data aligned to 8).</summary>
    private static int Ttl(ReadOnlySpan<byte> control)
    {
        const int header = 16;
        while (control.Length >= header)
        {
            var length = (int)MemoryMarshal.Read<ulong>(control);
            var level = MemoryMarshal.Read<int>(control[8..]);
            var type = MemoryMarshal.Read<int>(control[12..]);
            if (length < header || length > control.Length)
                return -1;
            if ((level, type) is (SolIp, IpTtl) or (SolIpv6, Ipv6HopLimit) && length >= header + sizeof(int))
                return MemoryMarshal.Read<int>(control[header..]);
            var next = (length + 7) & ~7;
            if (next >= control.Length)
                break;
            control = control[next..];
        }
        return -1;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MessageHeader
    {
        public byte* Name;
        public uint NameLength;
        public IoVector* Vectors;
        public nuint VectorCount;
        public byte* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint recvmsg(int fd, MessageHeader* message, int flags);
}
