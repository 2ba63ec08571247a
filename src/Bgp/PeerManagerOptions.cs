using System.Net;

namespace BgpLb.Bgp;

/// <summary>Settings of a <see cref="PeerManager"/> that are not per peer.</summary>
public sealed record PeerManagerOptions
{
    /// <summary>Passive BGP endpoint (e.g. 0.0.0.0:179 or [::]:179); null disables listening, port 0 binds an ephemeral port (see <see cref="PeerManager.ListenEndPoint"/>).</summary>
    public IPEndPoint? ListenEndPoint { get; init; }

    /// <summary>
    /// Restart Time advertised in the Graceful Restart capability (12 bits, at most 4095 s): how long a peer keeps our routes
    /// as stale after a stop of a <see cref="BgpPeerConfig.GracefulRestart"/> peer's session, waiting for us to come back.
    /// </summary>
    public TimeSpan GracefulRestartTime { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Where BFD listens and sends (the RFCs' ports unless a test says otherwise).</summary>
    public Bfd.BfdEndpointOptions Bfd { get; init; } = new();

    /// <summary>RFC 9003 shutdown communication sent with Cease/Administrative Shutdown by <see cref="PeerManager.StopAsync"/>.</summary>
    public string ShutdownCommunication { get; init; } = "bgplb speaker shutting down";
}
