using System.Collections.Concurrent;

namespace BgpLb.Bgp.Session;

/// <summary>
/// RFC 4724 §3 Restart State for one process (one <see cref="PeerManager"/>): a speaker that starts is, for a graceful
/// restart peer, a restarting speaker, so its OPENs set the R bit until a session with that peer has been Established.
/// Later sessions of the same process (reconnects, configuration changes, a peer removed and added again) do not.
/// Thread-safe: sessions read it when they are created and mark it from their loops.
/// </summary>
internal sealed class RestartState
{
    private readonly ConcurrentDictionary<PeerKey, bool> _established = new();

    public bool IsRestarting(PeerKey peer) => !_established.ContainsKey(peer);

    public void Established(PeerKey peer) => _established.TryAdd(peer, true);
}
