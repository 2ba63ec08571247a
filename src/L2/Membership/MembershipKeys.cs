using System.Security.Cryptography;
using System.Text;

namespace BgpLb.L2.Membership;

/// <summary>
/// The shared keys of the speakers' liveness datagrams (HMAC-SHA256). The first key signs; every key verifies, so that a
/// key can be rotated without a partition: add the new key as a second line everywhere, then make it the first, then
/// drop the old one. Read from <c>--memberlist-secret-file</c> (a mounted Secret in Kubernetes).
/// </summary>
public sealed class MembershipKeys
{
    public const int TagLength = HMACSHA256.HashSizeInBytes;
    public const int MinimumKeyLength = 16;
    private const int MaximumKeys = 2;

    private readonly byte[][] _keys;

    private MembershipKeys(byte[][] keys) => _keys = keys;

    public int Count => _keys.Length;

    /// <summary>One key per line (a trailing newline and trailing whitespace of a line ignored), at most two.</summary>
    /// <exception cref="FormatException">No key, more than two, or a key shorter than 16 bytes; the message says which.</exception>
    public static MembershipKeys Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = text.Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0).ToList();
        if (lines.Count == 0)
            throw new FormatException("it holds no key");
        if (lines.Count > MaximumKeys)
            throw new FormatException($"it holds {lines.Count} keys; at most {MaximumKeys} (the signing key, then the one being rotated out)");
        var keys = lines.Select(l => Encoding.UTF8.GetBytes(l)).ToArray();
        if (Array.FindIndex(keys, k => k.Length < MinimumKeyLength) is var weak and >= 0)
            throw new FormatException($"key {weak + 1} is {keys[weak].Length} bytes; at least {MinimumKeyLength} are needed");
        return new MembershipKeys(keys);
    }

    /// <exception cref="FormatException">The file cannot be read or holds no usable key; the message names the file.</exception>
    public static MembershipKeys Load(string path)
    {
        try
        {
            return Parse(File.ReadAllText(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            throw new FormatException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Writes the tag of <paramref name="data"/> with the signing key.</summary>
    public void Sign(ReadOnlySpan<byte> data, Span<byte> tag) => HMACSHA256.HashData(_keys[0], data, tag);

    /// <summary>True when <paramref name="tag"/> is the tag of <paramref name="data"/> under any of the keys (compared in constant time).</summary>
    public bool Verify(ReadOnlySpan<byte> data, ReadOnlySpan<byte> tag)
    {
        Span<byte> expected = stackalloc byte[TagLength];
        foreach (var key in _keys)
        {
            HMACSHA256.HashData(key, data, expected);
            if (CryptographicOperations.FixedTimeEquals(expected, tag))
                return true;
        }
        return false;
    }
}
