using System.Buffers;
using BgpLb.Bgp.Wire;

namespace BgpLb.Bgp.Tests.Wire;

public class FramingTests
{
    private static readonly byte[] Keepalive = Hex.Bytes(Hex.Marker + "0013 04");

    private static bool Read(byte[] data, int maxLength, out BgpMessageType type, out byte[] body, out long remaining)
    {
        var buffer = new ReadOnlySequence<byte>(data);
        var ok = BgpFraming.TryReadMessage(ref buffer, maxLength, out type, out var b);
        body = b.ToArray();
        remaining = buffer.Length;
        return ok;
    }

    [Fact]
    public void Keepalive_writer_matches_rfc_layout()
    {
        Assert.Equal(Keepalive, Wire.Write(KeepaliveCodec.Write));
    }

    [Fact]
    public void Reads_keepalive_and_slices_buffer_past_it()
    {
        var data = Keepalive.Concat(Keepalive).Concat(new byte[] { 0xFF }).ToArray();
        Assert.True(Read(data, 4096, out var type, out var body, out var remaining));
        Assert.Equal(BgpMessageType.Keepalive, type);
        Assert.Empty(body);
        Assert.Equal(20, remaining);
    }

    [Fact]
    public void Incomplete_header_or_body_returns_false_and_keeps_buffer()
    {
        var open = Hex.Bytes(OpenCodecTests.GoldenOpenHex);
        for (var n = 0; n < open.Length; n++)
        {
            var buffer = new ReadOnlySequence<byte>(open, 0, n);
            Assert.False(BgpFraming.TryReadMessage(ref buffer, 4096, out _, out _));
            Assert.Equal(n, buffer.Length);
        }
    }

    [Fact]
    public void Bad_marker_is_1_1_even_before_the_body_arrives()
    {
        var header = Hex.Bytes(Hex.Marker + "0100 02");
        for (var i = 0; i < 16; i++)
        {
            var bad = (byte[])header.Clone();
            bad[i] = 0xFE;
            Wire.AssertError(Wire.Throws(() => Read(bad, 4096, out _, out _, out _)), BgpErrorCode.MessageHeader, 1);
        }
    }

    [Theory]
    [InlineData("0000", 4096)]
    [InlineData("0012", 4096)]
    [InlineData("1001", 4096)]
    [InlineData("FFFF", 4096)]
    public void Length_out_of_range_is_1_2_with_length_as_data(string length, int maxLength)
    {
        var header = Hex.Bytes(Hex.Marker + length + "02");
        var e = Wire.Throws(() => Read(header, maxLength, out _, out _, out _));
        Wire.AssertError(e, BgpErrorCode.MessageHeader, 2, length);
    }

    [Theory]
    [InlineData(1, 28)]
    [InlineData(1, 4097)]
    [InlineData(2, 22)]
    [InlineData(3, 20)]
    [InlineData(4, 20)]
    [InlineData(4, 23)]
    [InlineData(5, 22)]
    public void Per_type_length_violation_is_1_2(byte type, int length)
    {
        var header = Hex.Bytes($"{Hex.Marker}{length:X4}{type:X2}");
        var e = Wire.Throws(() => Read(header, 65535, out _, out _, out _));
        Wire.AssertError(e, BgpErrorCode.MessageHeader, 2, $"{length:X4}");
    }

    [Theory]
    [InlineData(1, 29)]
    [InlineData(1, 4096)]
    [InlineData(2, 23)]
    [InlineData(2, 65535)]
    [InlineData(3, 21)]
    [InlineData(3, 65535)]
    [InlineData(4, 19)]
    [InlineData(5, 23)]
    [InlineData(5, 65535)]
    public void Per_type_boundary_lengths_are_accepted(byte type, int length)
    {
        var message = new byte[length];
        BgpConstants.WriteHeader(message, length, (BgpMessageType)type);
        Assert.True(Read(message, 65535, out var read, out var body, out _));
        Assert.Equal((BgpMessageType)type, read);
        Assert.Equal(length - 19, body.Length);
    }

    [Fact]
    public void Update_above_4096_is_accepted_only_with_extended_messages()
    {
        var message = new byte[4097];
        BgpConstants.WriteHeader(message, 4097, BgpMessageType.Update);
        Assert.True(Read(message, 65535, out _, out _, out _));
        Wire.AssertError(Wire.Throws(() => Read(message, 4096, out _, out _, out _)), BgpErrorCode.MessageHeader, 2, "1001");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(6)]
    [InlineData(255)]
    public void Unknown_type_is_1_3_with_type_as_data(byte type)
    {
        var header = Hex.Bytes($"{Hex.Marker}0013{type:X2}");
        Wire.AssertError(Wire.Throws(() => Read(header, 4096, out _, out _, out _)), BgpErrorCode.MessageHeader, 3, $"{type:X2}");
    }

    [Fact]
    public void Stream_split_at_every_offset_yields_the_same_messages()
    {
        var messages = new[]
        {
            Hex.Bytes(OpenCodecTests.GoldenOpenHex),
            Keepalive,
            Hex.Bytes(UpdateWriterTests.GoldenIPv4UpdateHex),
            Hex.Bytes(NotificationTests.GoldenCeaseHex),
            Hex.Bytes(RouteRefreshTests.GoldenHex),
        };
        var stream = messages.SelectMany(m => m).ToArray();
        for (var cut = 0; cut <= stream.Length; cut++)
        {
            for (var cut2 = cut; cut2 <= stream.Length; cut2 += 7)
            {
                Assert.Equal(messages.Select(m => Hex.Of(m)), ReadAll(Wire.Segmented(stream, cut, cut2)));
            }
        }
    }

    [Fact]
    public void Stream_fed_in_two_reads_at_every_offset_yields_the_same_messages()
    {
        var messages = new[] { Hex.Bytes(OpenCodecTests.GoldenOpenHex), Keepalive, Hex.Bytes(UpdateWriterTests.GoldenIPv4UpdateHex) };
        var stream = messages.SelectMany(m => m).ToArray();
        for (var cut = 0; cut <= stream.Length; cut++)
        {
            // First read sees only the first `cut` bytes, as from a pipe; the unconsumed rest is retried with all bytes.
            var seen = new List<string>();
            var first = new ReadOnlySequence<byte>(stream, 0, cut);
            while (BgpFraming.TryReadMessage(ref first, 4096, out var type, out var body))
            {
                seen.Add(Hex.Of(Wire.Message(type, body.ToArray())));
            }

            var consumed = cut - (int)first.Length;
            seen.AddRange(ReadAll(new ReadOnlySequence<byte>(stream, consumed, stream.Length - consumed)));
            Assert.Equal(messages.Select(m => Hex.Of(m)), seen);
        }
    }

    private static List<string> ReadAll(ReadOnlySequence<byte> buffer)
    {
        var result = new List<string>();
        while (BgpFraming.TryReadMessage(ref buffer, 4096, out var type, out var body))
        {
            result.Add(Hex.Of(Wire.Message(type, body.ToArray())));
        }

        Assert.Equal(0, buffer.Length);
        return result;
    }
}
