using System.Globalization;

namespace BgpLb.Config.Yaml;

internal enum PlainScalarKind
{
    String,
    Null,
    True,
    False,
    Int64,
    UInt64,
    Double,
}

/// <summary><see cref="YamlJson.ScalarValue"/>'s rules for a plain scalar, over its UTF-8 bytes.</summary>
internal static class PlainScalar
{
    public static PlainScalarKind Resolve(ReadOnlySpan<byte> text, out long int64, out ulong uint64, out double number)
    {
        (int64, uint64, number) = (0, 0, 0);
        if (text.IsEmpty)
        {
            return PlainScalarKind.Null;
        }
        switch (text[0])
        {
            case (byte)'~':
                return text.Length == 1 ? PlainScalarKind.Null : PlainScalarKind.String;
            case (byte)'n' or (byte)'N':
                return text.SequenceEqual("null"u8) || text.SequenceEqual("Null"u8) || text.SequenceEqual("NULL"u8)
                    ? PlainScalarKind.Null : PlainScalarKind.String;
            case (byte)'t' or (byte)'T':
                return text.SequenceEqual("true"u8) || text.SequenceEqual("True"u8) || text.SequenceEqual("TRUE"u8)
                    ? PlainScalarKind.True : PlainScalarKind.String;
            case (byte)'f' or (byte)'F':
                return text.SequenceEqual("false"u8) || text.SequenceEqual("False"u8) || text.SequenceEqual("FALSE"u8)
                    ? PlainScalarKind.False : PlainScalarKind.String;
            case (byte)'-' or (byte)'+' or (byte)'.' or (>= (byte)'0' and <= (byte)'9'):
                break;
            default:
                return PlainScalarKind.String;
        }
        var negative = text[0] == '-';
        var digits = text[0] is (byte)'-' or (byte)'+' ? text[1..] : text;
        if (!digits.IsEmpty && !digits.ContainsAnyExceptInRange((byte)'0', (byte)'9') && TryAccumulate(digits, out var magnitude))
        {
            // long first, then ulong, as YamlJson.ScalarValue tries them; beyond both the float rule decides.
            if (negative && magnitude <= 1UL << 63)
            {
                int64 = magnitude == 1UL << 63 ? long.MinValue : -(long)magnitude;
                return PlainScalarKind.Int64;
            }
            if (!negative && magnitude <= long.MaxValue)
            {
                int64 = (long)magnitude;
                return PlainScalarKind.Int64;
            }
            if (!negative)
            {
                uint64 = magnitude;
                return PlainScalarKind.UInt64;
            }
        }
        return IsFloat(text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out number)
            ? PlainScalarKind.Double
            : PlainScalarKind.String;
    }

    private static bool TryAccumulate(ReadOnlySpan<byte> digits, out ulong value)
    {
        value = 0;
        foreach (var digit in digits)
        {
            var d = (ulong)(digit - '0');
            if (value > (ulong.MaxValue - d) / 10)
            {
                return false;
            }
            value = value * 10 + d;
        }
        return true;
    }

    /// <summary>^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$</summary>
    private static bool IsFloat(ReadOnlySpan<byte> text)
    {
        var i = text[0] is (byte)'-' or (byte)'+' ? 1 : 0;
        if (i < text.Length && text[i] == '.')
        {
            i++;
            if (!SkipDigits(text, ref i))
            {
                return false;
            }
        }
        else
        {
            if (!SkipDigits(text, ref i))
            {
                return false;
            }
            if (i < text.Length && text[i] == '.')
            {
                i++;
                SkipDigits(text, ref i);
            }
        }
        if (i < text.Length && text[i] is (byte)'e' or (byte)'E')
        {
            i++;
            if (i < text.Length && text[i] is (byte)'-' or (byte)'+')
            {
                i++;
            }
            if (!SkipDigits(text, ref i))
            {
                return false;
            }
        }
        return i == text.Length;
    }

    private static bool SkipDigits(ReadOnlySpan<byte> text, ref int i)
    {
        var start = i;
        while (i < text.Length && text[i] - (uint)'0' <= 9)
        {
            i++;
        }
        return i > start;
    }
}
