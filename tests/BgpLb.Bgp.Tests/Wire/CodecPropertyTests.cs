using System.Buffers;
using System.Net;
using System.Net.Sockets;
using BgpLb.Bgp.Wire;
using CsCheck;

namespace BgpLb.Bgp.Tests.Wire;

public class CodecPropertyTests
{
    private static readonly byte[] KnownCapabilities = [1, 2, 6, 64, 65, 70, 73];
    private static readonly AfiSafi[] Families = [AfiSafi.IPv4Unicast, AfiSafi.IPv6Unicast, new(Afi.IPv4, Safi.Multicast), new(Afi.IPv6, Safi.Multicast)];

    private static readonly Gen<string> Label = Gen.Char['a', 'z'].Array[0, 70].Select(c => new string(c));

    private static readonly Gen<BgpCapabilities> GenCapabilities =
        Gen.Select(Gen.Int[0, 15], Gen.UInt.Select(v => v == 0 ? (uint?)null : v), Gen.Int[0, 7], Gen.Bool,
            Gen.Select(Gen.Int[0, 15], Gen.UShort[0, 4095], Gen.Byte.Array[0, 4]).Select((f, t, flags) =>
                new GracefulRestartCapability((byte)f, t, [.. flags.Select((b, i) => new GracefulRestartFamily(Families[i], b))])),
            Gen.Select(Label, Label),
            Gen.Select(Gen.Byte.Where(b => !KnownCapabilities.Contains(b)), Gen.Byte.Array[0, 40])
                .Select((code, value) => new UnknownCapability(code, value)).Array[0, 5])
        .Select((families, as4, flags, withGr, gr, fqdn, unknown) => new BgpCapabilities
        {
            Multiprotocol = [.. Families.Where((_, i) => (families & (1 << i)) != 0)],
            FourOctetAs = as4,
            RouteRefresh = (flags & 1) != 0,
            EnhancedRouteRefresh = (flags & 2) != 0,
            ExtendedMessage = (flags & 4) != 0,
            GracefulRestart = withGr ? gr : null,
            HostName = fqdn.Item1.Length > 0 ? fqdn.Item1 : null,
            DomainName = fqdn.Item1.Length > 0 ? fqdn.Item2 : null,
            Unknown = unknown,
        });

    private static readonly Gen<OpenMessage> GenOpen = Gen.Select(Gen.UShort, Gen.UShort, Gen.UInt, GenCapabilities)
        .Select((myAs, hold, id, caps) => new OpenMessage(4, myAs, hold, id, caps));

    [Fact]
    public void Open_round_trips()
    {
        GenOpen.Sample(open =>
        {
            var bytes = Wire.Write(w => OpenCodec.Write(w, open));
            var read = OpenCodec.Read(Wire.Body(bytes));
            Assert.Equal((open.MyAs, open.HoldTime, open.BgpId), (read.MyAs, read.HoldTime, read.BgpId));
            var (a, b) = (open.Capabilities, read.Capabilities);
            Assert.Equal(a.Multiprotocol, b.Multiprotocol);
            Assert.Equal((a.FourOctetAs, a.RouteRefresh, a.EnhancedRouteRefresh, a.ExtendedMessage), (b.FourOctetAs, b.RouteRefresh, b.EnhancedRouteRefresh, b.ExtendedMessage));
            Assert.Equal(a.GracefulRestart?.Families, b.GracefulRestart?.Families);
            Assert.Equal((a.GracefulRestart?.Flags, a.GracefulRestart?.RestartTime), (b.GracefulRestart?.Flags, b.GracefulRestart?.RestartTime));
            Assert.Equal(a.HostName?[..Math.Min(64, a.HostName.Length)], b.HostName);
            Assert.Equal(a.DomainName?[..Math.Min(64, a.DomainName.Length)], b.DomainName);
            Assert.Equal(a.Unknown.Select(u => (u.Code, Hex.Of(u.Value))), b.Unknown.Select(u => (u.Code, Hex.Of(u.Value))));
            Assert.Equal(Hex.Of(bytes), Hex.Of(Wire.Write(w => OpenCodec.Write(w, read))));
        });
    }

    [Fact]
    public void Graceful_restart_header_is_4_flag_bits_then_12_time_bits()
    {
        Gen.Select(Gen.Byte[0, 15], Gen.UShort[0, 4095]).Sample((flags, restartTime) =>
        {
            var open = new OpenMessage(4, 1, 0, 1, new BgpCapabilities { GracefulRestart = new GracefulRestartCapability(flags, restartTime, []) });
            var body = Wire.Body(Wire.Write(w => OpenCodec.Write(w, open)));
            // Optional parameters: type 2, length 4; capability 64, length 2; then the field.
            Assert.Equal("02044002", Hex.Of(body.AsSpan(10, 4)));
            Assert.Equal((flags << 4 | restartTime >> 8, restartTime & 0xFF), (body[14], body[15]));
        });
    }

    [Fact]
    public void Notification_round_trips()
    {
        Gen.Select(Gen.Byte[1, 8], Gen.Byte, Gen.Byte.Array[0, 300]).Sample((code, subcode, data) =>
        {
            var bytes = Wire.Write(w => NotificationCodec.Write(w, (BgpErrorCode)code, subcode, data));
            var buffer = new ReadOnlySequence<byte>(bytes);
            Assert.True(BgpFraming.TryReadMessage(ref buffer, 4096, out var type, out var body));
            Assert.Equal(BgpMessageType.Notification, type);
            var n = NotificationCodec.Read(body);
            Assert.Equal(((BgpErrorCode)code, subcode, Hex.Of(data)), (n.Code, n.Subcode, Hex.Of(n.Data.Span)));
        });
    }

    [Fact]
    public void Shutdown_communication_round_trips_within_255_bytes()
    {
        var text = Gen.Char.Where(c => !char.IsSurrogate(c)).Array[0, 200].Select(c => new string(c));
        Gen.Select(text, Gen.Bool).Sample((message, reset) =>
        {
            var subcode = reset ? CeaseSubcode.AdministrativeReset : CeaseSubcode.AdministrativeShutdown;
            var bytes = Wire.Write(w => NotificationCodec.WriteShutdown(w, subcode, message));
            var read = NotificationCodec.Read(Wire.Body(bytes)).ShutdownCommunication ?? "";
            Assert.StartsWith(read, message, StringComparison.Ordinal);
            Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(read), 0, 255);
            if (System.Text.Encoding.UTF8.GetByteCount(message) <= 255)
            {
                Assert.Equal(message, read);
            }
            else
            {
                Assert.True(System.Text.Encoding.UTF8.GetByteCount(read) > 252);
            }
        });
    }

    [Fact]
    public void Route_refresh_round_trips()
    {
        Gen.Select(Gen.UShort, Gen.Byte[0, 2], Gen.Byte).Sample((afi, subtype, safi) =>
        {
            var message = new RouteRefreshMessage(new AfiSafi((Afi)afi, (Safi)safi), (RouteRefreshSubtype)subtype);
            Assert.Equal(message, RouteRefreshCodec.Read(Wire.Body(Wire.Write(w => RouteRefreshCodec.Write(w, message)))));
        });
    }

    private static readonly Gen<IPNetwork> GenV4Prefix = Gen.Select(Gen.UInt, Gen.Int[0, 32])
        .Select((a, len) => new IPNetwork(new IPAddress(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(len == 0 ? 0 : a & (uint.MaxValue << (32 - len)))), len));

    private static readonly Gen<IPNetwork> GenV6Prefix = Gen.Select(Gen.Byte.Array[16], Gen.Int[0, 128]).Select((bytes, len) =>
    {
        for (var bit = len; bit < 128; bit++)
        {
            bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        }

        return new IPNetwork(new IPAddress(bytes), len);
    });

    private static readonly Gen<PathAttributeSet> GenAttributes =
        Gen.Select(Gen.Byte[0, 2], Gen.UInt[1, uint.MaxValue].Array[0, 300], Gen.Bool, Gen.Bool, Gen.Select(Gen.Bool, Gen.UInt), Gen.Select(Gen.Bool, Gen.UInt), Gen.Bool,
            Gen.Select(Gen.UInt.Array[0, 60], Gen.ULong.Array[0, 20], Gen.Select(Gen.UInt, Gen.UInt, Gen.UInt).Select((a, b, c) => new LargeCommunity(a, b, c)).Array[0, 20]))
        .Select((origin, path, v6, linkLocal, med, localPref, fourOctet, communities) => new PathAttributeSet
        {
            Origin = (BgpOrigin)origin,
            AsPath = path,
            NextHop = v6 ? IPAddress.Parse("2001:db8::1") : IPAddress.Parse("198.18.0.1"),
            LinkLocalNextHop = v6 && linkLocal ? IPAddress.Parse("fe80::1") : null,
            MultiExitDisc = med.Item1 ? med.Item2 : null,
            LocalPref = localPref.Item1 ? localPref.Item2 : null,
            FourOctetAs = fourOctet,
            Communities = communities.Item1,
            ExtendedCommunities = communities.Item2,
            LargeCommunities = communities.Item3,
        });

    [Fact]
    public void Update_announcements_round_trip_and_pack_every_prefix_exactly_once()
    {
        Gen.Select(GenAttributes, GenV4Prefix.Array[1, 3000], GenV6Prefix.Array[1, 800], Gen.Bool).Sample((set, v4Prefixes, v6Prefixes, extended) =>
        {
            var v6 = set.NextHop.AddressFamily == AddressFamily.InterNetworkV6;
            var prefixes = v6 ? v6Prefixes : v4Prefixes;
            var maxLength = extended ? BgpConstants.ExtendedMaxMessageLength : BgpConstants.MaxMessageLength;
            var attributes = EncodedPathAttributes.Create(set);
            var context = new UpdateDecodeContext(set.FourOctetAs, IsInternal: set.LocalPref is not null);
            var decoded = new List<IPNetwork>();
            foreach (var update in EncodeAll(prefixes, maxLength, (w, rest) => UpdateWriter.WriteAnnouncements(w, attributes, rest, maxLength), context))
            {
                AssertAttributes(set, update);
                decoded.AddRange(v6 ? update.MpReach!.Nlri : update.Nlri);
            }

            Assert.Equal(prefixes, decoded);
        }, iter: 300);
    }

    [Fact]
    public void Update_withdrawals_round_trip_and_pack_every_prefix_exactly_once()
    {
        Gen.Select(GenV4Prefix.Array[1, 3000], GenV6Prefix.Array[1, 800], Gen.Bool, Gen.Bool).Sample((v4Prefixes, v6Prefixes, v6, extended) =>
        {
            var prefixes = v6 ? v6Prefixes : v4Prefixes;
            var family = v6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
            var maxLength = extended ? BgpConstants.ExtendedMaxMessageLength : BgpConstants.MaxMessageLength;
            var decoded = new List<IPNetwork>();
            foreach (var update in EncodeAll(prefixes, maxLength, (w, rest) => UpdateWriter.WriteWithdrawals(w, family, rest, maxLength), new(true, false)))
            {
                Assert.Empty(update.Errors);
                Assert.Null(update.EndOfRib);
                decoded.AddRange(v6 ? update.MpUnreach!.Withdrawn : update.Withdrawn);
            }

            Assert.Equal(prefixes, decoded);
        }, iter: 300);
    }

    private delegate int WriteOne(IBufferWriter<byte> output, ReadOnlySpan<IPNetwork> rest);

    private static List<UpdateMessage> EncodeAll(IPNetwork[] prefixes, int maxLength, WriteOne write, UpdateDecodeContext context)
    {
        var output = new ArrayBufferWriter<byte>();
        var messages = 0;
        for (var rest = prefixes.AsSpan(); !rest.IsEmpty; messages++)
        {
            var written = write(output, rest);
            Assert.InRange(written, 1, rest.Length);
            rest = rest[written..];
        }

        var buffer = new ReadOnlySequence<byte>(output.WrittenMemory);
        var updates = new List<UpdateMessage>();
        while (BgpFraming.TryReadMessage(ref buffer, maxLength, out var type, out var body))
        {
            Assert.Equal(BgpMessageType.Update, type);
            Assert.InRange(body.Length + 19, 23, maxLength);
            updates.Add(UpdateDecoder.Decode(body, context));
        }

        Assert.Equal(0, buffer.Length);
        Assert.Equal(messages, updates.Count);
        return updates;
    }

    private static void AssertAttributes(PathAttributeSet set, UpdateMessage update)
    {
        Assert.Empty(update.Errors);
        Assert.Equal(set.Origin, update.Origin);
        var asPath = update.AsPath!.SelectMany(s => s.Asns).ToArray();
        Assert.Equal(set.FourOctetAs ? set.AsPath : set.AsPath.Select(a => a > ushort.MaxValue ? 23456u : a), asPath);
        Assert.All(update.AsPath!, s => Assert.Equal(AsPathSegmentType.AsSequence, s.Type));
        var needsAs4Path = !set.FourOctetAs && set.AsPath.Any(a => a > ushort.MaxValue);
        Assert.Equal(needsAs4Path ? set.AsPath : null, update.As4Path?.SelectMany(s => s.Asns));
        Assert.Equal((set.MultiExitDisc, set.LocalPref), (update.MultiExitDisc, update.LocalPref));
        Assert.Equal(set.Communities, update.Communities ?? []);
        Assert.Equal(set.ExtendedCommunities, update.ExtendedCommunities ?? []);
        Assert.Equal(set.LargeCommunities, update.LargeCommunities ?? []);
        if (set.NextHop.AddressFamily == AddressFamily.InterNetwork)
        {
            Assert.Equal(set.NextHop, update.NextHop);
            Assert.Null(update.MpReach);
        }
        else
        {
            Assert.Null(update.NextHop);
            Assert.Equal((set.NextHop, set.LinkLocalNextHop), (update.MpReach!.NextHop, update.MpReach.LinkLocalNextHop));
            Assert.Equal(AfiSafi.IPv6Unicast, update.MpReach.Family);
        }
    }

    [Fact]
    public void Random_bytes_never_throw_anything_but_notifications()
    {
        Gen.Select(Gen.Byte.Array[0, 200], Gen.Bool, Gen.Bool).Sample((bytes, fourOctet, internalPeer) =>
        {
            DecodeAnyBody(bytes, new UpdateDecodeContext(fourOctet, internalPeer));
            var message = Hex.Bytes(Hex.Marker).Concat(bytes).ToArray();
            DecodeStream(message, new UpdateDecodeContext(fourOctet, internalPeer));
        }, iter: 20000);
    }

    [Fact]
    public void Mutated_valid_messages_never_throw_anything_but_notifications()
    {
        string[] seeds = [OpenCodecTests.GoldenOpenHex, UpdateWriterTests.GoldenIPv4UpdateHex, UpdateWriterTests.GoldenIPv6UpdateHex,
            NotificationTests.GoldenCeaseHex, RouteRefreshTests.GoldenHex];
        Gen.Select(Gen.Int[0, seeds.Length - 1], Gen.Select(Gen.Int[0, 200], Gen.Byte).Array[1, 4], Gen.Bool).Sample((seed, mutations, fourOctet) =>
        {
            var message = Hex.Bytes(seeds[seed]);
            foreach (var (position, value) in mutations)
            {
                message[19 + position % (message.Length - 19)] = value;
            }

            DecodeStream(message, new UpdateDecodeContext(fourOctet, false));
        }, iter: 20000);
    }

    private static void DecodeStream(byte[] stream, UpdateDecodeContext context)
    {
        try
        {
            var buffer = new ReadOnlySequence<byte>(stream);
            while (BgpFraming.TryReadMessage(ref buffer, 4096, out var type, out var body))
            {
                AnyMessageDecoder.Decode(type, body, context);
            }
        }
        catch (BgpNotificationException)
        {
        }
    }

    private static void DecodeAnyBody(byte[] body, UpdateDecodeContext context)
    {
        // Each decoder gets only bodies that framing would pass to it.
        foreach (var (type, minimum) in new[] { (BgpMessageType.Open, 10), (BgpMessageType.Update, 4), (BgpMessageType.Notification, 2), (BgpMessageType.RouteRefresh, 4) })
        {
            if (body.Length >= minimum)
            {
                try
                {
                    AnyMessageDecoder.Decode(type, new ReadOnlySequence<byte>(body), context);
                }
                catch (BgpNotificationException)
                {
                }
            }
        }
    }
}
