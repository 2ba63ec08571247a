using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace BgpLb.Netlab;

/// <summary>Parsers for birdc's text output (BIRD 2.0).</summary>
public static partial class BirdOutput
{
    /// <summary>
    /// Parses <c>show route all</c>: a line starting with a prefix opens a network, an indented line with
    /// "[protocol ...]" opens a further path of the same network, tab-indented lines are that path's attributes.
    /// Only BGP paths are returned; next hops are the BGP NEXT_HOP (also when unresolved, so without "via").
    /// </summary>
    public static IReadOnlyList<RouterRoute> ParseRoutes(string output)
    {
        var routes = new List<RouterRoute>();
        PathBuilder? path = null;
        string? prefix = null;
        foreach (var line in output.Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith("BIRD ", StringComparison.Ordinal) || line.StartsWith("Table ", StringComparison.Ordinal))
            {
                continue;
            }

            if (line[0] != '\t' && PathHeader().Match(line) is { Success: true } header)
            {
                Flush();
                if (header.Groups["prefix"].Success)
                {
                    prefix = header.Groups["prefix"].Value;
                }

                path = new PathBuilder(prefix ?? throw new FormatException($"path without network: '{line}'"));
                continue;
            }

            if (path is null)
            {
                continue;
            }

            var text = line.Trim();
            if (Attribute(text, "BGP.next_hop:") is { } nextHop)
            {
                // IPv6 next hops may carry the link-local address after the global one.
                path.NextHops.AddRange(nextHop.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                    .Select(IPAddress.Parse)
                    .Where(a => !a.IsIPv6LinkLocal));
            }
            else if (text.StartsWith("Type: BGP", StringComparison.Ordinal))
            {
                path.IsBgp = true;
            }
            else if (Attribute(text, "BGP.as_path:") is { } asPath)
            {
                path.AsPath.AddRange(asPath.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                    .Where(a => a.All(char.IsAsciiDigit))
                    .Select(a => uint.Parse(a, CultureInfo.InvariantCulture)));
            }
            else if (Attribute(text, "BGP.local_pref:") is { } localPreference)
            {
                path.LocalPreference = uint.Parse(localPreference, CultureInfo.InvariantCulture);
            }
            else if (Attribute(text, "BGP.community:") is { } communities)
            {
                path.Communities.AddRange(Tuples().Matches(communities).Select(m => m.Groups[1].Value.Replace(" ", string.Empty, StringComparison.Ordinal).Replace(',', ':')));
            }
            else if (Attribute(text, "BGP.large_community:") is { } large)
            {
                path.LargeCommunities.AddRange(Tuples().Matches(large).Select(m => m.Groups[1].Value.Replace(" ", string.Empty, StringComparison.Ordinal).Replace(',', ':')));
            }
        }

        Flush();
        return routes;

        void Flush()
        {
            if (path is { IsBgp: true })
            {
                routes.Add(new RouterRoute(path.Prefix, path.NextHops, path.Communities, path.LargeCommunities, path.LocalPreference, path.AsPath));
            }

            path = null;
        }
    }

    /// <summary>
    /// Parses <c>show protocols all NAME</c> of a BGP protocol. The last error is what follows the state in the
    /// summary line's Info column ("Active        Socket: Connection refused"), or a "Last error:" line.
    /// </summary>
    public static PeerState ParsePeerState(string output)
    {
        string? state = null;
        string? lastError = null;
        string? summary = null;
        foreach (var line in output.Split('\n'))
        {
            var text = line.Trim();
            state ??= Attribute(text, "BGP state:");
            lastError ??= Attribute(text, "Last error:");
            if (summary is null && SummaryLine().IsMatch(line))
            {
                summary = line.TrimEnd();
            }
        }

        if (state is null)
        {
            throw new FormatException($"no 'BGP state' in birdc output: {output}");
        }

        if (lastError is null && summary is not null)
        {
            var info = summary.LastIndexOf("  " + state, StringComparison.Ordinal);
            var error = info < 0 ? string.Empty : summary[(info + 2 + state.Length)..].Trim();
            lastError = error.Length == 0 ? null : error;
        }

        return new PeerState(state == "Established", state, lastError);
    }

    /// <summary>Sums "N of M routes for K networks in table T" over the tables of <c>show route count</c> (not the "Total:" line).</summary>
    public static long ParseRouteCount(string output)
    {
        var counts = RouteCount().Matches(output);
        if (counts.Count == 0)
        {
            throw new FormatException($"no route count in birdc output: {output}");
        }

        return counts.Sum(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    private static string? Attribute(string text, string name) =>
        text.StartsWith(name, StringComparison.Ordinal) ? text[name.Length..].Trim() : null;

    // "203.0.113.10/32      unicast [peer_198_18_0_2 12:17:47.389] * (100) [AS64513i]" or, for a further path
    // of the same network, the same without the prefix.
    [GeneratedRegex(@"^(?<prefix>[0-9a-fA-F.:]+/\d+)?\s+\w+ \[\S+ [^\]]*\]", RegexOptions.CultureInvariant)]
    private static partial Regex PathHeader();

    [GeneratedRegex(@"^\S+\s+BGP\s", RegexOptions.CultureInvariant)]
    private static partial Regex SummaryLine();

    [GeneratedRegex(@"\(([0-9, ]+)\)", RegexOptions.CultureInvariant)]
    private static partial Regex Tuples();

    [GeneratedRegex(@"^(\d+) of \d+ routes for \d+ networks in table ", RegexOptions.CultureInvariant | RegexOptions.Multiline)]
    private static partial Regex RouteCount();

    private sealed class PathBuilder(string prefix)
    {
        public string Prefix { get; } = prefix;

        public bool IsBgp { get; set; }

        public List<IPAddress> NextHops { get; } = [];

        public List<uint> AsPath { get; } = [];

        public List<string> Communities { get; } = [];

        public List<string> LargeCommunities { get; } = [];

        public uint? LocalPreference { get; set; }
    }
}
