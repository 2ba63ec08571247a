using System.Buffers.Binary;
using System.ComponentModel;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace BgpLb.L2.Sockets;

/// <summary>
/// An AF_PACKET/SOCK_RAW socket bound to one interface and one EtherType, with an optional classic BPF filter.
/// The file descriptor is created with P/Invoke and owned by a <see cref="SafeSocketHandle"/>, then wrapped in a
/// <see cref="Socket"/>, so receives are asynchronous on the runtime's epoll engine and no thread blocks on recv.
/// Frames this host sends are not delivered back (PACKET_IGNORE_OUTGOING).
/// </summary>
internal sealed partial class PacketSocket : IDisposable
{
    private const int AfPacket = 17;
    private const int SockRaw = 3;
    private const int SockCloexec = 0x80000;
    private const int SolSocket = 1;
    private const int SoAttachFilter = 26;
    private const int SolPacket = 263;
    private const int PacketIgnoreOutgoing = 23;

    private readonly Socket _socket;

    private PacketSocket(Socket socket) => _socket = socket;

    /// <summary>Opens the socket on interface <paramref name="interfaceIndex"/> for frames of <paramref name="etherType"/>.</summary>
    public static unsafe PacketSocket Open(int interfaceIndex, ushort etherType, ReadOnlySpan<SocketFilterInstruction> filter)
    {
        // Protocol 0: the socket receives nothing until bind, so no frame slips past the filter attached below.
        var fd = socket(AfPacket, SockRaw | SockCloexec, 0);
        if (fd < 0)
            throw new Win32Exception(Marshal.GetLastPInvokeError(), $"socket(AF_PACKET) failed for interface {interfaceIndex}");
        var handle = new SafeSocketHandle(fd, ownsHandle: true);
        try
        {
            var one = 1;
            // Best effort: kernels before 4.20 lack it, and then the receive loop drops our own frames by source MAC.
            _ = setsockopt(fd, SolPacket, PacketIgnoreOutgoing, &one, sizeof(int));
            if (!filter.IsEmpty)
            {
                fixed (SocketFilterInstruction* instructions = filter)
                {
                    var program = new SocketFilterProgram { Length = (ushort)filter.Length, Instructions = instructions };
                    Check(setsockopt(fd, SolSocket, SoAttachFilter, &program, sizeof(SocketFilterProgram)), "SO_ATTACH_FILTER");
                }
            }
            var address = new LinkLayerSocketAddress
            {
                Family = AfPacket,
                Protocol = BinaryPrimitives.ReverseEndianness(etherType),
                InterfaceIndex = interfaceIndex,
            };
            Check(bind(fd, &address, sizeof(LinkLayerSocketAddress)), $"bind(AF_PACKET, ifindex {interfaceIndex})");
            return new PacketSocket(new Socket(handle));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);

    /// <summary>Sends one complete Ethernet frame on the bound interface.</summary>
    public void Send(ReadOnlySpan<byte> frame) => _socket.Send(frame);

    public void Dispose() => _socket.Dispose();

    private static void Check(int result, string what)
    {
        if (result < 0)
            throw new Win32Exception(Marshal.GetLastPInvokeError(), $"{what} failed");
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int setsockopt(int fd, int level, int name, void* value, int length);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int bind(int fd, LinkLayerSocketAddress* address, int length);

    /// <summary>struct sockaddr_ll (linux/if_packet.h).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct LinkLayerSocketAddress
    {
        public ushort Family;
        public ushort Protocol;
        public int InterfaceIndex;
        public ushort HardwareType;
        public byte PacketType;
        public byte AddressLength;
        public ulong Address;
    }

    /// <summary>struct sock_fprog (linux/filter.h).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct SocketFilterProgram
    {
        public ushort Length;
        public SocketFilterInstruction* Instructions;
    }
}

/// <summary>struct sock_filter: one classic BPF instruction.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct SocketFilterInstruction(ushort Code, byte JumpTrue, byte JumpFalse, uint Constant);

/// <summary>Classic BPF programs for the packet sockets.</summary>
internal static class SocketFilters
{
    private const ushort LoadHalf = 0x28;  // BPF_LD | BPF_H | BPF_ABS
    private const ushort LoadByte = 0x30;  // BPF_LD | BPF_B | BPF_ABS
    private const ushort JumpEqual = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    private const ushort Return = 0x06;    // BPF_RET | BPF_K

    /// <summary>
    /// Accepts only IPv6 frames whose next header is ICMPv6 with type 135 (NS) or 136 (NA), so the socket does not see the
    /// interface's other IPv6 traffic. Extension headers are not followed: NDP messages do not carry them.
    /// </summary>
    public static SocketFilterInstruction[] NeighborDiscovery { get; } =
    [
        new(LoadHalf, 0, 0, 12),
        new(JumpEqual, 0, 6, 0x86DD),
        new(LoadByte, 0, 0, 20),
        new(JumpEqual, 0, 4, 58),
        new(LoadByte, 0, 0, 54),
        new(JumpEqual, 1, 0, 135),
        new(JumpEqual, 0, 1, 136),
        new(Return, 0, 0, 0xFFFF),
        new(Return, 0, 0, 0),
    ];
}
