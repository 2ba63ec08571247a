using CsCheck;
using System.Net;

namespace BgpLb.Config.Tests;

public class GoDurationTests
{
    [Theory]
    [InlineData("90s", 90_000)]
    [InlineData("1m30s", 90_000)]
    [InlineData("500ms", 500)]
    [InlineData("1.5h", 5_400_000)]
    [InlineData("0", 0)]
    [InlineData("0s", 0)]
    [InlineData("2h45m", 9_900_000)]
    [InlineData("1000us", 1)]
    [InlineData("1000000ns", 1)]
    [InlineData("-3s", -3000)]
    [InlineData("+3s", 3000)]
    [InlineData(".5s", 500)]
    public void Parses_go_durations(string text, long milliseconds)
    {
        Assert.True(GoDuration.TryParse(text, out var value));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("90")]
    [InlineData("s")]
    [InlineData("1d")]
    [InlineData("1.2.3s")]
    [InlineData("1 s")]
    [InlineData("-")]
    [InlineData("3S")]
    [InlineData("99999999999999h")]
    public void Rejects_malformed_durations(string? text) => Assert.False(GoDuration.TryParse(text, out _));
}

public class LabelSelectorTests
{
    private static LabelSelector Create(Dictionary<string, string>? labels, params (string Key, string Op, string[]? Values)[] expressions)
    {
        var selector = new LabelSelectorSpec
        {
            MatchLabels = labels,
            MatchExpressions = [.. expressions.Select(e => new LabelSelectorRequirementSpec { Key = e.Key, Operator = e.Op, Values = e.Values })],
        };
        Assert.True(LabelSelector.TryCreate(selector, out var result, out var error), error.Message);
        return result;
    }

    private static readonly Dictionary<string, string> NodeA = new() { ["zone"] = "a", ["tier"] = "edge" };

    [Fact]
    public void Empty_selector_matches_everything()
    {
        Assert.True(Create(null).IsEverything);
        Assert.True(Create(null).Matches(null));
        Assert.True(Create(null).Matches(NodeA));
        Assert.True(LabelSelector.MatchesAny([], NodeA));
    }

    [Fact]
    public void Match_labels_must_all_be_equal()
    {
        Assert.True(Create(new() { ["zone"] = "a" }).Matches(NodeA));
        Assert.True(Create(new() { ["zone"] = "a", ["tier"] = "edge" }).Matches(NodeA));
        Assert.False(Create(new() { ["zone"] = "a", ["tier"] = "core" }).Matches(NodeA));
        Assert.False(Create(new() { ["zone"] = "b" }).Matches(NodeA));
        Assert.False(Create(new() { ["zone"] = "a" }).Matches(null));
    }

    [Theory]
    [InlineData("In", new[] { "a", "b" }, true)]
    [InlineData("In", new[] { "b" }, false)]
    [InlineData("NotIn", new[] { "b" }, true)]
    [InlineData("NotIn", new[] { "a" }, false)]
    [InlineData("Exists", null, true)]
    [InlineData("DoesNotExist", null, false)]
    public void Expressions_on_a_present_key(string op, string[]? values, bool expected) =>
        Assert.Equal(expected, Create(null, ("zone", op, values)).Matches(NodeA));

    [Theory]
    [InlineData("In", new[] { "a" }, false)]
    [InlineData("NotIn", new[] { "a" }, true)]
    [InlineData("Exists", null, false)]
    [InlineData("DoesNotExist", null, true)]
    public void Expressions_on_a_missing_key(string op, string[]? values, bool expected) =>
        Assert.Equal(expected, Create(null, ("gpu", op, values)).Matches(NodeA));

    [Fact]
    public void Labels_and_expressions_are_ANDed_and_selectors_ORed()
    {
        var both = Create(new() { ["zone"] = "a" }, ("tier", "In", ["core"]));
        Assert.False(both.Matches(NodeA));
        Assert.True(LabelSelector.MatchesAny([both, Create(new() { ["tier"] = "edge" })], NodeA));
        Assert.False(LabelSelector.MatchesAny([both], NodeA));
    }

    [Theory]
    [InlineData("Equals", new[] { "a" }, "matchExpressions[0].operator")]
    [InlineData("In", new string[0], "matchExpressions[0].values")]
    [InlineData("NotIn", null, "matchExpressions[0].values")]
    [InlineData("Exists", new[] { "a" }, "matchExpressions[0].values")]
    [InlineData("DoesNotExist", new[] { "a" }, "matchExpressions[0].values")]
    public void Invalid_expressions_are_rejected(string op, string[]? values, string field)
    {
        var selector = new LabelSelectorSpec { MatchExpressions = [new LabelSelectorRequirementSpec { Key = "zone", Operator = op, Values = values }] };
        Assert.False(LabelSelector.TryCreate(selector, out _, out var error));
        Assert.Equal(field, error.Field);
    }

    [Fact]
    public void Empty_key_is_rejected()
    {
        var selector = new LabelSelectorSpec { MatchExpressions = [new LabelSelectorRequirementSpec { Key = "", Operator = "Exists" }] };
        Assert.False(LabelSelector.TryCreate(selector, out _, out var error));
        Assert.Equal("matchExpressions[0].key", error.Field);
    }

    [Fact]
    public void String_form_is_stable_and_used_for_equality()
    {
        var a = Create(new() { ["zone"] = "a" }, ("tier", "In", ["y", "x"]), ("gpu", "DoesNotExist", null));
        var b = Create(new() { ["zone"] = "a" }, ("tier", "In", ["x", "y"]), ("gpu", "DoesNotExist", null));
        Assert.Equal("zone=a,tier in (x,y),!gpu", a.ToString());
        Assert.Equal(a, b);
        Assert.NotEqual(a, Create(new() { ["zone"] = "b" }));
    }
}

public class AddressRangesTests
{
    private static string[] Parse(string text)
    {
        Assert.True(AddressRanges.TryParse(text, out var networks, out var error), error);
        return [.. networks.Select(n => n.ToString())];
    }

    [Theory]
    [InlineData("203.0.113.0/28", new[] { "203.0.113.0/28" })]
    [InlineData("203.0.113.5/24", new[] { "203.0.113.0/24" })]
    [InlineData("203.0.113.7/32", new[] { "203.0.113.7/32" })]
    [InlineData("2001:db8:100::/124", new[] { "2001:db8:100::/124" })]
    [InlineData("2001:db8::1/64", new[] { "2001:db8::/64" })]
    [InlineData("203.0.113.0-203.0.113.255", new[] { "203.0.113.0/24" })]
    [InlineData("203.0.113.1 - 203.0.113.6", new[] { "203.0.113.1/32", "203.0.113.2/31", "203.0.113.4/31", "203.0.113.6/32" })]
    [InlineData("203.0.113.9-203.0.113.9", new[] { "203.0.113.9/32" })]
    [InlineData("0.0.0.0-255.255.255.255", new[] { "0.0.0.0/0" })]
    [InlineData("2001:db8::-2001:db8::ff", new[] { "2001:db8::/120" })]
    [InlineData("2001:db8::1-2001:db8::2", new[] { "2001:db8::1/128", "2001:db8::2/128" })]
    [InlineData("::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", new[] { "::/0" })]
    public void Parses_cidrs_and_ranges(string text, string[] expected) => Assert.Equal(expected, Parse(text));

    [Theory]
    [InlineData("203.0.113.0")]
    [InlineData("203.0.113.0/33")]
    [InlineData("2001:db8::/129")]
    [InlineData("203.0.113/24")]
    [InlineData("203.0.113.0/-1")]
    [InlineData("203.0.113.10-203.0.113.1")]
    [InlineData("203.0.113.1-2001:db8::1")]
    [InlineData("203.0.113.1-")]
    [InlineData("")]
    [InlineData("pool")]
    public void Rejects_invalid_addresses(string text) => Assert.False(AddressRanges.TryParse(text, out _, out _));

    [Fact]
    public void Summarized_ranges_cover_exactly_the_range() =>
        CsCheck.Gen.Select(CsCheck.Gen.UInt, CsCheck.Gen.UInt[0, 5000]).Sample(t =>
        {
            var (start, span) = t;
            var end = (uint)Math.Min((ulong)start + span, uint.MaxValue);
            var text = $"{AddressRanges.FromNumber(start, System.Net.Sockets.AddressFamily.InterNetwork)}-{AddressRanges.FromNumber(end, System.Net.Sockets.AddressFamily.InterNetwork)}";
            Assert.True(AddressRanges.TryParse(text, out var networks, out _));
            ulong next = start;
            foreach (var network in networks)
            {
                Assert.Equal(next, (ulong)AddressRanges.ToNumber(network.BaseAddress));
                next += 1UL << (32 - network.PrefixLength);
            }
            Assert.Equal((ulong)end + 1, next);
        });
}

public class CommunitiesTests
{
    [Theory]
    [InlineData("64512:100", (64512u << 16) | 100)]
    [InlineData("0:0", 0u)]
    [InlineData("65535:65281", 0xFFFFFF01u)]
    public void Parses_legacy_communities(string text, uint expected)
    {
        Assert.True(Communities.TryParse(text, out var community, out var large, out _));
        Assert.Equal(expected, community);
        Assert.Null(large);
    }

    [Theory]
    [InlineData("large:64512:1:2", 64512u, 1u, 2u)]
    [InlineData("large:4294967295:4294967295:0", uint.MaxValue, uint.MaxValue, 0u)]
    public void Parses_large_communities(string text, uint g, uint l1, uint l2)
    {
        Assert.True(Communities.TryParse(text, out var community, out var large, out _));
        Assert.Null(community);
        Assert.Equal(new LargeCommunity(g, l1, l2), large);
    }

    [Theory]
    [InlineData("65536:1")]
    [InlineData("1:65536")]
    [InlineData("1:2:3")]
    [InlineData("-1:2")]
    [InlineData("a:b")]
    [InlineData("large:1:2")]
    [InlineData("large:4294967296:1:1")]
    [InlineData("large:1:2:3:4")]
    [InlineData(":")]
    public void Rejects_malformed_communities(string text) => Assert.False(Communities.TryParse(text, out _, out _, out _));
}

public class StrictIPTests
{
    [Theory]
    [InlineData("198.18.0.1")]
    [InlineData("10.0.0.0")]
    [InlineData("2001:db8::1")]
    [InlineData("::ffff:198.18.0.1")]
    public void Accepts_addresses(string text)
    {
        Assert.True(StrictIP.TryParse(text, out var address));
        Assert.Equal(IPAddress.Parse(text), address);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("10.1")]
    [InlineData("198.18.0")]
    [InlineData("198.18.0.256")]
    [InlineData("198.18.0.1.2")]
    [InlineData("0x10.0.0.1")]
    [InlineData("010.0.0.1")] // IPAddress.Parse reads 8.0.0.1: the address validated and the one used must not differ
    [InlineData("198.18.00.1")]
    [InlineData("19\0.51.100.5")] // byte.TryParse ignores trailing NULs, IPAddress.Parse does not (fuzz/regressions/grpc/crash-f41a2b5f…)
    [InlineData("fe80::1%eth0")]
    [InlineData("")]
    public void Rejects_what_go_rejects(string text) => Assert.False(StrictIP.TryParse(text, out _));
}
