using System.Net;
using BgpLb.Planning;
using BgpLb.Speaker.Addresses;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace BgpLb.Speaker.Tests;

/// <summary>Log lines print their values readably: address lists, peer lists and reason codes, never a type name.</summary>
public sealed class LogFormattingTests
{
    private static readonly IPAddress V4 = IPAddress.Parse("203.0.113.1");
    private static readonly IPAddress V6 = IPAddress.Parse("2001:db8::1");
    private static readonly EquatableArray<IPAddress> DualStack = [V4, V6];
    private static readonly EquatableArray<string> Peers = ["tor-a", "tor-b"];
    private static readonly BgpLb.Bgp.Wire.AfiSafi[] Families = [BgpLb.Bgp.Wire.AfiSafi.IPv4Unicast, BgpLb.Bgp.Wire.AfiSafi.IPv6Unicast];
    private static readonly IPEndPoint Local = new(IPAddress.Loopback, 179);

    private readonly FakeLogger _logger = new();

    private string Line() => Assert.Single(_logger.Collector.GetSnapshot()).Message;

    [Fact]
    public void Allocated_addresses_are_listed()
    {
        AllocationLog.Allocated(_logger, LogLevel.Information, "default/web", DualStack, "main");
        Assert.Equal("Allocated 203.0.113.1, 2001:db8::1 to default/web from pool main (in-process allocation)", Line());
    }

    [Fact]
    public void Negotiated_lists_the_families()
    {
        BgpLb.Bgp.Session.SessionLog.Negotiated(_logger, "tor-a", 64512, V4, 90, Families, Local);
        Assert.Equal("Peer tor-a negotiated AS 64512, id 203.0.113.1, hold 90 s, families IPv4/Unicast, IPv6/Unicast, local 127.0.0.1:179", Line());
    }

    [Fact]
    public void Announcing_lists_the_peers()
    {
        SpeakerLog.Announcing(_logger, LogLevel.Information, V4, "default/web", Peers);
        Assert.Equal("Announcing 203.0.113.1 of default/web to tor-a, tor-b", Line());
    }

    [Fact]
    public void Not_announcing_gives_the_reason_code_and_the_detail()
    {
        SpeakerLog.NotAnnouncing(_logger, LogLevel.Information, V4, "default/web", AnnounceReason.NoReadyEndpoint, "no endpoint");
        Assert.Equal("Not announcing 203.0.113.1 of default/web: NoReadyEndpoint (no endpoint)", Line());
    }
}
