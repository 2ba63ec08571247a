using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace BgpLb.Model;

/// <summary>IPAddressPool address syntax: a CIDR (host bits are masked as Go's net.ParseCIDR does) or a <c>start-end</c> range summarized into CIDRs.</summary>
public static class AddressRanges
{
    public static bool TryParse(string text, out List<IPNetwork> networks, out string error)
    {
        networks = [];
        error = "";
        var dash = text.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0)
        {
            if (!TryParseCidr(text.Trim(), out var network))
            {
                error = $"invalid CIDR '{text}'";
                return false;
            }
            networks.Add(network);
            return true;
        }
        if (!StrictIP.TryParse(text[..dash].Trim(), out var start) || !StrictIP.TryParse(text[(dash + 1)..].Trim(), out var end))
        {
            error = $"invalid IP range '{text}'";
            return false;
        }
        if (start.AddressFamily != end.AddressFamily)
        {
            error = $"invalid IP range '{text}': start and end are of different address families";
            return false;
        }
        var bits = Bits(start.AddressFamily);
        var first = ToNumber(start);
        var last = ToNumber(end);
        if (first > last)
        {
            error = $"invalid IP range '{text}': start is after end";
            return false;
        }
        networks.AddRange(Summarize(first, last, start.AddressFamily, bits));
        return true;
    }

    /// <summary>Parses <c>address/length</c>; the address may have host bits set (they are cleared).</summary>
    public static bool TryParseCidr(string text, out IPNetwork network)
    {
        network = default;
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0
            || !StrictIP.TryParse(text.AsSpan(0, slash), out var address)
            || !int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var length)
            || length > Bits(address.AddressFamily))
        {
            return false;
        }
        var bits = Bits(address.AddressFamily);
        var mask = length == 0 ? UInt128.Zero : UInt128.MaxValue << (bits - length);
        if (bits == 32)
        {
            mask &= uint.MaxValue;
        }
        network = new IPNetwork(FromNumber(ToNumber(address) & mask, address.AddressFamily), length);
        return true;
    }

    public static bool Overlaps(IPNetwork a, IPNetwork b) =>
        a.BaseAddress.AddressFamily == b.BaseAddress.AddressFamily
        && (a.Contains(b.BaseAddress) || b.Contains(a.BaseAddress));

    internal static int Bits(AddressFamily family) => family == AddressFamily.InterNetwork ? 32 : 128;

    internal static UInt128 ToNumber(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        return written == 4
            ? BinaryPrimitives.ReadUInt32BigEndian(bytes)
            : BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }

    internal static IPAddress FromNumber(UInt128 value, AddressFamily family)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (family == AddressFamily.InterNetwork)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)value);
            return new IPAddress(bytes[..4]);
        }
        BinaryPrimitives.WriteUInt128BigEndian(bytes, value);
        return new IPAddress(bytes);
    }

    private static IEnumerable<IPNetwork> Summarize(UInt128 first, UInt128 last, AddressFamily family, int bits)
    {
        while (true)
        {
            // Largest block aligned at 'first' that does not pass 'last'.
            var size = first == UInt128.Zero ? bits : Math.Min(bits, (int)UInt128.TrailingZeroCount(first));
            while (size > 0 && (size == 128 ? UInt128.MaxValue : (UInt128.One << size) - 1) > last - first)
            {
                size--;
            }
            yield return new IPNetwork(FromNumber(first, family), bits - size);
            var blockLast = first + (size == 128 ? UInt128.MaxValue : (UInt128.One << size) - 1);
            if (blockLast >= last)
            {
                yield break;
            }
            first = blockLast + 1;
        }
    }
}
