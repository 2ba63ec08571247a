using System.Buffers;
using System.Net;
using System.Net.Sockets;
using BgpLb.Bgp.Wire;

namespace BgpLb.Fuzz;

/// <summary>Writes one valid stream per message type, produced by the product writers, as fuzzing seeds.</summary>
internal static class SeedCorpus
{
    public static void Write(string directory)
    {
        Directory.CreateDirectory(directory);
        var policy = new LocalOpenPolicy
        {
            LocalAs = 64513,
            BgpId = 0xC6120002,
            HoldTime = 90,
            Families = [AfiSafi.IPv4Unicast, AfiSafi.IPv6Unicast],
            HostName = "node-1",
            GracefulRestart = new GracefulRestartCapability(0x8, 120, [new GracefulRestartFamily(AfiSafi.IPv4Unicast, 0x80)]),
        };
        var v4 = EncodedPathAttributes.Create(new PathAttributeSet
        {
            AsPath = [64513],
            NextHop = IPAddress.Parse("198.18.0.2"),
            Communities = [0xFC000064],
            LargeCommunities = [new BgpLb.Bgp.LargeCommunity(64513, 1, 2)],
        });
        var v6 = EncodedPathAttributes.Create(new PathAttributeSet
        {
            AsPath = [4200000000],
            FourOctetAs = false,
            NextHop = IPAddress.Parse("2001:db8::2"),
            LinkLocalNextHop = IPAddress.Parse("fe80::2"),
            MultiExitDisc = 10,
            LocalPref = 200,
            ExtendedCommunities = [0x0002FC0100000001],
        });

        // Control byte 0x03: four-octet AS, iBGP, 4096-byte limit, no split.
        Seed(directory, "open", 0x03, w => OpenCodec.Write(w, policy.ToOpenMessage()));
        Seed(directory, "keepalive", 0x03, KeepaliveCodec.Write);
        Seed(directory, "update-ipv4", 0x01, w => UpdateWriter.WriteAnnouncements(w, v4, [IPNetwork.Parse("203.0.113.1/32"), IPNetwork.Parse("198.51.100.0/24")]));
        Seed(directory, "update-ipv6", 0x02, w => UpdateWriter.WriteAnnouncements(w, v6, [IPNetwork.Parse("2001:db8:1::1/128"), IPNetwork.Parse("2001:db8:2::/48")]));
        Seed(directory, "withdraw-ipv4", 0x03, w => UpdateWriter.WriteWithdrawals(w, AddressFamily.InterNetwork, [IPNetwork.Parse("203.0.113.1/32")]));
        Seed(directory, "withdraw-ipv6", 0x03, w => UpdateWriter.WriteWithdrawals(w, AddressFamily.InterNetworkV6, [IPNetwork.Parse("2001:db8::/32")]));
        Seed(directory, "end-of-rib", 0x03, w =>
        {
            UpdateWriter.WriteEndOfRib(w, AddressFamily.InterNetwork);
            UpdateWriter.WriteEndOfRib(w, AddressFamily.InterNetworkV6);
        });
        Seed(directory, "notification", 0x03, w => NotificationCodec.WriteShutdown(w, CeaseSubcode.AdministrativeShutdown, "maintenance"));
        Seed(directory, "route-refresh", 0x03, w =>
        {
            RouteRefreshCodec.Write(w, new RouteRefreshMessage(AfiSafi.IPv4Unicast, RouteRefreshSubtype.BeginningOfRouteRefresh));
            RouteRefreshCodec.Write(w, new RouteRefreshMessage(AfiSafi.IPv6Unicast, RouteRefreshSubtype.Normal));
        });
    }

    private static void Seed(string directory, string name, byte control, Action<IBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        buffer.Write([control]);
        write(buffer);
        File.WriteAllBytes(Path.Combine(directory, name), buffer.WrittenSpan.ToArray());
    }
}
