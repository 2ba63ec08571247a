namespace BgpLb.Bgp.Session;

/// <summary>Per-peer counters; written by the session loops, read by <c>PeerManager.GetStatus</c> (Interlocked).</summary>
internal sealed class SessionCounters
{
    private long _updatesSent;
    private long _updatesReceived;
    private long _messagesSent;
    private long _messagesReceived;
    private long _prefixesAnnounced;
    private long _prefixesWithdrawn;
    private long _attributeErrors;

    public void MessageSent() => Interlocked.Increment(ref _messagesSent);
    public void MessageReceived() => Interlocked.Increment(ref _messagesReceived);
    public void UpdateReceived() => Interlocked.Increment(ref _updatesReceived);
    public void AttributeError() => Interlocked.Increment(ref _attributeErrors);

    public void UpdatesSent(int updates, int announced, int withdrawn)
    {
        Interlocked.Add(ref _updatesSent, updates);
        Interlocked.Add(ref _messagesSent, updates);
        Interlocked.Add(ref _prefixesAnnounced, announced);
        Interlocked.Add(ref _prefixesWithdrawn, withdrawn);
    }

    public PeerCounters Snapshot() => new(
        Interlocked.Read(ref _updatesSent), Interlocked.Read(ref _updatesReceived),
        Interlocked.Read(ref _messagesSent), Interlocked.Read(ref _messagesReceived),
        Interlocked.Read(ref _prefixesAnnounced), Interlocked.Read(ref _prefixesWithdrawn),
        Interlocked.Read(ref _attributeErrors));
}
