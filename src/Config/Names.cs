using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace BgpLb.Config;

/// <summary>
/// Shares the strings that repeat across objects (namespaces, node names, label keys, protocols), so that 100,000
/// Services hold one "default" and one "TCP". Bounded: past <see cref="Capacity"/> distinct strings it stops adding.
/// </summary>
internal static class Names
{
    private const int Capacity = 100_000;
    private const int MaxStackChars = 256;
    private static readonly ConcurrentDictionary<string, string> Pool = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> ByChars = Pool.GetAlternateLookup<ReadOnlySpan<char>>();

    public static string Intern(string value)
    {
        if (Pool.TryGetValue(value, out var shared))
            return shared;
        return Pool.Count < Capacity ? Pool.GetOrAdd(value, value) : value;
    }

    /// <summary>The string value of <paramref name="element"/>, shared; no string is allocated when it is known already.</summary>
    public static string Intern(JsonElement element)
    {
        Span<char> chars = stackalloc char[MaxStackChars];
        return TryChars(element, chars, out var length) && ByChars.TryGetValue(chars[..length], out var shared)
            ? shared
            : Intern(element.GetString()!);
    }

    /// <summary>Decodes a string element without escapes into <paramref name="chars"/>; false when it does not fit or has escapes.</summary>
    public static bool TryChars(JsonElement element, Span<char> chars, out int length)
    {
        var raw = JsonMarshal.GetRawUtf8Value(element);
        length = 0;
        // The raw value of a string element includes its quotes.
        if (raw.Length < 2 || raw.Length - 2 > chars.Length || raw.Contains((byte)'\\'))
            return false;
        return Encoding.UTF8.TryGetChars(raw[1..^1], chars, out length);
    }
}
