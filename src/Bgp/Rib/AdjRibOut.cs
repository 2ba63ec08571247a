using System.Net;
using System.Net.Sockets;

namespace BgpLb.Bgp.Rib;

/// <summary>Announcements that share one attribute set.</summary>
internal sealed record RouteGroup(AddressFamily Family, RouteAttributes Attributes, List<IPNetwork> Prefixes);

/// <summary>A prefix in the advertised state: the attributes it was sent with and when (UTC) the UPDATE carrying them was written.</summary>
/// <remarks>A UTC <see cref="DateTime"/> rather than a DateTimeOffset keeps the entry at 16 bytes (100,000 prefixes per peer).</remarks>
internal readonly record struct Advertisement(RouteAttributes Attributes, DateTime SentAtUtc);

/// <summary>What to send to bring the peer from the advertised state to the desired one: withdrawals first, then announcements.</summary>
internal sealed record RibChanges(List<IPNetwork> Withdrawn, List<RouteGroup> Announced)
{
    public bool IsEmpty => Withdrawn.Count == 0 && Announced.Count == 0;
}

/// <summary>
/// Adj-RIB-Out of one peer: the desired route set (from <c>PeerManager.Apply</c>) against what the current session has advertised.
/// Churn is coalesced in a dirty set of prefixes, so the latest desired state wins and the memory is bounded by the number of
/// prefixes ever desired since the last sync, never by the number of changes.
/// The desired set outlives sessions: a peer whose session restarts keeps its Adj-RIB-Out, and a new session starts by
/// re-advertising everything desired.
/// Thread safety: <see cref="SetDesired"/> and <see cref="Set"/> run on the caller of PeerManager, the rest on the
/// session loop; all under <c>_lock</c>, which is a leaf lock (nothing else is taken while it is held).
/// </summary>
internal sealed class AdjRibOut
{
    private const int LargeChange = 4096;

    private readonly Lock _lock = new();
    private Dictionary<IPNetwork, RouteAttributes> _desired = [];
    private readonly Dictionary<IPNetwork, Advertisement> _advertised = [];
    private readonly HashSet<IPNetwork> _dirty = [];

    public int AdvertisedCount
    {
        get { lock (_lock) return _advertised.Count; }
    }

    public int DesiredCount
    {
        get { lock (_lock) return _desired.Count; }
    }

    /// <summary>Desired prefixes not yet in the advertised state, plus advertised ones not yet withdrawn.</summary>
    public int PendingCount
    {
        get { lock (_lock) return _dirty.Count; }
    }

    /// <summary>Replaces the desired set; returns true when a prefix changed (the session then needs to sync).</summary>
    public bool SetDesired(IReadOnlyCollection<Route> routes)
    {
        var desired = new Dictionary<IPNetwork, RouteAttributes>(routes.Count);
        foreach (var route in routes) desired[route.Prefix] = route.Attributes;
        lock (_lock)
        {
            var before = _dirty.Count;
            foreach (var (prefix, attributes) in desired)
                if (!_desired.TryGetValue(prefix, out var old) || !old.Equals(attributes)) _dirty.Add(prefix);
            foreach (var prefix in _desired.Keys)
                if (!desired.ContainsKey(prefix)) _dirty.Add(prefix);
            _desired = desired;
            return _dirty.Count != before;
        }
    }

    /// <summary>
    /// Changes the desired state of one prefix per item (null attributes: not desired); returns true when something
    /// changed (the session then needs to sync).
    /// </summary>
    public bool Set(IEnumerable<(IPNetwork Prefix, RouteAttributes? Attributes)> changes)
    {
        lock (_lock)
        {
            var changed = false;
            foreach (var (prefix, attributes) in changes)
            {
                if (attributes is null)
                {
                    if (!_desired.Remove(prefix)) continue;
                }
                else if (_desired.TryGetValue(prefix, out var old) && old.Equals(attributes))
                {
                    continue;
                }
                else
                {
                    _desired[prefix] = attributes;
                }
                _dirty.Add(prefix);
                changed = true;
            }
            return changed;
        }
    }

    /// <summary>A new session starts with nothing advertised: every desired prefix becomes pending.</summary>
    public void ResetAdvertised()
    {
        lock (_lock)
        {
            _advertised.Clear();
            _dirty.Clear();
            _dirty.UnionWith(_desired.Keys);
        }
    }

    /// <summary>
    /// Takes the pending differences for the negotiated families and records them as advertised at <paramref name="sentAt"/> (the
    /// caller writes them right away). Prefixes of other families are dropped from the pending set: they are never sent on this session.
    /// </summary>
    public RibChanges TakeChanges(bool ipv4, bool ipv6, DateTimeOffset sentAt)
    {
        var withdrawn = new List<IPNetwork>();
        var groups = new Dictionary<(AddressFamily, RouteAttributes), List<IPNetwork>>();
        lock (_lock)
        {
            foreach (var prefix in _dirty)
            {
                if (!(prefix.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? ipv4 : ipv6)) continue;
                var isDesired = _desired.TryGetValue(prefix, out var want);
                var isAdvertised = _advertised.TryGetValue(prefix, out var have);
                if (isDesired && (!isAdvertised || !want!.Equals(have.Attributes)))
                {
                    Group(groups, want!, prefix);
                    _advertised[prefix] = new Advertisement(want!, sentAt.UtcDateTime);
                }
                else if (!isDesired && isAdvertised)
                {
                    withdrawn.Add(prefix);
                    _advertised.Remove(prefix);
                }
            }
            var wasLarge = _dirty.Count > LargeChange;
            _dirty.Clear();
            if (wasLarge)
                _dirty.TrimExcess(); // a first sync of 100,000 prefixes must not keep their room for good
        }
        return new RibChanges(withdrawn, [.. groups.Select(g => new RouteGroup(g.Key.Item1, g.Key.Item2, g.Value))]);
    }

    /// <summary>A copy of the prefixes advertised (sent) to the peer, each with when it was last sent with its current attributes.</summary>
    public Dictionary<IPNetwork, DateTimeOffset> AdvertisedPrefixes()
    {
        lock (_lock) return _advertised.ToDictionary(a => a.Key, a => new DateTimeOffset(a.Value.SentAtUtc, TimeSpan.Zero));
    }

    /// <summary>Everything advertised in one family, grouped by attributes (for a ROUTE-REFRESH answer).</summary>
    public List<RouteGroup> Advertised(AddressFamily family)
    {
        var groups = new Dictionary<(AddressFamily, RouteAttributes), List<IPNetwork>>();
        lock (_lock)
        {
            foreach (var (prefix, advertisement) in _advertised)
                if (prefix.BaseAddress.AddressFamily == family) Group(groups, advertisement.Attributes, prefix);
        }
        return [.. groups.Select(g => new RouteGroup(g.Key.Item1, g.Key.Item2, g.Value))];
    }

    private static void Group(Dictionary<(AddressFamily, RouteAttributes), List<IPNetwork>> groups, RouteAttributes attributes, IPNetwork prefix)
    {
        var key = (prefix.BaseAddress.AddressFamily, attributes);
        if (!groups.TryGetValue(key, out var list)) groups[key] = list = [];
        list.Add(prefix);
    }
}
