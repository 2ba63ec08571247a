using System.Globalization;
using System.Net;

namespace BgpLb.Model;

/// <summary>
/// IP parsing as strict as Go's net.ParseIP: IPv4 only as four decimal octets without leading zeros (IPAddress.TryParse
/// accepts "1" or "10.1", and reads "010" as octal 8).
/// </summary>
public static class StrictIP
{
    public static bool TryParse(ReadOnlySpan<char> text, out IPAddress address)
    {
        address = IPAddress.None;
        if (text.Contains(':'))
        {
            if (text.Contains('%') || !IPAddress.TryParse(text, out var v6))
            {
                return false;
            }
            address = v6;
            return true;
        }
        Span<byte> octets = stackalloc byte[4];
        var count = 0;
        foreach (var range in text.Split('.'))
        {
            var part = text[range];
            // Digits only: byte.TryParse also takes trailing NULs ("19\0"), which IPAddress.Parse rejects.
            if (count == 4 || part.IsEmpty || part.Length > 3 || (part.Length > 1 && part[0] == '0') || part.ContainsAnyExceptInRange('0', '9')
                || !byte.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out octets[count]))
            {
                return false;
            }
            count++;
        }
        if (count != 4)
        {
            return false;
        }
        address = new IPAddress(octets);
        return true;
    }
}
