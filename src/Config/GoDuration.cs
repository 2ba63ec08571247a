using System.Globalization;

namespace BgpLb.Config;

/// <summary>Kubernetes/Go duration strings (<c>metav1.Duration</c>): "90s", "1m30s", "500ms", "1.5h", "0".</summary>
public static class GoDuration
{
    /// <summary>A short form for messages: "90s", "1.5s", "500ms".</summary>
    public static string Format(TimeSpan value) =>
        value.Ticks % TimeSpan.TicksPerSecond == 0 || Math.Abs(value.Ticks) >= TimeSpan.TicksPerSecond
            ? $"{value.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s"
            : $"{value.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)}ms";

    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }
        var s = text.AsSpan();
        var negative = false;
        if (s[0] is '-' or '+')
        {
            negative = s[0] == '-';
            s = s[1..];
        }
        if (s is "0")
        {
            return true;
        }
        if (s.IsEmpty)
        {
            return false;
        }
        decimal totalNanoseconds = 0;
        while (!s.IsEmpty)
        {
            var numberLength = 0;
            while (numberLength < s.Length && (char.IsAsciiDigit(s[numberLength]) || s[numberLength] == '.'))
            {
                numberLength++;
            }
            var number = s[..numberLength];
            if (number.IsEmpty || number is "." || number.Count('.') > 1
                || !decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount))
            {
                return false;
            }
            s = s[numberLength..];
            var unitLength = 0;
            while (unitLength < s.Length && !char.IsAsciiDigit(s[unitLength]) && s[unitLength] != '.')
            {
                unitLength++;
            }
            decimal? nanosecondsPerUnit = s[..unitLength] switch
            {
                "ns" => 1m,
                "us" or "µs" or "μs" => 1_000m,
                "ms" => 1_000_000m,
                "s" => 1_000_000_000m,
                "m" => 60_000_000_000m,
                "h" => 3_600_000_000_000m,
                _ => null,
            };
            if (nanosecondsPerUnit is not { } factor)
            {
                return false;
            }
            s = s[unitLength..];
            totalNanoseconds += amount * factor;
            if (totalNanoseconds > (decimal)TimeSpan.MaxValue.Ticks * 100)
            {
                return false;
            }
        }
        var ticks = (long)(totalNanoseconds / 100);
        value = TimeSpan.FromTicks(negative ? -ticks : ticks);
        return true;
    }
}
