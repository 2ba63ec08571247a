using System.Buffers;
using System.Net;
using System.Net.Sockets;
using BgpLb.Bgp.Wire;

namespace BgpLb.Bgp.Tests.Wire;

public class UpdateWriterTests
{
    // RFC 4271 §4.3, hand-assembled: no withdrawn routes; ORIGIN IGP, AS_PATH AS_SEQUENCE [65001] (4-octet),
    // NEXT_HOP 198.18.0.1; NLRI 203.0.113.1/32 and 198.51.100.0/24.
    public const string GoldenIPv4UpdateHex = Hex.Marker + "0034 02" + "0000 0014"
        + "40 01 01 00" + "40 02 06 02 01 0000FDE9" + "40 03 04 C6120001" + "20 CB007101" + "18 C63364";

    // RFC 4760 §3 / RFC 2545, hand-assembled: ORIGIN, AS_PATH, COMMUNITIES 65001:100, MP_REACH_NLRI (extended length,
    // AFI 2, SAFI 1, next hop 2001:db8::1, reserved, 2001:db8:1::1/128, 2001:db8:2::/48), LARGE_COMMUNITY 65001:1:2.
    public const string GoldenIPv6UpdateHex = Hex.Marker + "006B 02" + "0000 0054"
        + "40 01 01 00" + "40 02 06 02 01 0000FDE9" + "C0 08 04 FDE90064"
        + "90 0E 002D 0002 01 10 20010DB8000000000000000000000001 00"
        + "80 20010DB8000100000000000000000001" + "30 20010DB80002"
        + "C0 20 0C 0000FDE9 00000001 00000002";

    private static readonly IPNetwork[] GoldenIPv4Prefixes = [Wire.Net("203.0.113.1/32"), Wire.Net("198.51.100.0/24")];
    private static readonly IPNetwork[] GoldenIPv6Prefixes = [Wire.Net("2001:db8:1::1/128"), Wire.Net("2001:db8:2::/48")];

    internal static readonly PathAttributeSet EbgpV4 = new() { AsPath = [65001], NextHop = IPAddress.Parse("198.18.0.1") };
    internal static readonly PathAttributeSet EbgpV6 = new() { AsPath = [65001], NextHop = IPAddress.Parse("2001:db8::1") };

    [Fact]
    public void IPv4_announcement_matches_golden_bytes()
    {
        var attributes = EncodedPathAttributes.Create(EbgpV4);
        var count = 0;
        var bytes = Wire.Write(w => count = UpdateWriter.WriteAnnouncements(w, attributes, GoldenIPv4Prefixes));
        Assert.Equal(2, count);
        Assert.Equal(Hex.Of(Hex.Bytes(GoldenIPv4UpdateHex)), Hex.Of(bytes));
    }

    [Fact]
    public void IPv6_announcement_matches_golden_bytes_with_mp_reach_in_type_order()
    {
        var attributes = EncodedPathAttributes.Create(EbgpV6 with { Communities = [0xFDE90064], LargeCommunities = [new LargeCommunity(65001, 1, 2)] });
        var bytes = Wire.Write(w => UpdateWriter.WriteAnnouncements(w, attributes, GoldenIPv6Prefixes));
        Assert.Equal(Hex.Of(Hex.Bytes(GoldenIPv6UpdateHex)), Hex.Of(bytes));
    }

    [Fact]
    public void IPv4_withdrawal_matches_golden_bytes()
    {
        var bytes = Wire.Write(w => UpdateWriter.WriteWithdrawals(w, AddressFamily.InterNetwork, [Wire.Net("203.0.113.1/32"), Wire.Net("10.0.0.0/8")]));
        Assert.Equal(Hex.Marker + "001E02" + "0007" + "20CB007101" + "080A" + "0000", Hex.Of(bytes));
    }

    [Fact]
    public void IPv6_withdrawal_matches_golden_bytes()
    {
        var bytes = Wire.Write(w => UpdateWriter.WriteWithdrawals(w, AddressFamily.InterNetworkV6, [Wire.Net("2001:db8::/32")]));
        Assert.Equal(Hex.Marker + "002302" + "0000" + "000C" + "900F0008" + "000201" + "2020010DB8", Hex.Of(bytes));
    }

    [Fact]
    public void End_of_rib_markers_match_rfc4724()
    {
        Assert.Equal(Hex.Marker + "001702" + "00000000", Hex.Of(Wire.Write(w => UpdateWriter.WriteEndOfRib(w, AddressFamily.InterNetwork))));
        Assert.Equal(Hex.Marker + "001D02" + "00000006" + "800F03000201", Hex.Of(Wire.Write(w => UpdateWriter.WriteEndOfRib(w, AddressFamily.InterNetworkV6))));
    }

    [Fact]
    public void Ibgp_attributes_have_empty_as_path_and_local_pref()
    {
        var attributes = EncodedPathAttributes.Create(new PathAttributeSet { NextHop = IPAddress.Parse("198.18.0.1"), LocalPref = 100, MultiExitDisc = 5 });
        var bytes = Wire.Write(w => UpdateWriter.WriteAnnouncements(w, attributes, [Wire.Net("192.0.2.0/24")]));
        Assert.Equal(Hex.Marker + "003702" + "0000" + "001C"
            + "40010100" + "400200" + "400304C6120001" + "800404" + "00000005" + "40050400000064" + "18C00002", Hex.Of(bytes));
    }

    [Fact]
    public void Two_octet_session_uses_as_trans_and_as4_path()
    {
        var attributes = EncodedPathAttributes.Create(EbgpV4 with { AsPath = [4200000000, 65001], FourOctetAs = false });
        var bytes = Wire.Write(w => UpdateWriter.WriteAnnouncements(w, attributes, [Wire.Net("192.0.2.0/24")]));
        var hex = Hex.Of(bytes);
        Assert.Contains("40020602025BA0FDE9", hex, StringComparison.Ordinal);
        Assert.Contains("C0110A0202FA56EA000000FDE9", hex, StringComparison.Ordinal);

        var decoded = UpdateDecoder.Decode(Wire.Body(bytes), new UpdateDecodeContext(FourOctetAs: false, IsInternal: false));
        Assert.Equal([23456u, 65001u], Assert.Single(decoded.AsPath!).Asns);
        Assert.Equal([4200000000u, 65001u], Assert.Single(decoded.As4Path!).Asns);
        Assert.Empty(decoded.Errors);
    }

    [Fact]
    public void Two_octet_session_without_large_asns_sends_no_as4_path()
    {
        var attributes = EncodedPathAttributes.Create(EbgpV4 with { FourOctetAs = false });
        var bytes = Wire.Write(w => UpdateWriter.WriteAnnouncements(w, attributes, [Wire.Net("192.0.2.0/24")]));
        Assert.Equal(Hex.Marker + "002D02" + "0000" + "0012" + "40010100" + "400204" + "0201FDE9" + "400304C6120001" + "18C00002", Hex.Of(bytes));
    }

    [Fact]
    public void Long_as_path_is_split_into_segments_of_255()
    {
        var path = Enumerable.Range(1, 300).Select(i => (uint)i).ToArray();
        var attributes = EncodedPathAttributes.Create(EbgpV4 with { AsPath = path });
        var bytes = Wire.Write(w => UpdateWriter.WriteAnnouncements(w, attributes, [Wire.Net("192.0.2.0/24")]));
        var decoded = UpdateDecoder.Decode(Wire.Body(bytes), new UpdateDecodeContext(true, false));
        Assert.Equal([255, 45], decoded.AsPath!.Select(s => s.Asns.Count));
        Assert.Equal(path, decoded.AsPath!.SelectMany(s => s.Asns));
    }

    [Fact]
    public void Attribute_over_255_bytes_gets_extended_length_flag()
    {
        var communities = Enumerable.Range(0, 100).Select(i => (uint)i).ToArray();
        var attributes = EncodedPathAttributes.Create(EbgpV4 with { Communities = communities });
        var bytes = Wire.Write(w => UpdateWriter.WriteAnnouncements(w, attributes, [Wire.Net("192.0.2.0/24")]));
        Assert.Contains("D0080190" + "00000000" + "00000001", Hex.Of(bytes), StringComparison.Ordinal);
        Assert.Equal(communities, UpdateDecoder.Decode(Wire.Body(bytes), new UpdateDecodeContext(true, false)).Communities);
    }

    [Fact]
    public void Ipv6_link_local_next_hop_makes_a_32_byte_next_hop()
    {
        var attributes = EncodedPathAttributes.Create(EbgpV6 with { LinkLocalNextHop = IPAddress.Parse("fe80::1") });
        var bytes = Wire.Write(w => UpdateWriter.WriteAnnouncements(w, attributes, GoldenIPv6Prefixes));
        var decoded = UpdateDecoder.Decode(Wire.Body(bytes), new UpdateDecodeContext(true, false));
        Assert.Equal(IPAddress.Parse("2001:db8::1"), decoded.MpReach!.NextHop);
        Assert.Equal(IPAddress.Parse("fe80::1"), decoded.MpReach.LinkLocalNextHop);
        Assert.Equal(GoldenIPv6Prefixes, decoded.MpReach.Nlri);
    }

    public static TheoryData<string, int, int> PackingCases => new()
    {
        { "v4 announce", 4096, 810 },
        { "v4 withdraw", 4096, 814 },
        { "v6 announce", 4096, 237 },
        { "v6 announce link-local", 4096, 236 },
        { "v6 withdraw", 4096, 239 },
        { "v4 announce", 65535, 13098 },
        { "v4 withdraw", 65535, 13102 },
        { "v6 announce", 65535, 3851 },
        { "v6 withdraw", 65535, 3853 },
    };

    [Theory]
    [MemberData(nameof(PackingCases))]
    public void Packs_the_number_of_host_prefixes_from_the_wire_arithmetic(string kind, int maxLength, int expected)
    {
        var v6 = kind.StartsWith("v6", StringComparison.Ordinal);
        var prefixes = HostPrefixes(v6, 20000);
        var output = new ArrayBufferWriter<byte>();
        var set = v6 ? EbgpV6 : EbgpV4;
        if (kind.EndsWith("link-local", StringComparison.Ordinal))
        {
            set = set with { LinkLocalNextHop = IPAddress.Parse("fe80::1") };
        }

        var count = kind.Contains("withdraw", StringComparison.Ordinal)
            ? UpdateWriter.WriteWithdrawals(output, v6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork, prefixes, maxLength)
            : UpdateWriter.WriteAnnouncements(output, EncodedPathAttributes.Create(set), prefixes, maxLength);
        Assert.Equal(expected, count);
        Assert.InRange(output.WrittenCount, maxLength - 16, maxLength);
        Assert.Equal(output.WrittenCount, (output.WrittenSpan[16] << 8) | output.WrittenSpan[17]);
    }

    [Fact]
    public void Every_five_communities_cost_about_four_slots()
    {
        var output = new ArrayBufferWriter<byte>();
        var attributes = EncodedPathAttributes.Create(EbgpV4 with { Communities = [1, 2, 3, 4, 5] });
        Assert.Equal(806, UpdateWriter.WriteAnnouncements(output, attributes, HostPrefixes(false, 1000)));
    }

    [Fact]
    public void Empty_prefix_list_writes_nothing()
    {
        var output = new ArrayBufferWriter<byte>();
        Assert.Equal(0, UpdateWriter.WriteAnnouncements(output, EncodedPathAttributes.Create(EbgpV4), []));
        Assert.Equal(0, UpdateWriter.WriteWithdrawals(output, AddressFamily.InterNetwork, []));
        Assert.Equal(0, output.WrittenCount);
    }

    [Fact]
    public void Rejects_prefixes_of_the_wrong_family_and_attributes_leaving_no_room()
    {
        var output = new ArrayBufferWriter<byte>();
        Assert.Throws<ArgumentException>(() => UpdateWriter.WriteAnnouncements(output, EncodedPathAttributes.Create(EbgpV4), [Wire.Net("2001:db8::/32")]));
        Assert.Throws<ArgumentException>(() => UpdateWriter.WriteAnnouncements(output, EncodedPathAttributes.Create(EbgpV6), [Wire.Net("10.0.0.0/8")]));
        Assert.Throws<ArgumentException>(() => UpdateWriter.WriteWithdrawals(output, AddressFamily.InterNetwork, [Wire.Net("2001:db8::/32")]));
        var huge = EncodedPathAttributes.Create(EbgpV4 with { Communities = Enumerable.Range(0, 1015).Select(i => (uint)i).ToArray() });
        Assert.Throws<ArgumentException>(() => UpdateWriter.WriteAnnouncements(output, huge, [Wire.Net("10.0.0.0/8")]));
        Assert.Throws<ArgumentException>(() => EncodedPathAttributes.Create(EbgpV4 with { LinkLocalNextHop = IPAddress.Parse("fe80::1") }));
    }

    [Fact]
    public void Encoding_allocates_nothing_per_message()
    {
        var prefixes = HostPrefixes(false, 10000);
        var prefixes6 = HostPrefixes(true, 10000);
        var v4 = EncodedPathAttributes.Create(EbgpV4 with { Communities = [1, 2] });
        var v6 = EncodedPathAttributes.Create(EbgpV6);
        var output = new ArrayBufferWriter<byte>(1 << 20);
        void EncodeAll()
        {
            output.ResetWrittenCount();
            for (var rest = prefixes.AsSpan(); !rest.IsEmpty;)
            {
                rest = rest[UpdateWriter.WriteAnnouncements(output, v4, rest)..];
            }

            for (var rest = prefixes6.AsSpan(); !rest.IsEmpty;)
            {
                rest = rest[UpdateWriter.WriteAnnouncements(output, v6, rest)..];
            }

            for (var rest = prefixes.AsSpan(); !rest.IsEmpty;)
            {
                rest = rest[UpdateWriter.WriteWithdrawals(output, AddressFamily.InterNetwork, rest)..];
            }

            UpdateWriter.WriteEndOfRib(output, AddressFamily.InterNetworkV6);
            KeepaliveCodec.Write(output);
        }

        EncodeAll();
        var before = GC.GetAllocatedBytesForCurrentThread();
        EncodeAll();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    internal static IPNetwork[] HostPrefixes(bool v6, int count) => Enumerable.Range(0, count).Select(i => v6
        ? new IPNetwork(IPAddress.Parse($"2001:db8::{i / 65536:x}:{i % 65536:x}"), 128)
        : new IPNetwork(new IPAddress(new byte[] { 10, (byte)(i >> 16), (byte)(i >> 8), (byte)i }), 32)).ToArray();
}
