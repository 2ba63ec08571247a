using System.Globalization;

namespace BgpLb.Config;

/// <summary>MetalLB community syntax: <c>AA:NN</c> (two 16-bit numbers) or <c>large:G:L1:L2</c> (three 32-bit numbers).</summary>
public static class Communities
{
    /// <summary>True when <paramref name="text"/> is meant as a literal community rather than a Community alias name.</summary>
    public static bool IsLiteral(string text) =>
        text.StartsWith("large:", StringComparison.OrdinalIgnoreCase) || text.Contains(':', StringComparison.Ordinal);

    /// <summary>On success exactly one of <paramref name="community"/> and <paramref name="large"/> is set.</summary>
    public static bool TryParse(string text, out uint? community, out LargeCommunity? large, out string error)
    {
        community = null;
        large = null;
        error = "";
        var parts = text.Split(':');
        if (string.Equals(parts[0], "large", StringComparison.OrdinalIgnoreCase))
        {
            if (parts.Length != 4 || !TryNumber(parts[1], out var g) || !TryNumber(parts[2], out var l1) || !TryNumber(parts[3], out var l2))
            {
                error = $"invalid large community '{text}': expected large:G:L1:L2 with three 32-bit numbers";
                return false;
            }
            large = new LargeCommunity(g, l1, l2);
            return true;
        }
        if (parts.Length != 2 || !TryNumber(parts[0], out var high) || !TryNumber(parts[1], out var low) || high > ushort.MaxValue || low > ushort.MaxValue)
        {
            error = $"invalid community '{text}': expected AA:NN with two 16-bit numbers or large:G:L1:L2";
            return false;
        }
        community = (high << 16) | low;
        return true;
    }

    private static bool TryNumber(string text, out uint value) =>
        uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
}
