using System.Net;
using System.Net.Sockets;
using BgpLb.L2.Wire;

namespace BgpLb.L2.Sockets;

/// <summary>The announcer's only contact with the network, so its logic runs in tests over in-memory channels.</summary>
internal interface ILinkLayer
{
    IReadOnlyList<LinkInfo> Discover();
    IFrameChannel OpenArp(LinkInfo link);
    IFrameChannel OpenNdp(LinkInfo link);
}

/// <summary>Frames in and out of one interface for one protocol.</summary>
internal interface IFrameChannel : IDisposable
{
    ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken);
    void Send(ReadOnlySpan<byte> frame);
    /// <summary>Level-based: afterwards exactly these IPv6 multicast groups are joined on the interface (NDP only).</summary>
    void SetMulticastGroups(IReadOnlySet<UInt128> groups);
}

/// <summary>
/// The real link layer. ARP uses an AF_PACKET socket for ETH_P_ARP. NDP uses an AF_PACKET socket for ETH_P_IPV6 with a
/// BPF filter for NS/NA (so we see unicast NUD probes too and write the Ethernet header ourselves), plus a UDP socket
/// that joins each solicited-node group with IPV6_JOIN_GROUP: the kernel then accepts the group's multicast MAC and
/// sends MLD reports, so snooping switches forward the solicitations to us (MetalLB joins the same groups).
/// </summary>
internal sealed class SystemLinkLayer : ILinkLayer
{
    public IReadOnlyList<LinkInfo> Discover() => LinkInfo.Discover();

    public IFrameChannel OpenArp(LinkInfo link) =>
        new PacketChannel(PacketSocket.Open(link.Index, EthernetHeader.EtherTypeArp, []), null);

    public IFrameChannel OpenNdp(LinkInfo link)
    {
        var packets = PacketSocket.Open(link.Index, EthernetHeader.EtherTypeIPv6, SocketFilters.NeighborDiscovery);
        try
        {
            return new PacketChannel(packets, new MulticastMembership(link.Index));
        }
        catch
        {
            packets.Dispose();
            throw;
        }
    }

    private sealed class PacketChannel(PacketSocket socket, MulticastMembership? groups) : IFrameChannel
    {
        public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
            socket.ReceiveAsync(buffer, cancellationToken);

        public void Send(ReadOnlySpan<byte> frame) => socket.Send(frame);

        public void SetMulticastGroups(IReadOnlySet<UInt128> wanted) => groups?.Set(wanted);

        public void Dispose()
        {
            socket.Dispose();
            groups?.Dispose();
        }
    }

    /// <summary>IPv6 multicast group membership on one interface, held by a UDP socket that never sends or receives.</summary>
    private sealed class MulticastMembership(int interfaceIndex) : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
        private readonly HashSet<UInt128> _joined = [];
        private readonly Lock _lock = new();

        public void Set(IReadOnlySet<UInt128> wanted)
        {
            lock (_lock)
            {
                foreach (var group in _joined.Where(g => !wanted.Contains(g)).ToList())
                {
                    _socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.DropMembership, Option(group));
                    _joined.Remove(group);
                }
                foreach (var group in wanted.Where(g => !_joined.Contains(g)))
                {
                    _socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.AddMembership, Option(group));
                    _joined.Add(group);
                }
            }
        }

        private IPv6MulticastOption Option(UInt128 group) => new(IPBits.ToAddress(group), interfaceIndex);

        public void Dispose() => _socket.Dispose();
    }
}
