using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace BgpLb.Bgp.Wire;

/// <summary>
/// The attributes of a group of routes as the speaker sends them. The address family of <see cref="NextHop"/> selects
/// the encoding: IPv4 uses NEXT_HOP and the NLRI field, IPv6 uses MP_REACH_NLRI.
/// </summary>
internal sealed record PathAttributeSet
{
    public BgpOrigin Origin { get; init; } = BgpOrigin.Igp;
    /// <summary>One AS_SEQUENCE: our AS towards eBGP peers, empty towards iBGP peers.</summary>
    public IReadOnlyList<uint> AsPath { get; init; } = [];
    /// <summary>IPv4 NEXT_HOP, or the IPv6 global next hop of MP_REACH_NLRI.</summary>
    public required IPAddress NextHop { get; init; }
    /// <summary>Optional IPv6 link-local next hop (RFC 2545), sent as the second half of a 32-byte next hop.</summary>
    public IPAddress? LinkLocalNextHop { get; init; }
    public uint? MultiExitDisc { get; init; }
    /// <summary>Sent when set; the caller sets it for iBGP peers only.</summary>
    public uint? LocalPref { get; init; }
    public IReadOnlyList<uint> Communities { get; init; } = [];
    public IReadOnlyList<ulong> ExtendedCommunities { get; init; } = [];
    public IReadOnlyList<LargeCommunity> LargeCommunities { get; init; } = [];
    /// <summary>Whether the session negotiated four-octet AS numbers (RFC 6793); otherwise AS_PATH is 2-octet plus AS4_PATH.</summary>
    public bool FourOctetAs { get; init; } = true;
}

/// <summary>
/// Path attributes serialized once per attribute set (GoBGP's cage bytes); every UPDATE copies this block and adds NLRI.
/// For IPv6 the block is split around MP_REACH_NLRI (type 14), which is built per message, to keep ascending type order.
/// </summary>
internal sealed class EncodedPathAttributes
{
    private readonly byte[] _attributes;
    private readonly int _mpReachOffset;
    private readonly byte[] _mpNextHop;

    private EncodedPathAttributes(AddressFamily family, byte[] attributes, int mpReachOffset, byte[] mpNextHop)
    {
        Family = family;
        _attributes = attributes;
        _mpReachOffset = mpReachOffset;
        _mpNextHop = mpNextHop;
    }

    public AddressFamily Family { get; }

    /// <summary>Attributes with a type below MP_REACH_NLRI (all of them for IPv4).</summary>
    internal ReadOnlySpan<byte> BeforeMpReach => _attributes.AsSpan(0, _mpReachOffset);
    internal ReadOnlySpan<byte> AfterMpReach => _attributes.AsSpan(_mpReachOffset);
    /// <summary>The MP_REACH_NLRI next-hop field: 16 or 32 bytes for IPv6, empty for IPv4.</summary>
    internal ReadOnlySpan<byte> MpNextHop => _mpNextHop;
    /// <summary>Bytes of every attribute in the message except the NLRI inside MP_REACH_NLRI.</summary>
    internal int FixedLength => _attributes.Length + (Family == AddressFamily.InterNetworkV6 ? MpReachHeaderLength + _mpNextHop.Length : 0);

    /// <summary>Flags, type, 2-octet length, AFI, SAFI, next-hop length and reserved octet.</summary>
    internal const int MpReachHeaderLength = 4 + 5;

    public static EncodedPathAttributes Create(PathAttributeSet set)
    {
        ArgumentNullException.ThrowIfNull(set);
        var family = set.NextHop.AddressFamily;
        if (family is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
        {
            throw new ArgumentException("The next hop must be an IPv4 or IPv6 address.", nameof(set));
        }

        if (set.LinkLocalNextHop is { } ll && (family != AddressFamily.InterNetworkV6 || ll.AddressFamily != AddressFamily.InterNetworkV6))
        {
            throw new ArgumentException("A link-local next hop needs an IPv6 next hop.", nameof(set));
        }

        var w = new ArrayBufferWriter<byte>(64);
        Span<byte> u32 = stackalloc byte[4];
        WriteAttribute(w, AttributeFlags.Transitive, AttributeType.Origin, [(byte)set.Origin]);
        WriteAsPath(w, set);
        if (family == AddressFamily.InterNetwork)
        {
            set.NextHop.TryWriteBytes(u32, out _);
            WriteAttribute(w, AttributeFlags.Transitive, AttributeType.NextHop, u32);
        }

        if (set.MultiExitDisc is { } med)
        {
            BinaryPrimitives.WriteUInt32BigEndian(u32, med);
            WriteAttribute(w, AttributeFlags.Optional, AttributeType.MultiExitDisc, u32);
        }

        if (set.LocalPref is { } localPref)
        {
            BinaryPrimitives.WriteUInt32BigEndian(u32, localPref);
            WriteAttribute(w, AttributeFlags.Transitive, AttributeType.LocalPref, u32);
        }

        if (set.Communities.Count > 0)
        {
            var value = new byte[4 * set.Communities.Count];
            for (var i = 0; i < set.Communities.Count; i++)
            {
                BinaryPrimitives.WriteUInt32BigEndian(value.AsSpan(4 * i), set.Communities[i]);
            }

            WriteAttribute(w, AttributeFlags.Optional | AttributeFlags.Transitive, AttributeType.Communities, value);
        }

        var mpReachOffset = w.WrittenCount;
        if (set.ExtendedCommunities.Count > 0)
        {
            var value = new byte[8 * set.ExtendedCommunities.Count];
            for (var i = 0; i < set.ExtendedCommunities.Count; i++)
            {
                BinaryPrimitives.WriteUInt64BigEndian(value.AsSpan(8 * i), set.ExtendedCommunities[i]);
            }

            WriteAttribute(w, AttributeFlags.Optional | AttributeFlags.Transitive, AttributeType.ExtendedCommunities, value);
        }

        if (!set.FourOctetAs && set.AsPath.Any(asn => asn > ushort.MaxValue))
        {
            // RFC 6793 §4.2.2: a 2-octet session carries the real path in AS4_PATH.
            WriteAttribute(w, AttributeFlags.Optional | AttributeFlags.Transitive, AttributeType.As4Path, EncodeAsPath(set.AsPath, 4));
        }

        if (set.LargeCommunities.Count > 0)
        {
            var value = new byte[12 * set.LargeCommunities.Count];
            for (var i = 0; i < set.LargeCommunities.Count; i++)
            {
                var c = set.LargeCommunities[i];
                var entry = value.AsSpan(12 * i);
                BinaryPrimitives.WriteUInt32BigEndian(entry, c.GlobalAdministrator);
                BinaryPrimitives.WriteUInt32BigEndian(entry[4..], c.LocalData1);
                BinaryPrimitives.WriteUInt32BigEndian(entry[8..], c.LocalData2);
            }

            WriteAttribute(w, AttributeFlags.Optional | AttributeFlags.Transitive, AttributeType.LargeCommunities, value);
        }

        var nextHop = Array.Empty<byte>();
        if (family == AddressFamily.InterNetworkV6)
        {
            nextHop = new byte[set.LinkLocalNextHop is null ? 16 : 32];
            set.NextHop.TryWriteBytes(nextHop, out _);
            set.LinkLocalNextHop?.TryWriteBytes(nextHop.AsSpan(16), out _);
        }
        else
        {
            mpReachOffset = w.WrittenCount;
        }

        return new EncodedPathAttributes(family, w.WrittenSpan.ToArray(), mpReachOffset, nextHop);
    }

    private static void WriteAsPath(ArrayBufferWriter<byte> w, PathAttributeSet set)
    {
        var asLength = set.FourOctetAs ? 4 : 2;
        WriteAttribute(w, AttributeFlags.Transitive, AttributeType.AsPath, EncodeAsPath(set.AsPath, asLength));
    }

    /// <summary>AS_SEQUENCE segments of at most 255 ASNs; on 2-octet sessions ASNs above 65535 become AS_TRANS.</summary>
    private static byte[] EncodeAsPath(IReadOnlyList<uint> path, int asLength)
    {
        var segments = (path.Count + 254) / 255;
        var value = new byte[2 * segments + asLength * path.Count];
        var offset = 0;
        for (var first = 0; first < path.Count; first += 255)
        {
            var count = Math.Min(255, path.Count - first);
            value[offset++] = (byte)AsPathSegmentType.AsSequence;
            value[offset++] = (byte)count;
            for (var i = first; i < first + count; i++)
            {
                if (asLength == 4)
                {
                    BinaryPrimitives.WriteUInt32BigEndian(value.AsSpan(offset), path[i]);
                }
                else
                {
                    BinaryPrimitives.WriteUInt16BigEndian(value.AsSpan(offset), path[i] > ushort.MaxValue ? BgpConstants.AsTrans : (ushort)path[i]);
                }

                offset += asLength;
            }
        }

        return value;
    }

    /// <summary>Writes one attribute, with the Extended Length flag when the value exceeds 255 bytes.</summary>
    private static void WriteAttribute(ArrayBufferWriter<byte> w, byte flags, byte type, ReadOnlySpan<byte> value)
    {
        if (value.Length > ushort.MaxValue)
        {
            throw new ArgumentException($"Path attribute {type} exceeds 65535 bytes.", nameof(value));
        }

        var extended = value.Length > 255;
        var headerLength = extended ? 4 : 3;
        var span = w.GetSpan(headerLength + value.Length);
        span[0] = extended ? (byte)(flags | AttributeFlags.ExtendedLength) : flags;
        span[1] = type;
        if (extended)
        {
            BinaryPrimitives.WriteUInt16BigEndian(span[2..], (ushort)value.Length);
        }
        else
        {
            span[2] = (byte)value.Length;
        }

        value.CopyTo(span[headerLength..]);
        w.Advance(headerLength + value.Length);
    }
}

/// <summary>
/// Writes UPDATE messages into an <see cref="IBufferWriter{T}"/> without allocating (H7, H9). Each call writes one
/// message holding as many prefixes as fit; the lengths are reserved and patched once the prefixes are in.
/// </summary>
internal static class UpdateWriter
{
    private const int FixedLength = BgpConstants.HeaderLength + 2 + 2;
    private const int MpUnreachHeaderLength = 4 + 3;
    /// <summary>Slack so that an IPv6 address can always be written whole right after a prefix length octet.</summary>
    private const int AddressSlack = 16;

    /// <summary>Writes one UPDATE announcing the leading prefixes of <paramref name="prefixes"/> with <paramref name="attributes"/>.</summary>
    /// <returns>The number of prefixes written (0, and nothing written, when <paramref name="prefixes"/> is empty).</returns>
    /// <exception cref="ArgumentException">A prefix of another family, or attributes too large for even one prefix.</exception>
    public static int WriteAnnouncements(IBufferWriter<byte> output, EncodedPathAttributes attributes, ReadOnlySpan<IPNetwork> prefixes,
        int maxMessageLength = BgpConstants.MaxMessageLength)
    {
        ArgumentNullException.ThrowIfNull(attributes);
        if (prefixes.IsEmpty)
        {
            return 0;
        }

        var v6 = attributes.Family == AddressFamily.InterNetworkV6;
        var fixedLength = FixedLength + attributes.FixedLength;
        var limit = MessageLimit(fixedLength, prefixes, v6, maxMessageLength);
        var span = output.GetSpan(limit + AddressSlack);

        var position = FixedLength - 2;
        span[BgpConstants.HeaderLength] = 0;
        span[BgpConstants.HeaderLength + 1] = 0; // no withdrawn routes
        attributes.BeforeMpReach.CopyTo(span[(position + 2)..]);
        position += 2 + attributes.BeforeMpReach.Length;

        int count;
        if (v6)
        {
            var mpReach = position;
            span[position] = AttributeFlags.Optional | AttributeFlags.ExtendedLength;
            span[position + 1] = AttributeType.MpReachNlri;
            BinaryPrimitives.WriteUInt16BigEndian(span[(position + 4)..], (ushort)Afi.IPv6);
            span[position + 6] = (byte)Safi.Unicast;
            span[position + 7] = (byte)attributes.MpNextHop.Length;
            attributes.MpNextHop.CopyTo(span[(position + 8)..]);
            position += EncodedPathAttributes.MpReachHeaderLength + attributes.MpNextHop.Length;
            span[position - 1] = 0; // reserved
            var reserved = attributes.AfterMpReach.Length;
            count = WritePrefixes(span, ref position, limit - reserved, prefixes, AddressFamily.InterNetworkV6);
            BinaryPrimitives.WriteUInt16BigEndian(span[(mpReach + 2)..], (ushort)(position - mpReach - 4));
            attributes.AfterMpReach.CopyTo(span[position..]);
            position += reserved;
            BinaryPrimitives.WriteUInt16BigEndian(span[(FixedLength - 2)..], (ushort)(position - FixedLength));
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(span[(FixedLength - 2)..], (ushort)(position - FixedLength));
            count = WritePrefixes(span, ref position, limit, prefixes, AddressFamily.InterNetwork);
        }

        if (count == 0)
        {
            throw new ArgumentException($"The path attributes ({attributes.FixedLength} B) leave no room for a prefix in {maxMessageLength} B.", nameof(attributes));
        }

        BgpConstants.WriteHeader(span, position, BgpMessageType.Update);
        output.Advance(position);
        return count;
    }

    /// <summary>Writes one UPDATE withdrawing the leading prefixes (Withdrawn Routes for IPv4, MP_UNREACH_NLRI for IPv6).</summary>
    /// <returns>The number of prefixes written (0, and nothing written, when <paramref name="prefixes"/> is empty).</returns>
    public static int WriteWithdrawals(IBufferWriter<byte> output, AddressFamily family, ReadOnlySpan<IPNetwork> prefixes,
        int maxMessageLength = BgpConstants.MaxMessageLength)
    {
        if (prefixes.IsEmpty)
        {
            return 0;
        }

        var v6 = CheckFamily(family);
        var fixedLength = FixedLength + (v6 ? MpUnreachHeaderLength : 0);
        var limit = MessageLimit(fixedLength, prefixes, v6, maxMessageLength);
        var span = output.GetSpan(limit + AddressSlack);
        int count;
        var position = fixedLength;
        if (v6)
        {
            span[BgpConstants.HeaderLength] = 0;
            span[BgpConstants.HeaderLength + 1] = 0;
            span[FixedLength] = AttributeFlags.Optional | AttributeFlags.ExtendedLength;
            span[FixedLength + 1] = AttributeType.MpUnreachNlri;
            BinaryPrimitives.WriteUInt16BigEndian(span[(FixedLength + 4)..], (ushort)Afi.IPv6);
            span[FixedLength + 6] = (byte)Safi.Unicast;
            count = WritePrefixes(span, ref position, limit, prefixes, family);
            BinaryPrimitives.WriteUInt16BigEndian(span[(FixedLength + 2)..], (ushort)(position - FixedLength - 4));
            BinaryPrimitives.WriteUInt16BigEndian(span[(FixedLength - 2)..], (ushort)(position - FixedLength));
        }
        else
        {
            position = BgpConstants.HeaderLength + 2;
            count = WritePrefixes(span, ref position, limit - 2, prefixes, family);
            BinaryPrimitives.WriteUInt16BigEndian(span[BgpConstants.HeaderLength..], (ushort)(position - BgpConstants.HeaderLength - 2));
            span[position] = 0;
            span[position + 1] = 0; // no path attributes
            position += 2;
        }

        BgpConstants.WriteHeader(span, position, BgpMessageType.Update);
        output.Advance(position);
        return count;
    }

    /// <summary>Writes the End-of-RIB marker (RFC 4724 §2): an empty UPDATE for IPv4, an empty MP_UNREACH_NLRI for IPv6.</summary>
    public static void WriteEndOfRib(IBufferWriter<byte> output, AddressFamily family)
    {
        var v6 = CheckFamily(family);
        var length = FixedLength + (v6 ? 6 : 0);
        var span = output.GetSpan(length)[..length];
        BgpConstants.WriteHeader(span, length, BgpMessageType.Update);
        span[BgpConstants.HeaderLength..].Clear();
        if (v6)
        {
            span[FixedLength - 1] = 6;
            span[FixedLength] = AttributeFlags.Optional;
            span[FixedLength + 1] = AttributeType.MpUnreachNlri;
            span[FixedLength + 2] = 3;
            BinaryPrimitives.WriteUInt16BigEndian(span[(FixedLength + 3)..], (ushort)Afi.IPv6);
            span[FixedLength + 5] = (byte)Safi.Unicast;
        }

        output.Advance(length);
    }

    private static bool CheckFamily(AddressFamily family) => family switch
    {
        AddressFamily.InterNetwork => false,
        AddressFamily.InterNetworkV6 => true,
        _ => throw new ArgumentOutOfRangeException(nameof(family), family, "Only IPv4 and IPv6 unicast are supported."),
    };

    /// <summary>The message size to reserve: the maximum length, or less when all prefixes fit in fewer bytes.</summary>
    private static int MessageLimit(int fixedLength, ReadOnlySpan<IPNetwork> prefixes, bool v6, int maxMessageLength)
    {
        if (maxMessageLength is < 23 or > BgpConstants.ExtendedMaxMessageLength)
        {
            throw new ArgumentOutOfRangeException(nameof(maxMessageLength), maxMessageLength, "A BGP message is 23..65535 bytes.");
        }

        var upperBound = fixedLength + (long)prefixes.Length * (v6 ? 17 : 5);
        return (int)Math.Min(upperBound, maxMessageLength);
    }

    /// <summary>Writes prefixes at <paramref name="position"/> while they fit below <paramref name="limit"/>.</summary>
    private static int WritePrefixes(Span<byte> span, ref int position, int limit, ReadOnlySpan<IPNetwork> prefixes, AddressFamily family)
    {
        var count = 0;
        foreach (var prefix in prefixes)
        {
            var address = prefix.BaseAddress;
            if (address.AddressFamily != family)
            {
                throw new ArgumentException($"Prefix {prefix} is not {family}.", nameof(prefixes));
            }

            var length = prefix.PrefixLength;
            var encoded = 1 + ((length + 7) >> 3);
            if (position + encoded > limit)
            {
                break;
            }

            // The whole address is written; the octets past the prefix are overwritten next or lie beyond the message.
            span[position] = (byte)length;
            address.TryWriteBytes(span[(position + 1)..], out _);
            position += encoded;
            count++;
        }

        return count;
    }
}
