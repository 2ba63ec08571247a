using System.Buffers.Binary;

namespace BgpLb.L2.Membership;

public enum MembershipMessageType : byte
{
    Heartbeat = 1,
    Leave = 2,
}

/// <summary>Why a received liveness datagram was dropped (the <c>reason</c> of <c>bgplb_memberlist_rejected_total</c>).</summary>
public enum MembershipRejection
{
    /// <summary>Not a datagram of this protocol, or truncated.</summary>
    Malformed,
    /// <summary>Without a valid HMAC of a configured key (or signed, while this speaker runs without keys).</summary>
    Unauthenticated,
    /// <summary>From a node that is not one of the speakers' Node objects.</summary>
    UnknownNode,
    /// <summary>From another address than the node's InternalIP.</summary>
    WrongSource,
    /// <summary>Not newer than what that node already said (incarnation, sequence): a replay.</summary>
    Replayed,
}

/// <summary>
/// One datagram of the speakers' liveness protocol: magic, type, incarnation (the sender's start time in Unix
/// milliseconds; a restarted speaker has a larger one), sequence number (rising within an incarnation), node name
/// (1..255 bytes of UTF-8). With keys the magic is "BLM2" and an HMAC-SHA256 of everything before it follows; without
/// (<c>--memberlist-insecure</c>) the magic is "BLM1" and nothing follows. Each side accepts only its own kind.
/// </summary>
internal readonly ref struct MembershipMessage(MembershipMessageType type, ulong incarnation, uint sequence, ReadOnlySpan<byte> nodeName)
{
    private const uint PlainMagic = 0x424C_4D31; // "BLM1"
    private const uint SignedMagic = 0x424C_4D32; // "BLM2"
    private const int HeaderLength = 4 + 1 + 8 + 4 + 1;
    public const int MaxLength = HeaderLength + 255 + MembershipKeys.TagLength;

    public MembershipMessageType Type { get; } = type;
    public ulong Incarnation { get; } = incarnation;
    public uint Sequence { get; } = sequence;
    public ReadOnlySpan<byte> NodeName { get; } = nodeName;

    /// <summary>
    /// Reads a datagram of the kind <paramref name="keys"/> calls for (signed with one of them, or plain when null).
    /// False, with the reason, on a short datagram, a wrong magic, an unknown type, an empty name, a length mismatch or
    /// a missing or wrong tag.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> datagram, MembershipKeys? keys, out MembershipMessage message, out MembershipRejection rejection)
    {
        message = default;
        rejection = MembershipRejection.Malformed;
        if (datagram.Length < HeaderLength + 1)
            return false;
        var magic = BinaryPrimitives.ReadUInt32BigEndian(datagram);
        if (magic is not (PlainMagic or SignedMagic))
            return false;
        var type = (MembershipMessageType)datagram[4];
        int nameLength = datagram[17];
        var tagLength = magic == SignedMagic ? MembershipKeys.TagLength : 0;
        if (type is not (MembershipMessageType.Heartbeat or MembershipMessageType.Leave)
            || nameLength == 0 || datagram.Length != HeaderLength + nameLength + tagLength)
            return false;
        var signed = datagram[..(HeaderLength + nameLength)];
        if ((keys is null) != (magic == PlainMagic) || keys is not null && !keys.Verify(signed, datagram[signed.Length..]))
        {
            rejection = MembershipRejection.Unauthenticated;
            return false;
        }
        message = new MembershipMessage(type, BinaryPrimitives.ReadUInt64BigEndian(datagram[5..]),
            BinaryPrimitives.ReadUInt32BigEndian(datagram[13..]), datagram.Slice(HeaderLength, nameLength));
        return true;
    }

    /// <summary>Writes the datagram, signed with <paramref name="keys"/> when given, and returns its length; the name must be 1..255 bytes.</summary>
    public int Write(Span<byte> destination, MembershipKeys? keys)
    {
        if (NodeName.IsEmpty || NodeName.Length > 255)
            throw new ArgumentException("node name must be 1..255 bytes of UTF-8");
        BinaryPrimitives.WriteUInt32BigEndian(destination, keys is null ? PlainMagic : SignedMagic);
        destination[4] = (byte)Type;
        BinaryPrimitives.WriteUInt64BigEndian(destination[5..], Incarnation);
        BinaryPrimitives.WriteUInt32BigEndian(destination[13..], Sequence);
        destination[17] = (byte)NodeName.Length;
        NodeName.CopyTo(destination[HeaderLength..]);
        var length = HeaderLength + NodeName.Length;
        if (keys is null)
            return length;
        keys.Sign(destination[..length], destination.Slice(length, MembershipKeys.TagLength));
        return length + MembershipKeys.TagLength;
    }
}
