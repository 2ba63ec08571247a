using System.Buffers.Binary;

namespace BgpLb.L2.Membership;

public enum MembershipMessageType : byte
{
    Heartbeat = 1,
    Leave = 2,
}

/// <summary>
/// One datagram of the speakers' liveness protocol: magic "BLM1", type, incarnation (the sender's start time in Unix
/// milliseconds; a restarted speaker has a larger one), sequence number, node name (1..255 bytes of UTF-8).
/// </summary>
internal readonly ref struct MembershipMessage(MembershipMessageType type, ulong incarnation, uint sequence, ReadOnlySpan<byte> nodeName)
{
    private const uint Magic = 0x424C_4D31; // "BLM1"
    private const int HeaderLength = 4 + 1 + 8 + 4 + 1;
    public const int MaxLength = HeaderLength + 255;

    public MembershipMessageType Type { get; } = type;
    public ulong Incarnation { get; } = incarnation;
    public uint Sequence { get; } = sequence;
    public ReadOnlySpan<byte> NodeName { get; } = nodeName;

    /// <summary>False on a short datagram, a wrong magic, an unknown type, an empty name or a length mismatch.</summary>
    public static bool TryRead(ReadOnlySpan<byte> datagram, out MembershipMessage message)
    {
        message = default;
        if (datagram.Length < HeaderLength + 1 || BinaryPrimitives.ReadUInt32BigEndian(datagram) != Magic)
            return false;
        var type = (MembershipMessageType)datagram[4];
        int nameLength = datagram[17];
        if (type is not (MembershipMessageType.Heartbeat or MembershipMessageType.Leave)
            || nameLength == 0 || datagram.Length != HeaderLength + nameLength)
            return false;
        message = new MembershipMessage(type, BinaryPrimitives.ReadUInt64BigEndian(datagram[5..]),
            BinaryPrimitives.ReadUInt32BigEndian(datagram[13..]), datagram.Slice(HeaderLength, nameLength));
        return true;
    }

    /// <summary>Writes the datagram and returns its length; the name must be 1..255 bytes.</summary>
    public int Write(Span<byte> destination)
    {
        if (NodeName.IsEmpty || NodeName.Length > 255)
            throw new ArgumentException("node name must be 1..255 bytes of UTF-8");
        BinaryPrimitives.WriteUInt32BigEndian(destination, Magic);
        destination[4] = (byte)Type;
        BinaryPrimitives.WriteUInt64BigEndian(destination[5..], Incarnation);
        BinaryPrimitives.WriteUInt32BigEndian(destination[13..], Sequence);
        destination[17] = (byte)NodeName.Length;
        NodeName.CopyTo(destination[HeaderLength..]);
        return HeaderLength + NodeName.Length;
    }
}
