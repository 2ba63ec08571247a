using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using BgpLb.L2.Wire;

namespace BgpLb.L2.Sockets;

/// <summary>What the announcer needs to know about one network interface.</summary>
public sealed record LinkInfo(
    string Name, int Index, MacAddress Mac, bool IsUp, bool NoArp, bool IsEnslaved, bool IsEthernet, IPAddress? LinkLocal)
{
    private const int IffUp = 0x1;
    private const int IffNoArp = 0x80;
    private const int ArphrdEther = 1;

    /// <summary>ARP is answered on up, Ethernet, non-enslaved interfaces without NOARP (MetalLB's announcer rules).</summary>
    public bool CanAnswerArp => IsUp && IsEthernet && !IsEnslaved && !NoArp;

    /// <summary>NDP is answered on up, Ethernet, non-enslaved interfaces that have an IPv6 link-local address.</summary>
    public bool CanAnswerNdp => IsUp && IsEthernet && !IsEnslaved && LinkLocal is not null;

    /// <summary>Reads every interface from /sys/class/net and the link-local addresses from the runtime.</summary>
    public static IReadOnlyList<LinkInfo> Discover()
    {
        var linkLocal = new Dictionary<string, IPAddress>(StringComparer.Ordinal);
        foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            var address = nic.GetIPProperties().UnicastAddresses
                .Select(u => u.Address)
                .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetworkV6 && a.IsIPv6LinkLocal);
            if (address is not null)
                linkLocal[nic.Name] = address;
        }

        var links = new List<LinkInfo>();
        foreach (var directory in Directory.EnumerateDirectories("/sys/class/net"))
        {
            var name = Path.GetFileName(directory);
            if (TryRead(directory, name, linkLocal.GetValueOrDefault(name), out var link))
                links.Add(link);
        }
        return links;
    }

    private static bool TryRead(string directory, string name, IPAddress? linkLocal, out LinkInfo link)
    {
        link = null!;
        try
        {
            var index = int.Parse(File.ReadAllText(Path.Combine(directory, "ifindex")).Trim(), CultureInfo.InvariantCulture);
            var flags = Convert.ToInt32(File.ReadAllText(Path.Combine(directory, "flags")).Trim(), 16);
            var type = int.Parse(File.ReadAllText(Path.Combine(directory, "type")).Trim(), CultureInfo.InvariantCulture);
            if (!MacAddress.TryParse(File.ReadAllText(Path.Combine(directory, "address")).Trim(), out var mac))
                return false; // not an Ethernet-style address (tunnels, loopback without one)
            var enslaved = Path.Exists(Path.Combine(directory, "master"));
            link = new LinkInfo(name, index, mac, (flags & IffUp) != 0, (flags & IffNoArp) != 0, enslaved, type == ArphrdEther,
                linkLocal is null ? null : new IPAddress(linkLocal.GetAddressBytes()));
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
            return false; // the interface disappeared while being read
        }
    }
}
