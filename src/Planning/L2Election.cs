using System.Collections.Immutable;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace BgpLb.Planning;

/// <summary>A node that may announce a Service address, with its preferred-node score (sum of matching weights).</summary>
public readonly record struct ElectionCandidate(string Node, int Score);

/// <summary>
/// MetalLB's stateless layer 2 election (speaker/layer2_controller.go): every speaker orders the same candidates the same
/// way and the first one announces. Order: preferred-node score descending, then sha256(node + "#" + ip) compared
/// bytewise ascending, where ip is the Service's first ingress address.
/// </summary>
public static class L2Election
{
    /// <summary>The candidates in election order (duplicate node names count once, with their highest score).</summary>
    public static ImmutableArray<string> Order(IEnumerable<ElectionCandidate> candidates, IPAddress key)
    {
        var keyText = key.ToString();
        return
        [
            .. candidates
                .GroupBy(c => c.Node, StringComparer.Ordinal)
                .Select(g => (Node: g.Key, Score: g.Max(c => c.Score), Hash: Hash(g.Key, keyText)))
                .OrderByDescending(c => c.Score)
                .ThenBy(c => c.Hash, HashComparer.Instance)
                .ThenBy(c => c.Node, StringComparer.Ordinal)
                .Select(c => c.Node),
        ];
    }

    /// <summary>The node that announces <paramref name="key"/>, or null when there is no candidate.</summary>
    public static string? Owner(IEnumerable<ElectionCandidate> candidates, IPAddress key) =>
        Order(candidates, key) is { IsEmpty: false } order ? order[0] : null;

    internal static byte[] Hash(string node, string key) => SHA256.HashData(Encoding.UTF8.GetBytes(node + "#" + key));

    private sealed class HashComparer : IComparer<byte[]>
    {
        public static HashComparer Instance { get; } = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
