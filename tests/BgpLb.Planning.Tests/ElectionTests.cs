using System.Net;
using System.Security.Cryptography;
using System.Text;
using CsCheck;

namespace BgpLb.Planning.Tests;

public sealed class ElectionTests
{
    private static string HashHex(string node, string ip) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(node + "#" + ip)));

    [Fact]
    public void Equal_scores_are_ordered_by_sha256_of_node_and_ip()
    {
        var ip = IPAddress.Parse("203.0.113.10");
        string[] nodes = ["node-1", "node-2", "node-3", "node-4"];
        var expected = nodes.OrderBy(n => HashHex(n, "203.0.113.10"), StringComparer.Ordinal).ToArray();
        Assert.Equal(expected, L2Election.Order(nodes.Select(n => new ElectionCandidate(n, 0)), ip).ToArray());
        Assert.Equal(expected[0], L2Election.Owner(nodes.Reverse().Select(n => new ElectionCandidate(n, 0)), ip));
    }

    [Fact]
    public void The_key_is_the_canonical_text_of_the_address()
    {
        var ip = IPAddress.Parse("2001:0db8:0000::0010");
        string[] nodes = ["a", "b", "c", "d", "e"];
        var expected = nodes.OrderBy(n => HashHex(n, "2001:db8::10"), StringComparer.Ordinal).ToArray();
        Assert.Equal(expected, L2Election.Order(nodes.Select(n => new ElectionCandidate(n, 0)), ip).ToArray());
    }

    [Fact]
    public void Higher_score_wins_before_the_hash()
    {
        var ip = IPAddress.Parse("203.0.113.10");
        var hashOrder = new[] { "node-1", "node-2", "node-3" }.OrderBy(n => HashHex(n, "203.0.113.10"), StringComparer.Ordinal).ToArray();
        var last = hashOrder[^1];
        var order = L2Election.Order(hashOrder.Select(n => new ElectionCandidate(n, n == last ? 1 : 0)), ip);
        Assert.Equal([last, hashOrder[0], hashOrder[1]], order.ToArray());
    }

    [Fact]
    public void No_candidates_means_no_owner_and_duplicates_count_once()
    {
        var ip = IPAddress.Parse("203.0.113.10");
        Assert.Null(L2Election.Owner([], ip));
        Assert.Equal(["x"], L2Election.Order([new("x", 0), new("x", 5)], ip).ToArray());
    }

    [Fact]
    public void Every_speaker_agrees_whatever_order_it_lists_candidates_in() =>
        Gen.Select(Gen.String[Gen.Char.AlphaNumeric, 1, 8].Array[1, 6], Gen.UInt, Gen.Int[0, 2].Array[6]).Sample((names, ip, scores) =>
        {
            var address = new IPAddress(BitConverter.GetBytes(ip));
            var candidates = names.Select((n, i) => new ElectionCandidate(n, scores[i])).ToArray();
            var forward = L2Election.Order(candidates, address);
            var backward = L2Election.Order(candidates.Reverse(), address);
            return forward.SequenceEqual(backward) && forward.Length == names.Distinct().Count();
        });

    [Fact]
    public void Removing_a_node_that_does_not_own_never_moves_the_address() =>
        Gen.Select(Gen.Int[2, 8], Gen.UInt, Gen.Int).Sample((count, ip, pick) =>
        {
            var address = new IPAddress(BitConverter.GetBytes(ip));
            var nodes = Enumerable.Range(0, count).Select(i => new ElectionCandidate($"node-{i}", 0)).ToList();
            var owner = L2Election.Owner(nodes, address);
            var others = nodes.Where(n => n.Node != owner).ToList();
            var removed = others[(int)((uint)pick % (uint)others.Count)];
            return L2Election.Owner(nodes.Where(n => n != removed), address) == owner;
        });
}
