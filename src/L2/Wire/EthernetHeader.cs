namespace BgpLb.L2.Wire;

/// <summary>Ethernet II header (no 802.1Q tag: packet sockets see frames with the VLAN tag already stripped).</summary>
public readonly record struct EthernetHeader(MacAddress Destination, MacAddress Source, ushort EtherType)
{
    public const int Length = 14;
    public const ushort EtherTypeIPv4 = 0x0800;
    public const ushort EtherTypeArp = 0x0806;
    public const ushort EtherTypeIPv6 = 0x86DD;

    /// <summary>Reads the header; the payload is <c>frame[Length..]</c>. False when the frame is too short.</summary>
    public static bool TryRead(ReadOnlySpan<byte> frame, out EthernetHeader header)
    {
        if (frame.Length < Length)
        {
            header = default;
            return false;
        }
        header = new EthernetHeader(MacAddress.Read(frame), MacAddress.Read(frame[6..]),
            System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(frame[12..]));
        return true;
    }

    public void Write(Span<byte> destination)
    {
        Destination.Write(destination);
        Source.Write(destination[6..]);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(destination[12..], EtherType);
    }
}
