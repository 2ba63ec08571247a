using BgpLb.Bgp.Wire;

namespace BgpLb.Bgp.Tests.Wire;

public class OpenCodecTests
{
    // Hand-assembled per RFC 4271 §4.2, RFC 5492, RFC 4760 §8, RFC 2918, RFC 6793:
    // version 4, My AS 65001, hold 180, id 192.0.2.1, one Capabilities parameter (type 2, 20 bytes):
    // MP IPv4/unicast, MP IPv6/unicast, Route Refresh, 4-octet AS 65001.
    public const string GoldenOpenHex = Hex.Marker + "0033 01" + "04 FDE9 00B4 C0000201 16" + "02 14"
        + "01 04 0001 00 01" + "01 04 0002 00 01" + "02 00" + "41 04 0000FDE9";

    private static readonly OpenMessage GoldenOpen = new(4, 65001, 180, 0xC0000201, new BgpCapabilities
    {
        Multiprotocol = [AfiSafi.IPv4Unicast, AfiSafi.IPv6Unicast],
        RouteRefresh = true,
        FourOctetAs = 65001,
    });

    [Fact]
    public void Writer_matches_golden_bytes()
    {
        Assert.Equal(Hex.Of(Hex.Bytes(GoldenOpenHex)), Hex.Of(Wire.Write(w => OpenCodec.Write(w, GoldenOpen))));
    }

    [Fact]
    public void Reader_decodes_golden_bytes()
    {
        var open = OpenCodec.Read(Wire.Body(Hex.Bytes(GoldenOpenHex)));
        Assert.Equal((4, (ushort)65001, (ushort)180, 0xC0000201u), (open.Version, open.MyAs, open.HoldTime, open.BgpId));
        Assert.Equal("192.0.2.1", open.BgpIdAddress.ToString());
        Assert.Equal([AfiSafi.IPv4Unicast, AfiSafi.IPv6Unicast], open.Capabilities.Multiprotocol);
        Assert.True(open.Capabilities.RouteRefresh);
        Assert.False(open.Capabilities.EnhancedRouteRefresh);
        Assert.False(open.Capabilities.ExtendedMessage);
        Assert.Equal(65001u, open.Capabilities.FourOctetAs);
        Assert.Null(open.Capabilities.GracefulRestart);
    }

    [Fact]
    public void Reads_a_real_router_open_without_four_octet_as()
    {
        // Arista EOS 4.13.10M OPEN, bytes from metallb/metallb internal/bgp/native/messages_test.go (Apache-2.0):
        // AS 65001, hold 180, MP IPv4/unicast, Route Refresh, Graceful Restart (restart time 180, no families).
        var message = Hex.Bytes(Hex.Marker + "002B 01 04 FDE9 00B4 B9ECF040 0E 02 0C 01 04 0001 0001 0200 4002 00B4");
        var buffer = new System.Buffers.ReadOnlySequence<byte>(message);
        Assert.True(BgpFraming.TryReadMessage(ref buffer, 4096, out var type, out var body));
        Assert.Equal(BgpMessageType.Open, type);
        var open = OpenCodec.Read(body);
        Assert.Equal((65001, 180, "185.236.240.64"), (open.MyAs, open.HoldTime, open.BgpIdAddress.ToString()));
        Assert.Null(open.Capabilities.FourOctetAs);
        Assert.Equal([AfiSafi.IPv4Unicast], open.Capabilities.Multiprotocol);
        Assert.True(open.Capabilities.RouteRefresh);
        Assert.Equal((0, 180), (open.Capabilities.GracefulRestart!.Flags, open.Capabilities.GracefulRestart.RestartTime));
        Assert.Empty(open.Capabilities.GracefulRestart.Families);

        var negotiated = OpenNegotiation.Negotiate(open, new LocalOpenPolicy
        {
            LocalAs = 64513, PeerAs = 65001, BgpId = 0xC6120002, HoldTime = 90, Families = [AfiSafi.IPv4Unicast, AfiSafi.IPv6Unicast],
        });
        Assert.False(negotiated.FourOctetAs);
        Assert.Equal([AfiSafi.IPv4Unicast], negotiated.Families);
    }

    [Fact]
    public void Reads_every_known_capability_and_keeps_unknown_ones()
    {
        // Each capability in its own parameter, as GoBGP sends them.
        var caps = new[]
        {
            "02 00",                                  // route refresh
            "46 00",                                  // enhanced route refresh
            "06 00",                                  // extended message
            "40 0A C078 0001 01 80 0002 01 00",       // GR: R+N flags (0xC), 120 s; v4 F-bit, v6
            "49 0B 04 6E6F6465 05 6C6F63616C",        // FQDN "node" "local"
            "41 04 0001 0000",                        // AS4 65536
            "80 02 ABCD",                             // unknown 128
        };
        var parameters = string.Concat(caps.Select(c => $"02{Hex.Bytes(c).Length:X2}{c.Replace(" ", "", StringComparison.Ordinal)}"));
        var body = Hex.Bytes($"04 5BA0 005A 0A000001 {Hex.Bytes(parameters).Length:X2}" + parameters);

        var c = OpenCodec.Read(body).Capabilities;
        Assert.True(c.RouteRefresh && c.EnhancedRouteRefresh && c.ExtendedMessage);
        Assert.Equal(65536u, c.FourOctetAs);
        Assert.Equal(0xC, c.GracefulRestart!.Flags);
        Assert.Equal(120, c.GracefulRestart.RestartTime);
        Assert.Equal([new GracefulRestartFamily(AfiSafi.IPv4Unicast, 0x80), new GracefulRestartFamily(AfiSafi.IPv6Unicast, 0)], c.GracefulRestart.Families);
        Assert.Equal(("node", "local"), (c.HostName, c.DomainName));
        var unknown = Assert.Single(c.Unknown);
        Assert.Equal((128, "ABCD"), (unknown.Code, Hex.Of(unknown.Value)));
    }

    [Fact]
    public void Reads_rfc9072_extended_optional_parameters()
    {
        // Non-Ext OP Len 255, Non-Ext OP Type 255, Extended Opt. Parm. Length 0x000A, then type(1) length(2) value.
        var body = Hex.Bytes("04 FDE9 00B4 C0000201 FF FF 000B 02 0008 0200 4104 0000FDE9");
        var open = OpenCodec.Read(body);
        Assert.True(open.Capabilities.RouteRefresh);
        Assert.Equal(65001u, open.Capabilities.FourOctetAs);
    }

    [Fact]
    public void Writer_switches_to_rfc9072_form_when_capabilities_exceed_255_bytes()
    {
        var open = GoldenOpen with
        {
            Capabilities = GoldenOpen.Capabilities with { Unknown = [new UnknownCapability(200, new byte[250])] },
        };
        var bytes = Wire.Write(w => OpenCodec.Write(w, open));
        // caps = 20 + 252 = 272 bytes; parameter = 3 + 272 = 275 = 0x0113
        Assert.Equal("FFFF0113020110", Hex.Of(bytes.AsSpan(28, 7)));
        Assert.Equal(19 + 9 + 4 + 275, bytes.Length);
        var read = OpenCodec.Read(Wire.Body(bytes));
        Assert.Equal(250, Assert.Single(read.Capabilities.Unknown).Value.Length);
        Assert.Equal(65001u, read.Capabilities.FourOctetAs);
    }

    // RFC 4724 §3: code 64, then Restart Flags (4 bits) and Restart Time (12 bits) in one 2-octet field, then per family
    // AFI (2), SAFI (1) and Flags for Address Family (Forwarding State 0x80).
    [Theory]
    [InlineData(0x8, 120, true, "40 0A 8078 0001 01 80 0002 01 80")]
    [InlineData(0x0, 120, false, "40 02 0078")]
    [InlineData(0x8, 4095, false, "40 02 8FFF")]
    [InlineData(0xC, 1, true, "40 0A C001 0001 01 80 0002 01 80")]
    public void Graceful_restart_writer_packs_flags_and_restart_time_as_rfc4724_says(byte flags, ushort restartTime, bool families, string capability)
    {
        var gr = new GracefulRestartCapability(flags, restartTime, families
            ? [new GracefulRestartFamily(AfiSafi.IPv4Unicast, 0x80), new GracefulRestartFamily(AfiSafi.IPv6Unicast, 0x80)]
            : []);
        var length = Hex.Bytes(capability).Length;
        var expected = Hex.Marker + $"{19 + 10 + 2 + length:X4} 01" + $"04 FDE9 00B4 C0000201 {2 + length:X2} 02 {length:X2}" + capability;

        var bytes = Wire.Write(w => OpenCodec.Write(w, new OpenMessage(4, 65001, 180, 0xC0000201, new BgpCapabilities { GracefulRestart = gr })));

        Assert.Equal(Hex.Of(Hex.Bytes(expected)), Hex.Of(bytes));
        var read = OpenCodec.Read(Wire.Body(bytes)).Capabilities.GracefulRestart!;
        Assert.Equal((flags, restartTime), (read.Flags, read.RestartTime));
        Assert.Equal(gr.Families, read.Families);
    }

    [Theory]
    [InlineData(0x10, 120)]
    [InlineData(0x8, 4096)]
    public void Graceful_restart_writer_rejects_flags_or_restart_time_wider_than_their_fields(byte flags, ushort restartTime)
    {
        var open = new OpenMessage(4, 65001, 180, 0xC0000201, new BgpCapabilities { GracefulRestart = new GracefulRestartCapability(flags, restartTime, []) });
        Assert.Throws<ArgumentException>(() => Wire.Write(w => OpenCodec.Write(w, open)));
    }

    [Fact]
    public void Writes_no_optional_parameters_when_there_are_no_capabilities()
    {
        var bytes = Wire.Write(w => OpenCodec.Write(w, new OpenMessage(4, 1, 0, 1, BgpCapabilities.None)));
        Assert.Equal(Hex.Marker + "001D01" + "04000100000000000100", Hex.Of(bytes));
    }

    [Fact]
    public void As_trans_in_my_as_field_for_four_octet_as()
    {
        Assert.Equal(23456, OpenCodec.MyAsField(65536));
        Assert.Equal(65535, OpenCodec.MyAsField(65535));
        var open = new LocalOpenPolicy { LocalAs = 4200000000, BgpId = 1, HoldTime = 90, Families = [AfiSafi.IPv4Unicast] }.ToOpenMessage();
        Assert.Equal(23456, open.MyAs);
        Assert.Equal(4200000000u, open.Capabilities.FourOctetAs);
    }

    [Theory]
    [InlineData("03")]
    [InlineData("05")]
    [InlineData("00")]
    public void Version_other_than_4_is_2_1_with_data_0004(string version)
    {
        var body = Hex.Bytes(version + "FDE9 00B4 C0000201 00");
        Wire.AssertError(Wire.Throws(() => OpenCodec.Read(body)), BgpErrorCode.Open, 1, "0004");
    }

    [Theory]
    [InlineData("01")]                      // optional length longer than the body
    [InlineData("02 02")]                   // optional length longer than what follows
    [InlineData("03 02 02 00 00")]          // optional length shorter than the body
    [InlineData("01 02")]                   // parameter header cut
    [InlineData("04 02 03 02 00")]          // parameter length overruns optional parameters
    [InlineData("04 02 02 02 01")]          // capability length overruns parameter
    [InlineData("03 02 01 02")]             // capability header cut
    [InlineData("07 02 05 01 04 00 01 00")] // MP capability value overruns parameter
    [InlineData("07 02 05 01 03 0001 01")]  // MP capability length 3
    [InlineData("07 02 05 41 04 0000 FD")]  // AS4 value overruns
    [InlineData("07 02 05 41 03 00FDE9")]   // AS4 length 3
    [InlineData("07 02 05 40 03 000000")]   // GR length not 2 + 4n
    [InlineData("05 02 03 40 01 00")]       // GR length 1
    [InlineData("07 02 05 49 03 05 6E 00")] // FQDN host length overruns
    [InlineData("FF FF 00")]                // RFC 9072 header cut
    [InlineData("FF FF 0005 02 0001 00")]   // RFC 9072 length inconsistent
    [InlineData("FF FF 0004 02 0002 00")]   // RFC 9072 parameter overrun
    public void Malformed_optional_parameters_are_2_0(string optional)
    {
        var body = Hex.Bytes("04 FDE9 00B4 C0000201 " + optional);
        Wire.AssertError(Wire.Throws(() => OpenCodec.Read(body)), BgpErrorCode.Open, 0);
    }

    [Theory]
    [InlineData("03 01 01 00")]       // authentication (deprecated)
    [InlineData("02 03 00")]          // type 3
    [InlineData("FF FF 0003 01 0000")] // RFC 9072 form, type 1
    public void Unknown_optional_parameter_is_2_4(string optional)
    {
        var body = Hex.Bytes("04 FDE9 00B4 C0000201 " + optional);
        Wire.AssertError(Wire.Throws(() => OpenCodec.Read(body)), BgpErrorCode.Open, 4);
    }

    [Fact]
    public void Reads_from_multi_segment_sequence()
    {
        var body = Wire.Body(Hex.Bytes(GoldenOpenHex));
        for (var cut = 1; cut < body.Length; cut++)
        {
            Assert.Equal(65001u, OpenCodec.Read(Wire.Segmented(body, cut)).Capabilities.FourOctetAs);
        }
    }

    [Fact]
    public void Fqdn_capability_is_truncated_to_64_bytes_each()
    {
        var open = GoldenOpen with { Capabilities = BgpCapabilities.None with { HostName = new string('h', 70) + "é", DomainName = "d" } };
        var read = OpenCodec.Read(Wire.Body(Wire.Write(w => OpenCodec.Write(w, open))));
        Assert.Equal(new string('h', 64), read.Capabilities.HostName);
        Assert.Equal("d", read.Capabilities.DomainName);
    }
}
