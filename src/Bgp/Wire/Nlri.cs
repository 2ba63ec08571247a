using System.Net;
using System.Net.Sockets;

namespace BgpLb.Bgp.Wire;

/// <summary>NLRI prefix encoding: a length octet and the fewest octets that hold the prefix (RFC 4271 §4.3).</summary>
internal static class Nlri
{
    /// <summary>
    /// Decodes one prefix. Bits beyond the prefix length in the last octet are masked off (RFC 4271: their value is
    /// irrelevant), so 10.1.2.3/8 on the wire reads as 10.0.0.0/8.
    /// </summary>
    /// <returns>false when the prefix length exceeds 32/128 or the octets run out.</returns>
    public static bool TryDecode(ReadOnlySpan<byte> source, AddressFamily family, out IPNetwork prefix, out int bytesConsumed)
    {
        prefix = default;
        if (!TryMeasure(source, family, out var prefixLength, out bytesConsumed))
        {
            return false;
        }

        var octets = bytesConsumed - 1;
        Span<byte> address = stackalloc byte[family == AddressFamily.InterNetworkV6 ? 16 : 4];
        address.Clear();
        source.Slice(1, octets).CopyTo(address);
        if ((prefixLength & 7) != 0)
        {
            address[octets - 1] &= (byte)(0xFF << (8 - (prefixLength & 7)));
        }

        prefix = new IPNetwork(new IPAddress(address), prefixLength);
        return true;
    }

    /// <summary>Validates one prefix without decoding it (no allocation).</summary>
    /// <returns>false when the prefix length exceeds 32/128 or the octets run out.</returns>
    public static bool TryMeasure(ReadOnlySpan<byte> source, AddressFamily family, out int prefixLength, out int bytesConsumed)
    {
        prefixLength = 0;
        bytesConsumed = 0;
        if (source.IsEmpty || source[0] > (family == AddressFamily.InterNetworkV6 ? 128 : 32))
        {
            return false;
        }

        prefixLength = source[0];
        var octets = (prefixLength + 7) >> 3;
        if (source.Length < 1 + octets)
        {
            return false;
        }

        bytesConsumed = 1 + octets;
        return true;
    }

    /// <summary>Encoded size of <paramref name="prefix"/>.</summary>
    public static int GetEncodedLength(IPNetwork prefix) => 1 + ((prefix.PrefixLength + 7) >> 3);

    /// <summary>Writes <paramref name="prefix"/> and returns the bytes written; the destination must hold 17 bytes for IPv6.</summary>
    public static int Write(Span<byte> destination, IPNetwork prefix)
    {
        Span<byte> address = stackalloc byte[16];
        prefix.BaseAddress.TryWriteBytes(address, out _);
        var octets = (prefix.PrefixLength + 7) >> 3;
        destination[0] = (byte)prefix.PrefixLength;
        address[..octets].CopyTo(destination[1..]);
        return 1 + octets;
    }
}
