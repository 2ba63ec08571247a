using System.Buffers;
using BgpLb.Bgp.Bfd;
using CsCheck;

namespace BgpLb.Bgp.Tests.Bfd;

public class BfdControlPacketTests
{
    private static readonly Gen<BfdControlPacket> GenPacket =
        Gen.Select(Gen.Int[0, 8], Gen.Int[0, 3], Gen.Int[0, 15], Gen.Byte[1, 255], Gen.UInt[1, uint.MaxValue], Gen.UInt,
            Gen.Select(Gen.UInt, Gen.UInt, Gen.UInt))
        .Select((diagnostic, state, flags, multiplier, my, your, intervals) => new BfdControlPacket
        {
            Diagnostic = (BfdDiagnostic)diagnostic,
            State = (BfdState)state,
            // P and F together are never sent, but the codec carries whatever the bits say.
            Poll = (flags & 1) != 0,
            Final = (flags & 2) != 0,
            ControlPlaneIndependent = (flags & 4) != 0,
            Demand = (flags & 8) != 0,
            DetectMultiplier = multiplier,
            MyDiscriminator = my,
            // A zero Your Discriminator is valid only in Down and AdminDown.
            YourDiscriminator = your == 0 && state >= 2 ? 1 : your,
            DesiredMinTxInterval = intervals.Item1,
            RequiredMinRxInterval = intervals.Item2,
            RequiredMinEchoRxInterval = intervals.Item3,
        });

    private static byte[] Bytes(BfdControlPacket packet)
    {
        var buffer = new ArrayBufferWriter<byte>();
        packet.Write(buffer);
        return buffer.WrittenSpan.ToArray();
    }

    [Fact]
    public void Every_field_round_trips()
    {
        GenPacket.Sample(packet =>
        {
            var bytes = Bytes(packet);
            Assert.Equal(BfdControlPacket.Length, bytes.Length);
            Assert.True(BfdControlPacket.TryRead(bytes, out var read, out var reason), reason.ToString());
            Assert.Equal(packet, read);
        });
    }

    [Fact]
    public void Fields_sit_where_RFC_5880_puts_them()
    {
        // Version 1, diag 3; Up, P and D bits; mult 3; length 24; discriminators 0x01020304 / 0x0a0b0c0d; 300 ms, 100 ms, 50 ms.
        byte[] wire =
        [
            0x23, 0xE2, 0x03, 0x18,
            0x01, 0x02, 0x03, 0x04,
            0x0A, 0x0B, 0x0C, 0x0D,
            0x00, 0x04, 0x93, 0xE0,
            0x00, 0x01, 0x86, 0xA0,
            0x00, 0x00, 0xC3, 0x50,
        ];
        Assert.True(BfdControlPacket.TryRead(wire, out var packet, out _));
        Assert.Equal(new BfdControlPacket
        {
            Diagnostic = BfdDiagnostic.NeighborSignaledSessionDown,
            State = BfdState.Up,
            Poll = true,
            Demand = true,
            DetectMultiplier = 3,
            MyDiscriminator = 0x01020304,
            YourDiscriminator = 0x0A0B0C0D,
            DesiredMinTxInterval = 300_000,
            RequiredMinRxInterval = 100_000,
            RequiredMinEchoRxInterval = 50_000,
        }, packet);
        Assert.Equal(wire, Bytes(packet));
    }

    private static byte[] Valid() => Bytes(new BfdControlPacket
    {
        State = BfdState.Up,
        DetectMultiplier = 3,
        MyDiscriminator = 7,
        YourDiscriminator = 9,
        DesiredMinTxInterval = 300_000,
        RequiredMinRxInterval = 300_000,
    });

    public static TheoryData<string, byte[], BfdDiscardReason> Malformed()
    {
        byte[] With(Action<byte[]> change)
        {
            var bytes = Valid();
            change(bytes);
            return bytes;
        }
        return new()
        {
            { "empty", [], BfdDiscardReason.TooShort },
            { "23 bytes", Valid()[..23], BfdDiscardReason.TooShort },
            { "version 0", With(b => b[0] &= 0x1F), BfdDiscardReason.BadVersion },
            { "version 2", With(b => b[0] = (byte)((b[0] & 0x1F) | 0x40)), BfdDiscardReason.BadVersion },
            { "version 7", With(b => b[0] |= 0xE0), BfdDiscardReason.BadVersion },
            { "length 23", With(b => b[3] = 23), BfdDiscardReason.BadLength },
            { "length 0", With(b => b[3] = 0), BfdDiscardReason.BadLength },
            { "length beyond the datagram", With(b => b[3] = 25), BfdDiscardReason.BadLength },
            { "detect multiplier 0", With(b => b[2] = 0), BfdDiscardReason.ZeroDetectMultiplier },
            { "multipoint", With(b => b[1] |= 0x01), BfdDiscardReason.Multipoint },
            { "my discriminator 0", With(b => b.AsSpan(4, 4).Clear()), BfdDiscardReason.ZeroMyDiscriminator },
            { "your discriminator 0 in Up", With(b => b.AsSpan(8, 4).Clear()), BfdDiscardReason.ZeroYourDiscriminatorNotDown },
            { "your discriminator 0 in Init", With(b => { b.AsSpan(8, 4).Clear(); b[1] = (byte)((b[1] & 0x3F) | 0x80); }), BfdDiscardReason.ZeroYourDiscriminatorNotDown },
            { "authenticated", With(b => b[1] |= 0x04), BfdDiscardReason.Authenticated },
        };
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_packets_are_discarded_with_the_reason(string what, byte[] datagram, BfdDiscardReason expected)
    {
        Assert.False(BfdControlPacket.TryRead(datagram, out _, out var reason), what);
        Assert.Equal(expected, reason);
    }

    [Theory]
    [InlineData(BfdState.Down)]
    [InlineData(BfdState.AdminDown)]
    public void A_zero_your_discriminator_is_valid_while_down(BfdState state)
    {
        var bytes = Valid();
        bytes.AsSpan(8, 4).Clear();
        bytes[1] = (byte)((bytes[1] & 0x3F) | ((byte)state << 6));
        Assert.True(BfdControlPacket.TryRead(bytes, out var packet, out _));
        Assert.Equal(state, packet.State);
        Assert.Equal(0u, packet.YourDiscriminator);
    }

    [Fact]
    public void Bytes_after_the_packet_are_ignored()
    {
        byte[] padded = [.. Valid(), 0xAA, 0xBB];
        Assert.True(BfdControlPacket.TryRead(padded, out var packet, out _));
        Assert.True(BfdControlPacket.TryRead(Valid(), out var plain, out _));
        Assert.Equal(plain, packet);
    }

    [Fact]
    public void Random_datagrams_are_read_or_discarded_never_thrown_and_what_is_read_writes_back()
    {
        Gen.Byte.Array[0, 64].Sample(datagram =>
        {
            if (!BfdControlPacket.TryRead(datagram, out var packet, out var reason))
            {
                Assert.NotEqual(BfdDiscardReason.None, reason);
                return;
            }
            var written = Bytes(packet);
            var expected = datagram[..BfdControlPacket.Length];
            expected[3] = BfdControlPacket.Length;
            Assert.Equal(expected, written);
        }, iter: 20_000);
    }
}

public class PacketSourceTests
{
    [Theory]
    [InlineData("198.18.0.2")]
    [InlineData("2001:db8::2")]
    [InlineData("fe80::1")]
    public void An_address_round_trips(string text)
    {
        var address = System.Net.IPAddress.Parse(text);
        Assert.Equal(address, PacketSource.Of(address).ToAddress());
        Assert.Equal(text, PacketSource.Of(address).ToString());
    }

    [Fact]
    public void An_IPv4_mapped_source_is_the_IPv4_address_and_families_never_collide()
    {
        var v4 = PacketSource.Of(System.Net.IPAddress.Parse("198.18.0.2"));
        Assert.Equal(v4, PacketSource.Of(System.Net.IPAddress.Parse("::ffff:198.18.0.2")));
        Assert.NotEqual(v4, PacketSource.Of(System.Net.IPAddress.Parse("::c612:2"))); // same low bits, IPv6
    }
}
