using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace BgpLb.Bgp.Session;

/// <summary>Next hops of one session, derived from its local address.</summary>
internal readonly record struct NextHops(IPAddress? IPv4, IPAddress? IPv6, IPAddress? IPv6LinkLocal);

/// <summary>Finds next hops and the router id from the local address of a connection and the host's interfaces.</summary>
internal static class LocalAddresses
{
    /// <summary>
    /// IPv4 routes use the local IPv4 address (or, on an IPv6 session, an IPv4 address of the interface holding the local
    /// address); IPv6 routes likewise, with that interface's link-local address as the second next hop when there is one.
    /// </summary>
    public static NextHops Resolve(IPAddress local) => Resolve(local, InterfaceAddresses(local));

    internal static NextHops Resolve(IPAddress local, IReadOnlyList<IPAddress> sameInterface)
    {
        IPAddress? v4 = local.AddressFamily == AddressFamily.InterNetwork ? local
            : sameInterface.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork);
        IPAddress? v6 = local.AddressFamily == AddressFamily.InterNetworkV6 && !local.IsIPv6LinkLocal ? local
            : sameInterface.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetworkV6 && !a.IsIPv6LinkLocal);
        var linkLocal = local.IsIPv6LinkLocal ? local : sameInterface.FirstOrDefault(a => a.IsIPv6LinkLocal);
        if (linkLocal is not null && linkLocal.ScopeId != 0) linkLocal = new IPAddress(linkLocal.GetAddressBytes());
        return new NextHops(v4, v6, v6 is null ? null : linkLocal);
    }

    /// <summary>The unicast addresses of the interface that holds <paramref name="local"/> (empty when none does).</summary>
    private static List<IPAddress> InterfaceAddresses(IPAddress local)
    {
        try
        {
            foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
            {
                var addresses = nic.GetIPProperties().UnicastAddresses.Select(u => u.Address).ToList();
                if (addresses.Any(a => Same(a, local))) return addresses;
            }
        }
        catch (NetworkInformationException)
        {
        }
        return [];
    }

    private static bool Same(IPAddress a, IPAddress b) => a.AddressFamily == b.AddressFamily && a.GetAddressBytes().AsSpan().SequenceEqual(b.GetAddressBytes());

    /// <summary>The configured id, else the connection's local IPv4 address, else an IPv4 address of the host; never 0.0.0.0.</summary>
    public static IPAddress RouterId(IPAddress? configured, IPAddress local)
    {
        if (configured is not null && !configured.Equals(IPAddress.Any)) return configured;
        if (local.AddressFamily == AddressFamily.InterNetwork && !local.Equals(IPAddress.Any)) return local;
        return HostIPv4() ?? throw new InvalidOperationException("No IPv4 address for the BGP identifier; set RouterId.");
    }

    private static IPAddress? HostIPv4()
    {
        var all = NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses.Select(u => u.Address))
            .Where(a => a.AddressFamily == AddressFamily.InterNetwork && !a.Equals(IPAddress.Any))
            .ToList();
        return all.FirstOrDefault(a => !IPAddress.IsLoopback(a)) ?? all.FirstOrDefault();
    }
}
