using System.Collections.Immutable;
using System.Net;

namespace BgpLb.Bgp;

/// <summary>RFC 8092 large community.</summary>
public readonly record struct LargeCommunity(uint GlobalAdministrator, uint LocalData1, uint LocalData2)
{
    public override string ToString() => $"{GlobalAdministrator}:{LocalData1}:{LocalData2}";
}

/// <summary>
/// The per-route attributes the speaker controls. ORIGIN (IGP), AS_PATH and NEXT_HOP are set by the session.
/// Communities are kept sorted and distinct so that equal sets compare equal (routes with equal attributes share UPDATEs).
/// </summary>
public sealed class RouteAttributes : IEquatable<RouteAttributes>
{
    public static readonly RouteAttributes Empty = new(null, [], []);

    public RouteAttributes(uint? localPref, IEnumerable<uint> communities, IEnumerable<LargeCommunity> largeCommunities)
    {
        LocalPref = localPref;
        Communities = [.. communities.Distinct().Order()];
        LargeCommunities = [.. largeCommunities.Distinct().OrderBy(c => c.GlobalAdministrator).ThenBy(c => c.LocalData1).ThenBy(c => c.LocalData2)];
    }

    /// <summary>LOCAL_PREF, sent to iBGP peers only.</summary>
    public uint? LocalPref { get; }
    /// <summary>RFC 1997 communities, each (AS &lt;&lt; 16 | value).</summary>
    public ImmutableArray<uint> Communities { get; }
    public ImmutableArray<LargeCommunity> LargeCommunities { get; }

    public bool Equals(RouteAttributes? other) =>
        other is not null && LocalPref == other.LocalPref
        && Communities.AsSpan().SequenceEqual(other.Communities.AsSpan())
        && LargeCommunities.AsSpan().SequenceEqual(other.LargeCommunities.AsSpan());

    public override bool Equals(object? obj) => Equals(obj as RouteAttributes);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(LocalPref);
        foreach (var c in Communities) hash.Add(c);
        foreach (var c in LargeCommunities) hash.Add(c);
        return hash.ToHashCode();
    }
}

/// <summary>A prefix the speaker wants a peer to hold, with its attributes.</summary>
public readonly record struct Route(IPNetwork Prefix, RouteAttributes Attributes);

/// <summary>Desired state for one neighbour: its configuration and the complete set of routes to advertise to it.</summary>
public sealed record PeerIntent(BgpPeerConfig Config, IReadOnlyCollection<Route> Routes);

/// <summary>One prefix's new desired state towards one neighbour: advertised with <see cref="Attributes"/>, or withdrawn when null.</summary>
public readonly record struct RouteChange(PeerKey Peer, IPNetwork Prefix, RouteAttributes? Attributes);
