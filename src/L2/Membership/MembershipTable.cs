using System.Collections.Immutable;

namespace BgpLb.L2.Membership;

/// <summary>
/// Pure liveness bookkeeping (time is passed in). A peer is alive while its last heartbeat is younger than the suspicion
/// timeout. Peers start alive as if heard when they were added, so a starting speaker does not claim every address
/// before its peers had a chance to be heard. A leave marks a peer dead until a heartbeat of a newer incarnation.
/// </summary>
internal sealed class MembershipTable(string self, TimeSpan suspicionTimeout)
{
    private readonly Dictionary<string, Peer> _peers = new(StringComparer.Ordinal);

    public ImmutableSortedSet<string> Alive { get; private set; } = ImmutableSortedSet.Create(StringComparer.Ordinal, self);

    public IEnumerable<string> Peers => _peers.Keys;

    /// <summary>Replaces the peer list (self excluded); returns true when the alive set changed.</summary>
    public bool SetPeers(IEnumerable<string> names, TimeSpan now)
    {
        var wanted = names.Where(n => n != self).ToHashSet(StringComparer.Ordinal);
        foreach (var gone in _peers.Keys.Where(n => !wanted.Contains(n)).ToList())
            _peers.Remove(gone);
        foreach (var name in wanted.Where(n => !_peers.ContainsKey(n)))
            _peers[name] = new Peer { LastHeard = now, Alive = true };
        return Recompute();
    }

    /// <summary>
    /// Whether a datagram of <paramref name="name"/> is newer than every one accepted from it before (a higher incarnation,
    /// or the same with a higher sequence), and if so remembers it: a replayed datagram is never newer.
    /// </summary>
    public bool TryAdvance(string name, ulong incarnation, uint sequence)
    {
        if (!_peers.TryGetValue(name, out var peer))
            return false;
        if (incarnation < peer.SeenIncarnation || incarnation == peer.SeenIncarnation && sequence <= peer.SeenSequence)
            return false;
        (peer.SeenIncarnation, peer.SeenSequence) = (incarnation, sequence);
        return true;
    }

    /// <summary>A heartbeat arrived; returns true when the peer became alive.</summary>
    public bool Heard(string name, ulong incarnation, TimeSpan now)
    {
        if (!_peers.TryGetValue(name, out var peer) || (peer.LeftIncarnation is { } left && incarnation <= left))
            return false;
        peer.LastHeard = now;
        peer.Incarnation = incarnation;
        peer.LeftIncarnation = null;
        peer.Alive = true;
        return Recompute();
    }

    /// <summary>A graceful leave arrived; returns true when the peer was alive.</summary>
    public bool Left(string name, ulong incarnation)
    {
        if (!_peers.TryGetValue(name, out var peer) || incarnation < peer.Incarnation)
            return false;
        peer.LeftIncarnation = incarnation;
        peer.Alive = false;
        return Recompute();
    }

    /// <summary>Marks peers not heard within the suspicion timeout dead; returns their names.</summary>
    public IReadOnlyList<string> Expire(TimeSpan now)
    {
        var died = new List<string>();
        foreach (var (name, peer) in _peers)
        {
            if (peer.Alive && now - peer.LastHeard >= suspicionTimeout)
            {
                peer.Alive = false;
                died.Add(name);
            }
        }
        if (died.Count > 0)
            Recompute();
        return died;
    }

    private bool Recompute()
    {
        var alive = _peers.Where(p => p.Value.Alive).Select(p => p.Key).Append(self).ToImmutableSortedSet(StringComparer.Ordinal);
        if (alive.SetEquals(Alive))
            return false;
        Alive = alive;
        return true;
    }

    private sealed class Peer
    {
        public TimeSpan LastHeard { get; set; }
        public ulong Incarnation { get; set; }
        public ulong? LeftIncarnation { get; set; }
        public bool Alive { get; set; }
        public ulong SeenIncarnation { get; set; }
        public uint SeenSequence { get; set; }
    }
}
