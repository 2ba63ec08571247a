using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace BgpLb.Bgp.Wire;

/// <summary>One path attribute as it sits in the message.</summary>
internal readonly ref struct PathAttribute(byte flags, byte type, ReadOnlySpan<byte> value, ReadOnlySpan<byte> raw)
{
    public byte Flags { get; } = flags;
    public byte Type { get; } = type;
    public ReadOnlySpan<byte> Value { get; } = value;
    /// <summary>Flags, type, length and value: the data of a 3/2, 3/4 or 3/5 NOTIFICATION.</summary>
    public ReadOnlySpan<byte> Raw { get; } = raw;
}

/// <summary>Walks the path attributes of an UPDATE (H6).</summary>
internal ref struct PathAttributeReader
{
    private ReadOnlySpan<byte> _remaining;

    public PathAttributeReader(ReadOnlySpan<byte> attributes) => _remaining = attributes;

    /// <summary>True once an attribute header or length overran the Total Path Attribute Length (RFC 7606 §4).</summary>
    public bool IsMalformed { get; private set; }

    public bool TryRead(out PathAttribute attribute)
    {
        attribute = default;
        if (_remaining.IsEmpty)
        {
            return false;
        }

        var headerLength = _remaining.Length >= 1 && (_remaining[0] & AttributeFlags.ExtendedLength) != 0 ? 4 : 3;
        if (_remaining.Length < headerLength)
        {
            IsMalformed = true;
            return false;
        }

        int length = headerLength == 4 ? BinaryPrimitives.ReadUInt16BigEndian(_remaining[2..]) : _remaining[2];
        if (_remaining.Length - headerLength < length)
        {
            IsMalformed = true;
            return false;
        }

        var raw = _remaining[..(headerLength + length)];
        attribute = new PathAttribute(raw[0], raw[1], raw[headerLength..], raw);
        _remaining = _remaining[raw.Length..];
        return true;
    }
}

/// <summary>
/// Decodes UPDATE messages (RFC 4271 §4.3, RFC 4760, RFC 6793) with RFC 7606 error handling: attribute errors are
/// reported in <see cref="UpdateMessage.Errors"/>, session-level errors throw <see cref="BgpNotificationException"/>.
/// </summary>
internal static class UpdateDecoder
{
    private const byte WellKnown = AttributeFlags.Transitive;
    private const byte OptionalNonTransitive = AttributeFlags.Optional;
    private const byte OptionalTransitive = AttributeFlags.Optional | AttributeFlags.Transitive;

    public static UpdateMessage Decode(in ReadOnlySequence<byte> body, UpdateDecodeContext context) =>
        ContiguousBody.Decode(body, context, static (span, ctx) => Decode(span, ctx));

    /// <exception cref="BgpNotificationException">3/1 for length overruns and MP_REACH/MP_UNREACH errors, 3/10 for bad
    /// prefixes, 3/2 for an unrecognized well-known attribute, 3/4 for wrong flags on MP_REACH/MP_UNREACH.</exception>
    public static UpdateMessage Decode(ReadOnlySpan<byte> body, UpdateDecodeContext context)
    {
        if (body.Length < 4)
        {
            throw MalformedAttributeList();
        }

        int withdrawnLength = BinaryPrimitives.ReadUInt16BigEndian(body);
        if (withdrawnLength > body.Length - 4)
        {
            throw MalformedAttributeList();
        }

        var update = new UpdateMessage();
        ReadPrefixes(body.Slice(2, withdrawnLength), AddressFamily.InterNetwork, context.DiscardPrefixes ? null : update.Withdrawn);

        var rest = body[(2 + withdrawnLength)..];
        int attributesLength = BinaryPrimitives.ReadUInt16BigEndian(rest);
        if (attributesLength > rest.Length - 2)
        {
            throw MalformedAttributeList();
        }

        // The NLRI field is read first: whether NEXT_HOP matters depends on it (RFC 4760 §3).
        var nlri = rest[(2 + attributesLength)..];
        ReadPrefixes(nlri, AddressFamily.InterNetwork, context.DiscardPrefixes ? null : update.Nlri);
        update.HasNlri = !nlri.IsEmpty;
        var attributeCount = ReadAttributes(rest.Slice(2, attributesLength), context, update, out var listMalformed, out var seen);

        if (!listMalformed)
        {
            CheckMandatoryAttributes(update, context, seen);
        }

        if (context.DiscardPrefixes)
        {
            return update;
        }
        if (body.Length == 4)
        {
            update.EndOfRib = AfiSafi.IPv4Unicast;
        }
        else if (attributeCount == 1 && withdrawnLength == 0 && update.Nlri.Count == 0
            && update.MpUnreach is { Withdrawn.Count: 0 } unreach && !listMalformed)
        {
            update.EndOfRib = unreach.Family;
        }

        return update;
    }

    private static int ReadAttributes(ReadOnlySpan<byte> attributes, UpdateDecodeContext context, UpdateMessage update,
        out bool listMalformed, out SeenAttributes seen)
    {
        seen = default;
        var count = 0;
        var reader = new PathAttributeReader(attributes);
        while (reader.TryRead(out var attribute))
        {
            count++;
            var type = attribute.Type;
            if (seen.Contains(type))
            {
                if (type is AttributeType.MpReachNlri or AttributeType.MpUnreachNlri)
                {
                    throw MalformedAttributeList();
                }

                Discard(update, type, "duplicate attribute");
                continue;
            }

            seen.Add(type);
            ReadAttribute(attribute, context, update);
        }

        listMalformed = reader.IsMalformed;
        if (listMalformed)
        {
            Withdraw(update, 0, "attribute header or length overruns the path attributes");
        }

        return count;
    }

    private static void ReadAttribute(PathAttribute attribute, UpdateDecodeContext context, UpdateMessage update)
    {
        var type = attribute.Type;
        var value = attribute.Value;
        var expectedFlags = ExpectedFlags(type);
        if (expectedFlags is null)
        {
            if ((attribute.Flags & AttributeFlags.Optional) == 0)
            {
                throw new BgpNotificationException(BgpErrorCode.Update, UpdateSubcode.UnrecognizedWellKnownAttribute, attribute.Raw.ToArray());
            }

            update.OtherAttributes.Add(new RawPathAttribute(attribute.Flags, type, value.ToArray()));
            return;
        }

        if ((attribute.Flags & (AttributeFlags.Optional | AttributeFlags.Transitive)) != expectedFlags)
        {
            if (type is AttributeType.MpReachNlri or AttributeType.MpUnreachNlri)
            {
                throw new BgpNotificationException(BgpErrorCode.Update, UpdateSubcode.AttributeFlagsError, attribute.Raw.ToArray());
            }

            Withdraw(update, type, "optional/transitive flags do not match the attribute type");
            return;
        }

        switch (type)
        {
            case AttributeType.Origin:
                if (value.Length != 1 || value[0] > (byte)BgpOrigin.Incomplete)
                {
                    Withdraw(update, type, "ORIGIN length is not 1 or value above 2");
                    break;
                }

                update.Origin = (BgpOrigin)value[0];
                break;
            case AttributeType.AsPath:
                if (TryReadAsPath(value, context.FourOctetAs ? 4 : 2, out var path, out var reason))
                {
                    update.AsPath = path;
                }
                else
                {
                    Withdraw(update, type, reason);
                }

                break;
            case AttributeType.As4Path:
                // RFC 6793 §6: a malformed AS4_PATH is discarded.
                if (TryReadAsPath(value, 4, out var as4Path, out var as4Reason))
                {
                    update.As4Path = as4Path;
                }
                else
                {
                    Discard(update, type, as4Reason);
                }

                break;
            case AttributeType.NextHop:
                if (!update.HasNlri)
                {
                    break; // RFC 4760 §3: without IPv4 NLRI the NEXT_HOP attribute is ignored
                }

                if (value.Length != 4)
                {
                    Withdraw(update, type, "NEXT_HOP length is not 4");
                }
                else if (IsMartian(value))
                {
                    Withdraw(update, type, "NEXT_HOP is not a unicast host address");
                }
                else
                {
                    update.NextHop = new IPAddress(value);
                }

                break;
            case AttributeType.MultiExitDisc:
                if (value.Length != 4)
                {
                    Withdraw(update, type, "MULTI_EXIT_DISC length is not 4");
                    break;
                }

                update.MultiExitDisc = BinaryPrimitives.ReadUInt32BigEndian(value);
                break;
            case AttributeType.LocalPref:
                if (!context.IsInternal)
                {
                    Discard(update, type, "LOCAL_PREF from an external peer");
                }
                else if (value.Length != 4)
                {
                    Withdraw(update, type, "LOCAL_PREF length is not 4");
                }
                else
                {
                    update.LocalPref = BinaryPrimitives.ReadUInt32BigEndian(value);
                }

                break;
            case AttributeType.AtomicAggregate:
                if (value.Length != 0)
                {
                    Discard(update, type, "ATOMIC_AGGREGATE length is not 0");
                    break;
                }

                update.AtomicAggregate = true;
                break;
            case AttributeType.Aggregator:
                var asLength = context.FourOctetAs ? 4 : 2;
                if (value.Length != asLength + 4)
                {
                    Discard(update, type, $"AGGREGATOR length is not {asLength + 4}");
                }
                else if (ReadAggregator(value, asLength) is { As: not 0 } aggregator)
                {
                    update.Aggregator = aggregator;
                }
                else
                {
                    Discard(update, type, "AGGREGATOR AS is 0");
                }

                break;
            case AttributeType.As4Aggregator:
                if (value.Length != 8)
                {
                    Discard(update, type, "AS4_AGGREGATOR length is not 8");
                }
                else if (ReadAggregator(value, 4) is { As: not 0 } as4Aggregator)
                {
                    update.As4Aggregator = as4Aggregator;
                }
                else
                {
                    Discard(update, type, "AS4_AGGREGATOR AS is 0");
                }

                break;
            case AttributeType.Communities:
                if (value.Length == 0 || value.Length % 4 != 0)
                {
                    Withdraw(update, type, "COMMUNITIES length is 0 or not a multiple of 4");
                    break;
                }

                var communities = new uint[value.Length / 4];
                for (var i = 0; i < communities.Length; i++)
                {
                    communities[i] = BinaryPrimitives.ReadUInt32BigEndian(value[(4 * i)..]);
                }

                update.Communities = communities;
                break;
            case AttributeType.ExtendedCommunities:
                if (value.Length % 8 != 0)
                {
                    Withdraw(update, type, "EXTENDED_COMMUNITIES length is not a multiple of 8");
                    break;
                }

                var extended = new ulong[value.Length / 8];
                for (var i = 0; i < extended.Length; i++)
                {
                    extended[i] = BinaryPrimitives.ReadUInt64BigEndian(value[(8 * i)..]);
                }

                update.ExtendedCommunities = extended;
                break;
            case AttributeType.LargeCommunities:
                if (value.Length == 0 || value.Length % 12 != 0)
                {
                    Withdraw(update, type, "LARGE_COMMUNITY length is 0 or not a multiple of 12");
                    break;
                }

                var large = new LargeCommunity[value.Length / 12];
                for (var i = 0; i < large.Length; i++)
                {
                    var c = value.Slice(12 * i, 12);
                    large[i] = new LargeCommunity(BinaryPrimitives.ReadUInt32BigEndian(c),
                        BinaryPrimitives.ReadUInt32BigEndian(c[4..]), BinaryPrimitives.ReadUInt32BigEndian(c[8..]));
                }

                update.LargeCommunities = large;
                break;
            case AttributeType.OriginatorId or AttributeType.ClusterList:
                if (!context.IsInternal)
                {
                    Discard(update, type, "route reflection attribute from an external peer");
                }
                else if (type == AttributeType.OriginatorId ? value.Length != 4 : value.Length == 0 || value.Length % 4 != 0)
                {
                    Withdraw(update, type, "ORIGINATOR_ID length is not 4 or CLUSTER_LIST length not a non-zero multiple of 4");
                }
                else
                {
                    update.OtherAttributes.Add(new RawPathAttribute(attribute.Flags, type, value.ToArray()));
                }

                break;
            case AttributeType.MpReachNlri:
                update.MpReach = ReadMpReach(value, context.DiscardPrefixes);
                break;
            case AttributeType.MpUnreachNlri:
                update.MpUnreach = ReadMpUnreach(value, context.DiscardPrefixes);
                break;
        }
    }

    private static byte? ExpectedFlags(byte type) => type switch
    {
        AttributeType.Origin or AttributeType.AsPath or AttributeType.NextHop or AttributeType.LocalPref
            or AttributeType.AtomicAggregate => WellKnown,
        AttributeType.MultiExitDisc or AttributeType.OriginatorId or AttributeType.ClusterList
            or AttributeType.MpReachNlri or AttributeType.MpUnreachNlri => OptionalNonTransitive,
        AttributeType.Aggregator or AttributeType.Communities or AttributeType.ExtendedCommunities
            or AttributeType.As4Path or AttributeType.As4Aggregator or AttributeType.LargeCommunities => OptionalTransitive,
        _ => null,
    };

    private static void CheckMandatoryAttributes(UpdateMessage update, UpdateDecodeContext context, SeenAttributes seen)
    {
        if (!update.HasNlri && update.MpReach is null)
        {
            return;
        }

        // RFC 7606 §3(d): a missing well-known mandatory attribute means treat-as-withdraw.
        ReadOnlySpan<byte> mandatory = [AttributeType.Origin, AttributeType.AsPath, AttributeType.NextHop, AttributeType.LocalPref];
        foreach (var type in mandatory)
        {
            var required = type switch
            {
                AttributeType.NextHop => update.HasNlri,
                AttributeType.LocalPref => context.IsInternal,
                _ => true,
            };
            if (required && !seen.Contains(type))
            {
                Withdraw(update, type, "missing well-known attribute");
            }
        }
    }

    private static bool TryReadAsPath(ReadOnlySpan<byte> value, int asLength, out List<AsPathSegment> segments, out string reason)
    {
        segments = [];
        while (!value.IsEmpty)
        {
            if (value.Length < 2)
            {
                reason = "AS_PATH segment header overruns the attribute";
                return false;
            }

            var segmentType = (AsPathSegmentType)value[0];
            int count = value[1];
            if (segmentType is < AsPathSegmentType.AsSet or > AsPathSegmentType.AsConfedSet)
            {
                reason = $"AS_PATH segment type {value[0]} is unknown";
                return false;
            }

            if (count == 0)
            {
                reason = "AS_PATH segment is empty";
                return false;
            }

            if (value.Length - 2 < count * asLength)
            {
                reason = "AS_PATH segment overruns the attribute";
                return false;
            }

            var asns = new uint[count];
            for (var i = 0; i < count; i++)
            {
                var field = value.Slice(2 + i * asLength, asLength);
                asns[i] = asLength == 4 ? BinaryPrimitives.ReadUInt32BigEndian(field) : BinaryPrimitives.ReadUInt16BigEndian(field);
                if (asns[i] == 0)
                {
                    reason = "AS_PATH contains AS 0";
                    return false;
                }
            }

            segments.Add(new AsPathSegment(segmentType, asns));
            value = value[(2 + count * asLength)..];
        }

        reason = "";
        return true;
    }

    private static Aggregator ReadAggregator(ReadOnlySpan<byte> value, int asLength) => new(
        asLength == 4 ? BinaryPrimitives.ReadUInt32BigEndian(value) : BinaryPrimitives.ReadUInt16BigEndian(value),
        new IPAddress(value.Slice(asLength, 4)));

    private static bool IsMartian(ReadOnlySpan<byte> address) =>
        address[0] is 0 or 127 or >= 224; // this network, loopback, multicast, reserved and broadcast

    // RFC 7606 §7.11: an MP_REACH_NLRI that cannot be parsed resets the session.
    private static MpReachNlri ReadMpReach(ReadOnlySpan<byte> value, bool discardPrefixes)
    {
        if (value.Length < 5 || value.Length < 5 + value[3])
        {
            throw MalformedAttributeList();
        }

        var family = ReadFamily(value);
        var nextHop = value.Slice(4, value[3]);
        var nlri = value[(5 + nextHop.Length)..];
        if (AddressFamilyOf(family) is not { } addressFamily)
        {
            return new MpReachNlri(family, null, null, []);
        }

        var validNextHop = family.Afi == Afi.IPv6 ? nextHop.Length is 16 or 32 : nextHop.Length is 4 or 16 or 32;
        if (!validNextHop)
        {
            throw MalformedAttributeList();
        }

        var global = new IPAddress(nextHop.Length == 4 ? nextHop : nextHop[..16]);
        var linkLocal = nextHop.Length == 32 ? new IPAddress(nextHop[16..]) : null;
        var prefixes = new List<IPNetwork>();
        ReadPrefixes(nlri, addressFamily, discardPrefixes ? null : prefixes);
        return new MpReachNlri(family, global, linkLocal, prefixes);
    }

    private static MpUnreachNlri ReadMpUnreach(ReadOnlySpan<byte> value, bool discardPrefixes)
    {
        if (value.Length < 3)
        {
            throw MalformedAttributeList();
        }

        var family = ReadFamily(value);
        var prefixes = new List<IPNetwork>();
        if (AddressFamilyOf(family) is { } addressFamily)
        {
            ReadPrefixes(value[3..], addressFamily, discardPrefixes ? null : prefixes);
        }

        return new MpUnreachNlri(family, prefixes);
    }

    private static AfiSafi ReadFamily(ReadOnlySpan<byte> value) =>
        new((Afi)BinaryPrimitives.ReadUInt16BigEndian(value), (Safi)value[2]);

    private static AddressFamily? AddressFamilyOf(AfiSafi family) => family switch
    {
        { Afi: Afi.IPv4, Safi: Safi.Unicast or Safi.Multicast } => AddressFamily.InterNetwork,
        { Afi: Afi.IPv6, Safi: Safi.Unicast or Safi.Multicast } => AddressFamily.InterNetworkV6,
        _ => null,
    };

    /// <summary>Reads the prefixes into <paramref name="prefixes"/>, or only validates them when it is null.</summary>
    private static void ReadPrefixes(ReadOnlySpan<byte> source, AddressFamily family, List<IPNetwork>? prefixes)
    {
        while (!source.IsEmpty)
        {
            int consumed;
            if (prefixes is null)
            {
                if (!Nlri.TryMeasure(source, family, out _, out consumed))
                {
                    throw new BgpNotificationException(BgpErrorCode.Update, UpdateSubcode.InvalidNetworkField);
                }
            }
            else
            {
                if (!Nlri.TryDecode(source, family, out var prefix, out consumed))
                {
                    throw new BgpNotificationException(BgpErrorCode.Update, UpdateSubcode.InvalidNetworkField);
                }

                prefixes.Add(prefix);
            }

            source = source[consumed..];
        }
    }

    private static void Withdraw(UpdateMessage update, byte type, string reason)
    {
        update.Errors.Add(new AttributeError(type, AttributeErrorAction.TreatAsWithdraw, reason));
        update.TreatAsWithdraw = true;
    }

    private static void Discard(UpdateMessage update, byte type, string reason) =>
        update.Errors.Add(new AttributeError(type, AttributeErrorAction.AttributeDiscard, reason));

    private static BgpNotificationException MalformedAttributeList() =>
        new(BgpErrorCode.Update, UpdateSubcode.MalformedAttributeList);

    /// <summary>A 256-bit set of attribute type codes.</summary>
    private struct SeenAttributes
    {
        private ulong _a, _b, _c, _d;

        public readonly bool Contains(byte type) => (Word(type) & (1UL << (type & 63))) != 0;

        public void Add(byte type)
        {
            var bit = 1UL << (type & 63);
            switch (type >> 6)
            {
                case 0: _a |= bit; break;
                case 1: _b |= bit; break;
                case 2: _c |= bit; break;
                default: _d |= bit; break;
            }
        }

        private readonly ulong Word(byte type) => (type >> 6) switch { 0 => _a, 1 => _b, 2 => _c, _ => _d };
    }
}
