using System.Buffers.Binary;

namespace BgpLb.L2.Wire;

/// <summary>A 48-bit Ethernet address held in the low bits of a <see cref="ulong"/> (no allocation, unlike PhysicalAddress).</summary>
public readonly record struct MacAddress(ulong Value)
{
    public const int Length = 6;

    public static MacAddress Broadcast { get; } = new(0xFFFF_FFFF_FFFF);
    public static MacAddress Zero { get; } = new(0);

    public bool IsBroadcast => Value == Broadcast.Value;
    /// <summary>The group bit (least significant bit of the first octet).</summary>
    public bool IsMulticast => (Value & 0x0100_0000_0000) != 0;

    public static MacAddress Read(ReadOnlySpan<byte> source) =>
        new(((ulong)BinaryPrimitives.ReadUInt32BigEndian(source) << 16) | BinaryPrimitives.ReadUInt16BigEndian(source[4..]));

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)(Value >> 16));
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], (ushort)Value);
    }

    /// <summary>Parses "aa:bb:cc:dd:ee:ff" (also with '-'); false on anything else.</summary>
    public static bool TryParse(string? text, out MacAddress mac)
    {
        mac = default;
        if (text is null || text.Length != 17)
            return false;
        ulong value = 0;
        for (var i = 0; i < 6; i++)
        {
            if (i > 0 && text[i * 3 - 1] is not (':' or '-'))
                return false;
            if (!byte.TryParse(text.AsSpan(i * 3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out var octet))
                return false;
            value = (value << 8) | octet;
        }
        mac = new MacAddress(value);
        return true;
    }

    public override string ToString() => string.Create(17, Value, static (span, value) =>
    {
        for (var i = 0; i < Length; i++)
        {
            if (i > 0)
                span[i * 3 - 1] = ':';
            ((byte)(value >> (40 - 8 * i))).TryFormat(span.Slice(i * 3, 2), out _, "x2", System.Globalization.CultureInfo.InvariantCulture);
        }
    });
}
