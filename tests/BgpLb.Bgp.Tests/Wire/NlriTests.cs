using System.Net.Sockets;
using BgpLb.Bgp.Wire;

namespace BgpLb.Bgp.Tests.Wire;

public class NlriTests
{
    [Theory]
    [InlineData("00", 4, "0.0.0.0/0", 1)]
    [InlineData("08 0A FF", 4, "10.0.0.0/8", 2)]
    [InlineData("09 0A FF", 4, "10.128.0.0/9", 3)]         // trailing bits of the last octet are masked
    [InlineData("20 CB007101", 4, "203.0.113.1/32", 5)]
    [InlineData("1F CB007101", 4, "203.0.113.0/31", 5)]
    [InlineData("30 20010DB80001", 6, "2001:db8:1::/48", 7)]
    [InlineData("41 20010DB8000000008F", 6, "2001:db8::8000:0:0:0/65", 10)]
    [InlineData("80 20010DB8000000000000000000000001", 6, "2001:db8::1/128", 17)]
    public void Decodes_prefix_and_reports_bytes_consumed(string hex, int version, string expected, int consumed)
    {
        var family = version == 4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
        Assert.True(Nlri.TryDecode(Hex.Bytes(hex), family, out var prefix, out var used));
        Assert.Equal((Wire.Net(expected), consumed), (prefix, used));
    }

    [Theory]
    [InlineData("", 4)]
    [InlineData("21 0A000000 00", 4)]     // /33
    [InlineData("20 0A0000", 4)]          // octets run out
    [InlineData("01", 4)]                 // /1 without its octet
    [InlineData("81 20010DB8000000000000000000000001 00", 6)] // /129
    [InlineData("80 20010DB8", 6)]        // octets run out
    public void Rejects_bad_prefix_length_and_overrun(string hex, int version)
    {
        var family = version == 4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
        Assert.False(Nlri.TryDecode(Hex.Bytes(hex), family, out _, out var consumed));
        Assert.Equal(0, consumed);
    }

    [Theory]
    [InlineData("0.0.0.0/0", "00")]
    [InlineData("10.128.0.0/9", "090A80")]
    [InlineData("203.0.113.1/32", "20CB007101")]
    [InlineData("2001:db8::/32", "2020010DB8")]
    public void Writes_the_fewest_octets(string prefix, string hex)
    {
        var destination = new byte[17];
        var written = Nlri.Write(destination, Wire.Net(prefix));
        Assert.Equal(hex, Hex.Of(destination.AsSpan(0, written)));
        Assert.Equal(written, Nlri.GetEncodedLength(Wire.Net(prefix)));
    }
}

public class WireIntTests
{
    [Theory]
    [InlineData("000000", 0u)]
    [InlineData("000102", 0x102u)]
    [InlineData("ABCDEF", 0xABCDEFu)]
    [InlineData("FFFFFF", 0xFFFFFFu)]
    public void UInt24_round_trips_big_endian(string hex, uint value)
    {
        Assert.Equal(value, WireInt.ReadUInt24(Hex.Bytes(hex + "99")));
        var destination = new byte[4];
        WireInt.WriteUInt24(destination, value);
        Assert.Equal(hex + "00", Hex.Of(destination));
    }

    [Fact]
    public void UInt24_rejects_values_above_24_bits()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => WireInt.WriteUInt24(new byte[3], 0x1000000));
    }
}
