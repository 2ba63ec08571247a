namespace BgpLb.Bgp.Wire;

/// <summary>What we offer and accept in OPEN negotiation for one peer.</summary>
internal sealed record LocalOpenPolicy
{
    public required uint LocalAs { get; init; }
    /// <summary>Fixed peer AS; null when <see cref="DynamicAsn"/> decides.</summary>
    public uint? PeerAs { get; init; }
    public DynamicAsnMode DynamicAsn { get; init; }
    public required uint BgpId { get; init; }
    /// <summary>Our proposed hold time in seconds: 0 or at least 3.</summary>
    public required ushort HoldTime { get; init; }
    public required IReadOnlyList<AfiSafi> Families { get; init; }
    public bool ExtendedMessage { get; init; } = true;
    public string? HostName { get; init; }
    public GracefulRestartCapability? GracefulRestart { get; init; }

    /// <summary>The OPEN we send: MP for our families, route refresh, enhanced route refresh, four-octet AS and the optional ones.</summary>
    public OpenMessage ToOpenMessage() => new(BgpConstants.Version, OpenCodec.MyAsField(LocalAs), HoldTime, BgpId, new BgpCapabilities
    {
        Multiprotocol = Families,
        RouteRefresh = true,
        EnhancedRouteRefresh = true,
        FourOctetAs = LocalAs,
        ExtendedMessage = ExtendedMessage,
        GracefulRestart = GracefulRestart,
        HostName = HostName,
    });
}

/// <summary>The outcome of OPEN negotiation; the codec context for the session.</summary>
internal sealed record NegotiatedSession
{
    public required uint PeerAs { get; init; }
    public required uint PeerBgpId { get; init; }
    public required bool IsInternal { get; init; }
    /// <summary>Seconds; 0 means no hold timer and no keepalives.</summary>
    public required ushort HoldTime { get; init; }
    /// <summary>Seconds; a third of the hold time.</summary>
    public required ushort KeepaliveTime { get; init; }
    public required bool FourOctetAs { get; init; }
    public required IReadOnlyList<AfiSafi> Families { get; init; }
    public required bool RouteRefresh { get; init; }
    public required bool EnhancedRouteRefresh { get; init; }
    public required bool ExtendedMessage { get; init; }
    public GracefulRestartCapability? PeerGracefulRestart { get; init; }
    public string? PeerHostName { get; init; }

    /// <summary>4096, or 65535 for UPDATE/NOTIFICATION/ROUTE-REFRESH when both sides sent Extended Message.</summary>
    public int MaxMessageLength => ExtendedMessage ? BgpConstants.ExtendedMaxMessageLength : BgpConstants.MaxMessageLength;

    public UpdateDecodeContext DecodeContext => new(FourOctetAs, IsInternal);
}

internal static class OpenNegotiation
{
    /// <summary>Checks a received OPEN against our policy (RFC 4271 §6.2, RFC 6286, RFC 6793, RFC 7607) and negotiates.</summary>
    /// <exception cref="BgpNotificationException">2/6 hold time 1 or 2; 2/3 BGP identifier 0, or ours on iBGP; 2/2 bad peer AS.</exception>
    public static NegotiatedSession Negotiate(OpenMessage peer, LocalOpenPolicy local)
    {
        var caps = peer.Capabilities;
        var peerAs = caps.FourOctetAs ?? peer.MyAs;
        var isInternal = peerAs == local.LocalAs;

        if (peer.HoldTime is 1 or 2)
        {
            throw new BgpNotificationException(BgpErrorCode.Open, OpenSubcode.UnacceptableHoldTime);
        }

        if (peer.BgpId == 0 || (isInternal && peer.BgpId == local.BgpId))
        {
            throw new BgpNotificationException(BgpErrorCode.Open, OpenSubcode.BadBgpIdentifier);
        }

        if (!IsAcceptablePeerAs(peer, peerAs, local))
        {
            throw new BgpNotificationException(BgpErrorCode.Open, OpenSubcode.BadPeerAs);
        }

        // RFC 4760: a peer that sends no Multiprotocol capability speaks IPv4 unicast only.
        IReadOnlyList<AfiSafi> peerFamilies = caps.Multiprotocol.Count == 0 ? [AfiSafi.IPv4Unicast] : caps.Multiprotocol;
        var holdTime = Math.Min(local.HoldTime, peer.HoldTime);
        return new NegotiatedSession
        {
            PeerAs = peerAs,
            PeerBgpId = peer.BgpId,
            IsInternal = isInternal,
            HoldTime = holdTime,
            KeepaliveTime = (ushort)(holdTime / 3),
            FourOctetAs = caps.FourOctetAs is not null,
            Families = [.. local.Families.Where(peerFamilies.Contains)],
            RouteRefresh = caps.RouteRefresh,
            EnhancedRouteRefresh = caps.EnhancedRouteRefresh,
            ExtendedMessage = local.ExtendedMessage && caps.ExtendedMessage,
            PeerGracefulRestart = caps.GracefulRestart,
            PeerHostName = caps.HostName,
        };
    }

    private static bool IsAcceptablePeerAs(OpenMessage peer, uint peerAs, LocalOpenPolicy local)
    {
        if (peerAs == 0 || peer.MyAs == 0)
        {
            return false; // RFC 7607
        }

        if (peer.Capabilities.FourOctetAs is { } as4)
        {
            // RFC 6793: My AS carries AS_TRANS when the real AS does not fit 2 octets, else the AS itself.
            var expectedMyAs = as4 > ushort.MaxValue ? BgpConstants.AsTrans : as4;
            if (peer.MyAs != expectedMyAs)
            {
                return false;
            }
        }

        if (local.PeerAs is { } expected)
        {
            return peerAs == expected;
        }

        return local.DynamicAsn switch
        {
            DynamicAsnMode.Internal => peerAs == local.LocalAs,
            DynamicAsnMode.External => peerAs != local.LocalAs,
            _ => true,
        };
    }
}
