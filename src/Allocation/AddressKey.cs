using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace BgpLb.Allocation;

/// <summary>An address as a number, so that pools are walked and compared without allocating IPAddress objects.</summary>
internal readonly record struct AddressKey(AddressFamily Family, UInt128 Value)
{
    public static AddressKey Of(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        return written == 4
            ? new AddressKey(AddressFamily.InterNetwork, BinaryPrimitives.ReadUInt32BigEndian(bytes))
            : new AddressKey(AddressFamily.InterNetworkV6, BinaryPrimitives.ReadUInt128BigEndian(bytes));
    }

    public IPAddress ToAddress()
    {
        Span<byte> bytes = stackalloc byte[16];
        if (Family == AddressFamily.InterNetwork)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)Value);
            return new IPAddress(bytes[..4]);
        }
        BinaryPrimitives.WriteUInt128BigEndian(bytes, Value);
        return new IPAddress(bytes);
    }

    public override string ToString() => ToAddress().ToString();
}
