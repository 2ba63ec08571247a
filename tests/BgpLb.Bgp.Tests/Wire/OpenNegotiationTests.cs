using BgpLb.Bgp.Wire;

namespace BgpLb.Bgp.Tests.Wire;

public class OpenNegotiationTests
{
    private static readonly LocalOpenPolicy Local = new()
    {
        LocalAs = 64513,
        PeerAs = 64512,
        BgpId = 0xC6120002,
        HoldTime = 90,
        Families = [AfiSafi.IPv4Unicast, AfiSafi.IPv6Unicast],
    };

    private static OpenMessage Peer(ushort myAs = 64512, uint? as4 = 64512, ushort hold = 180, uint id = 0xC6120001) =>
        new(4, myAs, hold, id, new BgpCapabilities
        {
            FourOctetAs = as4,
            Multiprotocol = [AfiSafi.IPv4Unicast],
            RouteRefresh = true,
            ExtendedMessage = true,
        });

    [Fact]
    public void Negotiates_minimum_hold_time_common_families_and_shared_capabilities()
    {
        var s = OpenNegotiation.Negotiate(Peer(), Local);
        Assert.Equal((64512u, false, (ushort)90, (ushort)30), (s.PeerAs, s.IsInternal, s.HoldTime, s.KeepaliveTime));
        Assert.Equal([AfiSafi.IPv4Unicast], s.Families);
        Assert.True(s.FourOctetAs && s.RouteRefresh && s.ExtendedMessage);
        Assert.False(s.EnhancedRouteRefresh);
        Assert.Equal(65535, s.MaxMessageLength);
        Assert.Equal(0xC6120001u, s.PeerBgpId);
    }

    [Fact]
    public void Hold_time_zero_on_either_side_disables_keepalives()
    {
        var s = OpenNegotiation.Negotiate(Peer(hold: 0), Local);
        Assert.Equal((0, 0), (s.HoldTime, s.KeepaliveTime));
        s = OpenNegotiation.Negotiate(Peer(hold: 3), Local);
        Assert.Equal((3, 1), (s.HoldTime, s.KeepaliveTime));
    }

    [Fact]
    public void Extended_message_needs_both_sides()
    {
        Assert.False(OpenNegotiation.Negotiate(Peer(), Local with { ExtendedMessage = false }).ExtendedMessage);
        Assert.Equal(4096, OpenNegotiation.Negotiate(Peer(), Local with { ExtendedMessage = false }).MaxMessageLength);
    }

    [Fact]
    public void Peer_without_multiprotocol_capability_speaks_ipv4_unicast_only()
    {
        var peer = Peer() with { Capabilities = Peer().Capabilities with { Multiprotocol = [] } };
        Assert.Equal([AfiSafi.IPv4Unicast], OpenNegotiation.Negotiate(peer, Local).Families);
        Assert.Empty(OpenNegotiation.Negotiate(peer, Local with { Families = [AfiSafi.IPv6Unicast] }).Families);
    }

    [Fact]
    public void Peer_without_as4_uses_my_as_field_and_two_octet_encoding()
    {
        var s = OpenNegotiation.Negotiate(Peer(as4: null), Local);
        Assert.Equal(64512u, s.PeerAs);
        Assert.False(s.FourOctetAs);
        Assert.False(s.DecodeContext.FourOctetAs);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Hold_time_1_or_2_is_2_6(ushort hold)
    {
        Wire.AssertError(Wire.Throws(() => OpenNegotiation.Negotiate(Peer(hold: hold), Local)), BgpErrorCode.Open, 6);
    }

    [Fact]
    public void Bgp_identifier_zero_is_2_3()
    {
        Wire.AssertError(Wire.Throws(() => OpenNegotiation.Negotiate(Peer(id: 0), Local)), BgpErrorCode.Open, 3);
    }

    [Fact]
    public void Own_bgp_identifier_is_2_3_on_ibgp_and_legal_on_ebgp()
    {
        var ibgp = Local with { PeerAs = 64513 };
        Wire.AssertError(Wire.Throws(() => OpenNegotiation.Negotiate(Peer(64513, 64513, id: Local.BgpId), ibgp)), BgpErrorCode.Open, 3);
        Assert.True(OpenNegotiation.Negotiate(Peer(64513, 64513), ibgp).IsInternal);
        Assert.Equal(Local.BgpId, OpenNegotiation.Negotiate(Peer(id: Local.BgpId), Local).PeerBgpId);
    }

    [Theory]
    [InlineData(64999, 64999u)] // wrong AS
    [InlineData(64999, null)]   // wrong AS without AS4
    [InlineData(64512, 64999u)] // AS4 takes precedence over My AS
    [InlineData(0, 0u)]         // RFC 7607
    [InlineData(0, null)]
    [InlineData(0, 64512u)]     // My AS 0 with AS4
    public void Peer_as_mismatch_or_zero_is_2_2(ushort myAs, uint? as4)
    {
        Wire.AssertError(Wire.Throws(() => OpenNegotiation.Negotiate(Peer(myAs, as4), Local)), BgpErrorCode.Open, 2);
    }

    [Fact]
    public void Four_octet_peer_as_needs_as_trans_in_my_as()
    {
        var local = Local with { PeerAs = 4200000000 };
        Assert.Equal(4200000000u, OpenNegotiation.Negotiate(Peer(23456, 4200000000), local).PeerAs);
        Wire.AssertError(Wire.Throws(() => OpenNegotiation.Negotiate(Peer(64512, 4200000000), local)), BgpErrorCode.Open, 2);
        // An AS4 that fits in two octets must be repeated in My AS.
        Wire.AssertError(Wire.Throws(() => OpenNegotiation.Negotiate(Peer(23456, 64512), Local)), BgpErrorCode.Open, 2);
    }

    [Fact]
    public void Dynamic_internal_requires_our_as_and_external_any_other()
    {
        var internalPolicy = Local with { PeerAs = null, DynamicAsn = DynamicAsnMode.Internal };
        Assert.True(OpenNegotiation.Negotiate(Peer(64513, 64513), internalPolicy).IsInternal);
        Wire.AssertError(Wire.Throws(() => OpenNegotiation.Negotiate(Peer(64512, 64512), internalPolicy)), BgpErrorCode.Open, 2);

        var externalPolicy = Local with { PeerAs = null, DynamicAsn = DynamicAsnMode.External };
        Assert.Equal(65000u, OpenNegotiation.Negotiate(Peer(65000, 65000), externalPolicy).PeerAs);
        Wire.AssertError(Wire.Throws(() => OpenNegotiation.Negotiate(Peer(64513, 64513), externalPolicy)), BgpErrorCode.Open, 2);
    }

    [Fact]
    public void Hold_time_is_checked_before_identifier_and_identifier_before_as()
    {
        Wire.AssertError(Wire.Throws(() => OpenNegotiation.Negotiate(Peer(1, 1, hold: 1, id: 0), Local)), BgpErrorCode.Open, 6);
        Wire.AssertError(Wire.Throws(() => OpenNegotiation.Negotiate(Peer(1, 1, id: 0), Local)), BgpErrorCode.Open, 3);
    }

    [Fact]
    public void Local_open_carries_policy_capabilities_and_round_trips()
    {
        var gr = new GracefulRestartCapability(0x8, 120, [new GracefulRestartFamily(AfiSafi.IPv4Unicast, 0x80)]);
        var policy = Local with { HostName = "node-1", GracefulRestart = gr };
        var read = OpenCodec.Read(Wire.Body(Wire.Write(w => OpenCodec.Write(w, policy.ToOpenMessage()))));
        var c = read.Capabilities;
        Assert.Equal(policy.Families, c.Multiprotocol);
        Assert.True(c.RouteRefresh && c.EnhancedRouteRefresh && c.ExtendedMessage);
        Assert.Equal(64513u, c.FourOctetAs);
        Assert.Equal("node-1", c.HostName);
        Assert.Equal((gr.Flags, gr.RestartTime), (c.GracefulRestart!.Flags, c.GracefulRestart.RestartTime));
        Assert.Equal(gr.Families, c.GracefulRestart.Families);
        Assert.Equal((ushort)90, read.HoldTime);
    }

    [Fact]
    public void Peer_graceful_restart_and_hostname_are_reported()
    {
        var gr = new GracefulRestartCapability(0, 60, []);
        var peer = Peer() with { Capabilities = Peer().Capabilities with { GracefulRestart = gr, HostName = "r1", EnhancedRouteRefresh = true } };
        var s = OpenNegotiation.Negotiate(peer, Local);
        Assert.Same(gr, s.PeerGracefulRestart);
        Assert.Equal("r1", s.PeerHostName);
        Assert.True(s.EnhancedRouteRefresh);
    }
}
