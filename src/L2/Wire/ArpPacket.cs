using System.Buffers.Binary;

namespace BgpLb.L2.Wire;

public enum ArpOperation : ushort
{
    Request = 1,
    Reply = 2,
}

/// <summary>
/// An ARP packet for IPv4 over Ethernet (RFC 826). Protocol addresses are IPv4 addresses as big-endian values
/// (see <see cref="IPBits"/>).
/// </summary>
public readonly record struct ArpPacket(
    ArpOperation Operation, MacAddress SenderHardware, uint SenderProtocol, MacAddress TargetHardware, uint TargetProtocol)
{
    public const int Length = 28;
    private const ushort HardwareEthernet = 1;

    /// <summary>An RFC 5227 probe: sender protocol address 0.0.0.0, target hardware address zero.</summary>
    public bool IsProbe => Operation == ArpOperation.Request && SenderProtocol == 0;

    /// <summary>
    /// Reads an ARP payload (after the Ethernet header). False when it is short, not Ethernet/IPv4, has wrong address
    /// lengths or an operation other than request or reply. Trailing bytes (Ethernet padding) are ignored.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> payload, out ArpPacket packet)
    {
        packet = default;
        if (payload.Length < Length
            || BinaryPrimitives.ReadUInt16BigEndian(payload) != HardwareEthernet
            || BinaryPrimitives.ReadUInt16BigEndian(payload[2..]) != EthernetHeader.EtherTypeIPv4
            || payload[4] != MacAddress.Length
            || payload[5] != 4)
            return false;
        var operation = (ArpOperation)BinaryPrimitives.ReadUInt16BigEndian(payload[6..]);
        if (operation is not (ArpOperation.Request or ArpOperation.Reply))
            return false;
        packet = new ArpPacket(operation,
            MacAddress.Read(payload[8..]), BinaryPrimitives.ReadUInt32BigEndian(payload[14..]),
            MacAddress.Read(payload[18..]), BinaryPrimitives.ReadUInt32BigEndian(payload[24..]));
        return true;
    }

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, HardwareEthernet);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], EthernetHeader.EtherTypeIPv4);
        destination[4] = MacAddress.Length;
        destination[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], (ushort)Operation);
        SenderHardware.Write(destination[8..]);
        BinaryPrimitives.WriteUInt32BigEndian(destination[14..], SenderProtocol);
        TargetHardware.Write(destination[18..]);
        BinaryPrimitives.WriteUInt32BigEndian(destination[24..], TargetProtocol);
    }
}
