using System.Net;
using BgpLb.Bgp.Wire;

namespace BgpLb.Bgp.Tests.Wire;

public class UpdateDecoderTests
{
    private const string Origin = "40 01 01 00";
    private const string AsPath = "40 02 06 02 01 0000FDE9";
    private const string NextHop = "40 03 04 C6120001";
    private const string LocalPref = "40 05 04 00000064";
    private const string Mandatory = Origin + AsPath + NextHop;
    private const string Nlri = "18 C63364";

    private static readonly UpdateDecodeContext Ebgp = new(FourOctetAs: true, IsInternal: false);
    private static readonly UpdateDecodeContext Ibgp = new(FourOctetAs: true, IsInternal: true);

    private static byte[] Body(string attributes, string nlri = Nlri, string withdrawn = "")
    {
        var w = Hex.Bytes(withdrawn);
        var a = Hex.Bytes(attributes);
        return [.. Hex.Bytes($"{w.Length:X4}"), .. w, .. Hex.Bytes($"{a.Length:X4}"), .. a, .. Hex.Bytes(nlri)];
    }

    private static UpdateMessage Decode(string attributes, string nlri = Nlri, UpdateDecodeContext? context = null) =>
        UpdateDecoder.Decode(Body(attributes, nlri), context ?? Ebgp);

    [Fact]
    public void Decodes_golden_ipv4_update()
    {
        var u = UpdateDecoder.Decode(Wire.Body(Hex.Bytes(UpdateWriterTests.GoldenIPv4UpdateHex)), Ebgp);
        Assert.Equal(BgpOrigin.Igp, u.Origin);
        var segment = Assert.Single(u.AsPath!);
        Assert.Equal((AsPathSegmentType.AsSequence, 65001u), (segment.Type, Assert.Single(segment.Asns)));
        Assert.Equal(IPAddress.Parse("198.18.0.1"), u.NextHop);
        Assert.Equal([Wire.Net("203.0.113.1/32"), Wire.Net("198.51.100.0/24")], u.Nlri);
        Assert.Empty(u.Withdrawn);
        Assert.Empty(u.Errors);
        Assert.False(u.TreatAsWithdraw);
        Assert.Null(u.EndOfRib);
    }

    [Fact]
    public void Decodes_golden_ipv6_update()
    {
        var body = Wire.Body(Hex.Bytes(UpdateWriterTests.GoldenIPv6UpdateHex));
        var u = UpdateDecoder.Decode(Wire.Segmented(body, 10, 50, 51), Ebgp);
        Assert.Equal([0xFDE90064u], u.Communities!);
        Assert.Equal([new LargeCommunity(65001, 1, 2)], u.LargeCommunities!);
        Assert.Equal(AfiSafi.IPv6Unicast, u.MpReach!.Family);
        Assert.Equal(IPAddress.Parse("2001:db8::1"), u.MpReach.NextHop);
        Assert.Null(u.MpReach.LinkLocalNextHop);
        Assert.Equal([Wire.Net("2001:db8:1::1/128"), Wire.Net("2001:db8:2::/48")], u.MpReach.Nlri);
        Assert.Empty(u.Nlri);
        Assert.Empty(u.Errors);
    }

    [Fact]
    public void Decodes_every_supported_attribute()
    {
        var u = Decode(Mandatory + "80 04 04 00000007" + LocalPref + "40 06 00" + "C0 07 08 0000FDE9 C0000201"
            + "C0 10 08 0002FDE900000064" + "C0 11 0A 02 02 FA56EA00 0000FDE9" + "C0 12 08 FA56EA00 C0000202"
            + "C0 63 02 ABCD" + "80 09 04 01020304", context: Ibgp);
        Assert.Empty(u.Errors);
        Assert.Equal((7u, 100u, true), (u.MultiExitDisc, u.LocalPref, u.AtomicAggregate));
        Assert.Equal(new Aggregator(65001, IPAddress.Parse("192.0.2.1")), u.Aggregator);
        Assert.Equal(new Aggregator(4200000000, IPAddress.Parse("192.0.2.2")), u.As4Aggregator);
        Assert.Equal([0x0002FDE900000064UL], u.ExtendedCommunities!);
        Assert.Equal([4200000000u, 65001u], Assert.Single(u.As4Path!).Asns);
        Assert.Equal([(0xC0, 0x63, "ABCD"), (0x80, 9, "01020304")], u.OtherAttributes.Select(a => ((int)a.Flags, (int)a.Type, Hex.Of(a.Value))));
    }

    [Fact]
    public void Two_octet_context_reads_two_octet_as_path_and_six_byte_aggregator()
    {
        var u = Decode(Origin + "40 02 06 02 02 FDE9 5BA0" + NextHop + "C0 07 06 FDE9 C0000201", context: new UpdateDecodeContext(false, false));
        Assert.Equal([65001u, 23456u], Assert.Single(u.AsPath!).Asns);
        Assert.Equal(65001u, u.Aggregator!.Value.As);
        Assert.Empty(u.Errors);
    }

    [Fact]
    public void Withdrawn_routes_are_decoded_and_host_bits_masked()
    {
        var u = UpdateDecoder.Decode(Body("", "", "20 CB007101 0A 0AFF 00"), Ebgp);
        Assert.Equal([Wire.Net("203.0.113.1/32"), Wire.Net("10.192.0.0/10"), Wire.Net("0.0.0.0/0")], u.Withdrawn);
        Assert.Null(u.EndOfRib);
        Assert.Empty(u.Errors); // no NLRI, so no mandatory attributes
    }

    // Session resets (RFC 4271 §6.3, RFC 7606 §5.3, §7.11).
    [Theory]
    [InlineData("0005 0000")]                    // withdrawn routes length overruns
    [InlineData("0000 0005 400101")]             // total path attribute length overruns
    [InlineData("0001 00 0001")]                 // attribute length overruns after a withdrawn 0.0.0.0/0
    [InlineData("0000")]                         // body shorter than the two length fields
    public void Length_overruns_are_3_1(string body)
    {
        Wire.AssertError(Wire.Throws(() => UpdateDecoder.Decode(Hex.Bytes(body), Ebgp)), BgpErrorCode.Update, 1);
    }

    [Theory]
    [InlineData("", "21 00000000 00")]       // withdrawn prefix length 33
    [InlineData("", "20 0A0000")]            // withdrawn prefix overruns
    [InlineData(Nlri + "21 0000000000", "")] // NLRI prefix length 33
    [InlineData(Nlri + "18 0A00", "")]        // NLRI prefix overruns
    public void Bad_prefixes_are_3_10(string nlri, string withdrawn)
    {
        var e = Wire.Throws(() => UpdateDecoder.Decode(Body(nlri.Length > 0 ? Mandatory : "", nlri, withdrawn), Ebgp));
        Wire.AssertError(e, BgpErrorCode.Update, 10);
    }

    private const string MpReachV6 = "90 0E 001A 0002 01 10 20010DB8000000000000000000000001 00 20 20010DB8";
    private const string MpUnreachV6 = "80 0F 08 0002 01 20 20010DB8";

    [Theory]
    [InlineData(MpReachV6 + MpReachV6)]                                   // MP_REACH twice
    [InlineData(MpUnreachV6 + MpUnreachV6)]                               // MP_UNREACH twice
    [InlineData("80 0E 04 0002 01 00")]                                   // MP_REACH shorter than 5
    [InlineData("80 0E 06 0002 01 10 0000")]                              // next hop overruns attribute
    [InlineData("80 0E 09 0002 01 04 C6120001 00")]                       // IPv6 next hop of 4 bytes
    [InlineData("80 0E 08 0001 01 03 C61200 00")]                         // IPv4 next hop of 3 bytes
    [InlineData("80 0F 02 0002")]                                          // MP_UNREACH shorter than 3
    public void Malformed_mp_attributes_are_3_1(string attributes)
    {
        Wire.AssertError(Wire.Throws(() => Decode(Origin + AsPath + attributes, "")), BgpErrorCode.Update, 1);
    }

    [Fact]
    public void Discarding_prefixes_validates_them_and_keeps_the_rest_of_the_decoding()
    {
        var discard = Ebgp with { DiscardPrefixes = true };
        const string mpReach = "80 0E 1A 0002 01 10 20010DB8000000000000000000000001 00 20 20010DB8";
        var kept = Decode(Mandatory + mpReach, Nlri + "20 C6336401");
        var discarded = Decode(Mandatory + mpReach, Nlri + "20 C6336401", discard);

        Assert.Equal(2, kept.Nlri.Count);
        Assert.Single(kept.MpReach!.Nlri);
        Assert.Empty(discarded.Nlri);
        Assert.Empty(discarded.MpReach!.Nlri);
        Assert.Equal((kept.Origin, kept.NextHop, kept.MpReach.Family), (discarded.Origin, discarded.NextHop, discarded.MpReach.Family));

        Assert.True(Decode("40 01 01 07" + AsPath + NextHop, context: discard).TreatAsWithdraw);
        // NEXT_HOP is mandatory because of the NLRI, whether it is kept or not.
        var missingNextHop = Decode(Origin + AsPath, context: discard);
        Assert.Equal(Decode(Origin + AsPath).Errors, missingNextHop.Errors);
        Assert.NotEmpty(missingNextHop.Errors);
        Wire.AssertError(Wire.Throws(() => Decode(Mandatory, "21 C6336401 00", discard)), BgpErrorCode.Update, 10);
        Wire.AssertError(Wire.Throws(() => Decode(Mandatory, "20 C63364", discard)), BgpErrorCode.Update, 10);
        Wire.AssertError(Wire.Throws(() => Decode(Origin + AsPath + "80 0F 07 0002 01 20 20010D", "", discard)), BgpErrorCode.Update, 10);
    }

    [Theory]
    [InlineData("80 0E 1A 0002 01 10 20010DB8000000000000000000000001 00 81 20010DB8")] // MP_REACH prefix length 129
    [InlineData("80 0F 07 0002 01 20 20010D")]                                            // MP_UNREACH prefix overruns
    public void Bad_mp_prefixes_are_3_10(string attributes)
    {
        Wire.AssertError(Wire.Throws(() => Decode(Origin + AsPath + attributes, "")), BgpErrorCode.Update, 10);
    }

    [Theory]
    [InlineData("C0 0E 04 0002 01 00")]
    [InlineData("40 0F 03 0002 01")]
    public void Wrong_flags_on_mp_attributes_are_3_4_with_the_attribute(string attribute)
    {
        Wire.AssertError(Wire.Throws(() => Decode(Origin + AsPath + attribute, "")), BgpErrorCode.Update, 4, Hex.Of(Hex.Bytes(attribute)));
    }

    [Theory]
    [InlineData("40 63 02 ABCD")]
    [InlineData("00 00 00")]
    [InlineData("50 FF 0001 00")]
    public void Unrecognized_well_known_attribute_is_3_2_with_the_attribute(string attribute)
    {
        Wire.AssertError(Wire.Throws(() => Decode(Mandatory + attribute)), BgpErrorCode.Update, 2, Hex.Of(Hex.Bytes(attribute)));
    }

    // Treat-as-withdraw rows of RFC 7606 (bgp-anchors.md §5.2).
    [Theory]
    [InlineData(Mandatory + "40 05 02 00", 0)]              // attribute length overruns the attribute list (§4)
    [InlineData(Mandatory + "40 06", 0)]                    // fewer than 3 bytes remain (§4)
    [InlineData(Mandatory + "50 06 00", 0)]                 // extended length with fewer than 4 bytes (§4)
    [InlineData("C0 01 01 00" + AsPath + NextHop, 1)]       // ORIGIN flagged optional (§3c)
    [InlineData("00 01 01 00" + AsPath + NextHop, 1)]       // ORIGIN not transitive (§3c)
    [InlineData(Mandatory + "40 04 04 00000001", 4)]        // MED flagged well-known (§3c)
    [InlineData(Mandatory + "80 08 04 00000001", 8)]        // COMMUNITIES not transitive (§3c)
    [InlineData(Mandatory + "40 07 08 0000FDE9 C0000201", 7)] // AGGREGATOR flagged well-known (§3c)
    [InlineData(AsPath + NextHop, 1)]                       // missing ORIGIN (§3d)
    [InlineData(Origin + NextHop, 2)]                       // missing AS_PATH (§3d)
    [InlineData(Origin + AsPath, 3)]                        // missing NEXT_HOP with IPv4 NLRI (§3d)
    [InlineData("40 01 02 0000" + AsPath + NextHop, 1)]     // ORIGIN length 2 (§7.1)
    [InlineData("40 01 01 03" + AsPath + NextHop, 1)]       // ORIGIN value 3 (§7.1)
    [InlineData(Origin + "40 02 06 05 01 0000FDE9" + NextHop, 2)] // AS_PATH segment type 5 (§7.2)
    [InlineData(Origin + "40 02 06 00 01 0000FDE9" + NextHop, 2)] // AS_PATH segment type 0 (§7.2)
    [InlineData(Origin + "40 02 02 02 00" + NextHop, 2)]          // zero-length segment (§7.2)
    [InlineData(Origin + "40 02 06 02 02 0000FDE9" + NextHop, 2)] // segment overruns (§7.2)
    [InlineData(Origin + "40 02 07 02 01 0000FDE9 02" + NextHop, 2)] // segment header cut (§7.2)
    [InlineData(Origin + "40 02 06 02 01 00000000" + NextHop, 2)] // AS 0 (RFC 7607)
    [InlineData(Origin + AsPath + "40 03 05 C612000100", 3)] // NEXT_HOP length 5 (§7.3)
    [InlineData(Origin + AsPath + "40 03 04 00000000", 3)]   // NEXT_HOP 0.0.0.0 (§7.3)
    [InlineData(Origin + AsPath + "40 03 04 7F000001", 3)]   // NEXT_HOP loopback (§7.3)
    [InlineData(Origin + AsPath + "40 03 04 E0000001", 3)]   // NEXT_HOP multicast (§7.3)
    [InlineData(Origin + AsPath + "40 03 04 FFFFFFFF", 3)]   // NEXT_HOP broadcast (§7.3)
    [InlineData(Mandatory + "80 04 03 000001", 4)]          // MED length 3 (§7.4)
    [InlineData(Mandatory + "C0 08 00", 8)]                 // COMMUNITIES length 0 (§7.8)
    [InlineData(Mandatory + "C0 08 05 0000000100", 8)]      // COMMUNITIES length 5 (§7.8)
    [InlineData(Mandatory + "C0 10 07 00000000000000", 16)] // EXTENDED_COMMUNITIES length 7 (§7.14)
    [InlineData(Mandatory + "C0 20 00", 32)]                // LARGE_COMMUNITIES length 0 (RFC 8092)
    [InlineData(Mandatory + "C0 20 0B 0000000000000000000000", 32)] // LARGE_COMMUNITIES length 11 (RFC 8092)
    public void Malformed_attribute_means_treat_as_withdraw_for_ebgp(string attributes, byte type)
    {
        AssertOutcome(Decode(attributes), type, AttributeErrorAction.TreatAsWithdraw);
    }

    [Theory]
    [InlineData(Mandatory, 5)]                                       // missing LOCAL_PREF on iBGP (§3d)
    [InlineData(Mandatory + "40 05 03 000064", 5)]                   // LOCAL_PREF length 3 (§7.5)
    [InlineData(Mandatory + LocalPref + "80 09 03 010203", 9)]       // ORIGINATOR_ID length 3 (§7.9)
    [InlineData(Mandatory + LocalPref + "80 0A 00", 10)]             // CLUSTER_LIST length 0 (§7.10)
    [InlineData(Mandatory + LocalPref + "80 0A 05 0102030405", 10)]  // CLUSTER_LIST length 5 (§7.10)
    public void Malformed_attribute_means_treat_as_withdraw_for_ibgp(string attributes, byte type)
    {
        AssertOutcome(Decode(attributes, context: Ibgp), type, AttributeErrorAction.TreatAsWithdraw);
    }

    // Attribute-discard rows.
    [Theory]
    [InlineData(Mandatory + "40 06 01 00", 6)]                    // ATOMIC_AGGREGATE length 1 (§7.6)
    [InlineData(Mandatory + "C0 07 07 00FDE9 C0000201", 7)]        // AGGREGATOR length 7 on a 4-octet session (§7.7)
    [InlineData(Mandatory + "C0 07 06 FDE9 C0000201", 7)]          // AGGREGATOR length 6 on a 4-octet session (§7.7)
    [InlineData(Mandatory + "C0 07 08 00000000 C0000201", 7)]      // AGGREGATOR AS 0 (RFC 7607)
    [InlineData(Mandatory + "C0 12 06 FDE9 C0000201", 18)]         // AS4_AGGREGATOR length 6 (RFC 6793)
    [InlineData(Mandatory + "C0 12 08 00000000 C0000201", 18)]     // AS4_AGGREGATOR AS 0 (RFC 7607)
    [InlineData(Mandatory + "C0 11 06 07 01 0000FDE9", 17)]        // AS4_PATH bad segment type (RFC 6793 §6)
    [InlineData(Mandatory + "C0 11 06 02 01 00000000", 17)]        // AS4_PATH with AS 0 (RFC 7607)
    [InlineData(Mandatory + "80 09 04 01020304", 9)]               // ORIGINATOR_ID from eBGP (§7.9)
    [InlineData(Mandatory + "80 0A 04 01020304", 10)]              // CLUSTER_LIST from eBGP (§7.10)
    [InlineData(Mandatory + LocalPref, 5)]                         // LOCAL_PREF from eBGP (§7.5)
    [InlineData(Mandatory + "40 01 01 01", 1)]                     // duplicate ORIGIN (§3g), the first one wins
    public void Attribute_discard_keeps_the_routes(string attributes, byte type)
    {
        var u = Decode(attributes);
        AssertOutcome(u, type, AttributeErrorAction.AttributeDiscard);
        Assert.False(u.TreatAsWithdraw);
        Assert.Equal(BgpOrigin.Igp, u.Origin);
        Assert.Single(u.Nlri);
    }

    [Fact]
    public void Aggregator_length_6_is_discarded_on_a_two_octet_session_only_when_wrong()
    {
        var twoOctet = new UpdateDecodeContext(false, false);
        var u = Decode(Origin + "40 02 04 02 01 FDE9" + NextHop + "C0 07 08 0000FDE9 C0000201", context: twoOctet);
        AssertOutcome(u, 7, AttributeErrorAction.AttributeDiscard);
    }

    [Fact]
    public void Unknown_optional_attributes_are_kept_with_their_flags()
    {
        var u = Decode(Mandatory + "E0 63 01 01" + "80 64 00");
        Assert.Empty(u.Errors);
        Assert.Equal([(0xE0, 0x63), (0x80, 0x64)], u.OtherAttributes.Select(a => ((int)a.Flags, (int)a.Type)));
    }

    [Fact]
    public void Next_hop_is_not_required_for_mp_reach_only()
    {
        var u = Decode(Origin + AsPath + MpReachV6, "");
        Assert.Empty(u.Errors);
        Assert.Equal([Wire.Net("2001:db8::/32")], u.MpReach!.Nlri);
    }

    [Fact]
    public void Next_hop_is_ignored_without_ipv4_nlri()
    {
        var u = Decode(Origin + AsPath + "40 03 04 00000000" + MpReachV6, "");
        Assert.Empty(u.Errors);
        Assert.Null(u.NextHop);
        Assert.Single(u.MpReach!.Nlri);
    }

    [Fact]
    public void Missing_origin_with_mp_reach_only_is_treat_as_withdraw()
    {
        AssertOutcome(Decode(AsPath + MpReachV6, ""), 1, AttributeErrorAction.TreatAsWithdraw);
    }

    [Fact]
    public void Ipv4_mp_reach_accepts_4_and_16_byte_next_hops_and_unknown_families_are_skipped()
    {
        var u = Decode(Origin + AsPath + "80 0E 0B 0001 01 04 C6120001 00 08 0A", "");
        Assert.Equal((IPAddress.Parse("198.18.0.1"), Wire.Net("10.0.0.0/8")), (u.MpReach!.NextHop, Assert.Single(u.MpReach.Nlri)));
        u = Decode(Origin + AsPath + "80 0E 17 0001 01 10 20010DB8000000000000000000000001 00 08 0A", "");
        Assert.Equal(IPAddress.Parse("2001:db8::1"), u.MpReach!.NextHop);
        u = Decode(Origin + AsPath + "80 0E 08 0001 80 02 AAAA 00 FF", ""); // AFI 1 SAFI 128 (VPN): not decoded
        Assert.Equal(new AfiSafi(Afi.IPv4, (Safi)128), u.MpReach!.Family);
        Assert.Empty(u.MpReach.Nlri);
    }

    [Fact]
    public void End_of_rib_for_ipv4_is_an_empty_update()
    {
        Assert.Equal(AfiSafi.IPv4Unicast, UpdateDecoder.Decode(Hex.Bytes("00000000"), Ebgp).EndOfRib);
    }

    [Fact]
    public void End_of_rib_for_a_family_is_an_update_with_only_an_empty_mp_unreach()
    {
        Assert.Equal(AfiSafi.IPv6Unicast, Decode("80 0F 03 0002 01", "").EndOfRib);
        Assert.Equal(AfiSafi.IPv6Unicast, Decode("90 0F 0003 0002 01", "").EndOfRib);
        Assert.Null(Decode(MpUnreachV6, "").EndOfRib);
        Assert.Null(Decode(Origin + "80 0F 03 0002 01", "").EndOfRib);
        Assert.Null(UpdateDecoder.Decode(Body("", "", "08 0A"), Ebgp).EndOfRib);
    }

    private static void AssertOutcome(UpdateMessage u, byte type, AttributeErrorAction action)
    {
        var error = Assert.Single(u.Errors);
        Assert.Equal((type, action), (error.Type, error.Action));
        Assert.False(string.IsNullOrEmpty(error.Reason));
        Assert.Equal(action == AttributeErrorAction.TreatAsWithdraw, u.TreatAsWithdraw);
    }
}
