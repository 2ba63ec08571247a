using System.Text;
using BgpLb.Bgp.Wire;

namespace BgpLb.Bgp.Tests.Wire;

public class NotificationTests
{
    // RFC 4271 §4.5 + RFC 9003 §2: Cease (6), Administrative Shutdown (2), length 3, "bye".
    public const string GoldenCeaseHex = Hex.Marker + "0019 03" + "06 02 03 627965";

    [Fact]
    public void Shutdown_writer_matches_golden_bytes()
    {
        Assert.Equal(Hex.Of(Hex.Bytes(GoldenCeaseHex)), Hex.Of(Wire.Write(w => NotificationCodec.WriteShutdown(w, CeaseSubcode.AdministrativeShutdown, "bye"))));
    }

    [Fact]
    public void Reader_decodes_golden_bytes_with_communication()
    {
        var n = NotificationCodec.Read(Wire.Body(Hex.Bytes(GoldenCeaseHex)));
        Assert.Equal((BgpErrorCode.Cease, (byte)2, "03627965"), (n.Code, n.Subcode, Hex.Of(n.Data.Span)));
        Assert.Equal("bye", n.ShutdownCommunication);
    }

    [Fact]
    public void Writes_code_subcode_and_data()
    {
        var bytes = Wire.Write(w => NotificationCodec.Write(w, BgpErrorCode.MessageHeader, 2, Hex.Bytes("1001")));
        Assert.Equal(Hex.Marker + "0017030102" + "1001", Hex.Of(bytes));
        bytes = Wire.Write(w => NotificationCodec.Write(w, new BgpNotificationException(BgpErrorCode.HoldTimerExpired, 0).ToNotification()));
        Assert.Equal(Hex.Marker + "0015030400", Hex.Of(bytes));
    }

    [Fact]
    public void Data_is_cut_to_the_message_limit()
    {
        var bytes = Wire.Write(w => NotificationCodec.Write(w, BgpErrorCode.Update, 2, new byte[5000]));
        Assert.Equal(4096, bytes.Length);
        Assert.Equal("1000", Hex.Of(bytes.AsSpan(16, 2)));
    }

    [Fact]
    public void Empty_communication_sends_no_data()
    {
        var bytes = Wire.Write(w => NotificationCodec.WriteShutdown(w, CeaseSubcode.AdministrativeReset, null));
        Assert.Equal(Hex.Marker + "0015030604", Hex.Of(bytes));
        Assert.Null(NotificationCodec.Read(Wire.Body(bytes)).ShutdownCommunication);
    }

    [Fact]
    public void Communication_is_truncated_to_255_bytes_on_a_character_boundary()
    {
        // 254 ASCII bytes then a 3-byte character: only 254 bytes fit without splitting it.
        var text = new string('a', 254) + "€";
        var bytes = Wire.Write(w => NotificationCodec.WriteShutdown(w, CeaseSubcode.AdministrativeShutdown, text));
        Assert.Equal(21 + 1 + 254, bytes.Length);
        Assert.Equal(254, bytes[21]);
        Assert.Equal(new string('a', 254), NotificationCodec.Read(Wire.Body(bytes)).ShutdownCommunication);

        var exact = new string('b', 252) + "€";
        var read = NotificationCodec.Read(Wire.Body(Wire.Write(w => NotificationCodec.WriteShutdown(w, CeaseSubcode.AdministrativeShutdown, exact))));
        Assert.Equal(exact, read.ShutdownCommunication);
    }

    [Fact]
    public void Shutdown_writer_rejects_other_subcodes()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Wire.Write(w => NotificationCodec.WriteShutdown(w, CeaseSubcode.PeerDeconfigured, "x")));
    }

    [Theory]
    [InlineData("0602", null)]              // no data
    [InlineData("060200", null)]            // zero length
    [InlineData("06020568", null)]          // length overruns data
    [InlineData("060202FFFE", null)]        // invalid UTF-8
    [InlineData("0604026869", "hi")]        // administrative reset
    [InlineData("06040268697A7A", "hi")]    // trailing bytes after the communication are ignored
    [InlineData("0603026869", null)]        // other Cease subcodes carry no communication
    [InlineData("0202026869", null)]        // other codes carry no communication
    public void Bad_communication_data_is_tolerated(string body, string? expected)
    {
        Assert.Equal(expected, NotificationCodec.Read(Hex.Bytes(body)).ShutdownCommunication);
    }

    [Fact]
    public void Reads_from_multi_segment_sequence_and_copies_data()
    {
        var body = Hex.Bytes("0602 03 627965");
        var n = NotificationCodec.Read(Wire.Segmented(body, 1, 3, 5));
        body[3] = 0;
        Assert.Equal("bye", n.ShutdownCommunication);
        Assert.Equal("bye", Encoding.UTF8.GetString(n.Data.Span[1..]));
    }
}

public class RouteRefreshTests
{
    // RFC 2918 §3: AFI 2 (IPv6), Reserved 0, SAFI 1.
    public const string GoldenHex = Hex.Marker + "0017 05" + "0002 00 01";

    [Fact]
    public void Writer_matches_golden_bytes()
    {
        Assert.Equal(Hex.Of(Hex.Bytes(GoldenHex)), Hex.Of(Wire.Write(w => RouteRefreshCodec.Write(w, new RouteRefreshMessage(AfiSafi.IPv6Unicast, RouteRefreshSubtype.Normal)))));
    }

    [Theory]
    [InlineData("0001 00 01", 0)]
    [InlineData("0001 01 01", 1)]
    [InlineData("0002 02 01", 2)]
    public void Reads_subtypes(string body, byte subtype)
    {
        var m = RouteRefreshCodec.Read(Hex.Bytes(body));
        Assert.Equal((RouteRefreshSubtype)subtype, m.Subtype);
        Assert.True(m.IsKnownSubtype);
        Assert.Equal(m, RouteRefreshCodec.Read(Wire.Body(Wire.Write(w => RouteRefreshCodec.Write(w, m)))));
    }

    [Fact]
    public void Unknown_subtype_is_passed_up_to_be_ignored()
    {
        Assert.False(RouteRefreshCodec.Read(Hex.Bytes("0001 03 01 AABB")).IsKnownSubtype);
    }

    [Fact]
    public void Normal_refresh_with_trailing_orf_data_is_accepted()
    {
        Assert.Equal(AfiSafi.IPv4Unicast, RouteRefreshCodec.Read(Hex.Bytes("0001 00 01 01 0000")).Family);
    }

    [Theory]
    [InlineData("0001 01 01 00")]
    [InlineData("0001 02 01 0000")]
    public void Borr_or_eorr_with_wrong_length_is_7_1_with_whole_message(string body)
    {
        var bytes = Hex.Bytes(body);
        var e = Wire.Throws(() => RouteRefreshCodec.Read(bytes));
        Wire.AssertError(e, BgpErrorCode.RouteRefresh, 1, Hex.Of(Wire.Message(BgpMessageType.RouteRefresh, bytes)));
        Assert.Equal($"{Hex.Marker}{19 + bytes.Length:X4}05{body.Replace(" ", "", StringComparison.Ordinal)}", Hex.Of(e.NotificationData.Span));
    }
}
