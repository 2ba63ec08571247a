using System.Collections.Immutable;
using System.Net;
using BgpLb.L2.Wire;

namespace BgpLb.L2.Announcing;

/// <summary>One address this node owns and where to answer for it.</summary>
/// <param name="Interfaces">Interface names; empty means every usable interface (L2Advertisement.spec.interfaces).</param>
public sealed record L2Announcement(IPAddress Address, ImmutableArray<string> Interfaces);

/// <summary>An address this node answers ARP/NDP for.</summary>
/// <param name="GratuitousSentAt">When its last gratuitous ARP / unsolicited NA went out; null when none could be sent (no usable interface).</param>
public sealed record AnsweredAddress(IPAddress Address, DateTimeOffset? GratuitousSentAt);

/// <summary>Another host answered the probe for an address this node should announce.</summary>
public sealed record AddressConflict(IPAddress Address, string Interface, MacAddress OtherHost, DateTimeOffset DetectedAt);

public sealed record L2AnnouncerOptions
{
    /// <summary>Gratuitous ARP / unsolicited NA repetition after a takeover (MetalLB: every 1.1 s for 5 s).</summary>
    public TimeSpan GratuitousInterval { get; init; } = TimeSpan.FromMilliseconds(1100);
    public TimeSpan GratuitousDuration { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>How long to wait for an answer to the conflict probe before announcing; zero disables probing.</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromMilliseconds(200);
    /// <summary>
    /// Consecutive answered probes before the address counts as in conflict. A previous owner that has not yet noticed the
    /// handover answers one probe or two; a host that really holds the address answers them all.
    /// </summary>
    public int ProbeAttempts { get; init; } = 3;
    /// <summary>After a conflict, probe again this often; the address is announced once nobody answers.</summary>
    public TimeSpan ConflictRetryInterval { get; init; } = TimeSpan.FromSeconds(5);
    public TimeSpan InterfaceRescanInterval { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Regular expressions of interface names never answered on, until <see cref="L2Announcer.SetExcludedInterfaces"/>.</summary>
    public ImmutableArray<string> ExcludedInterfacePatterns { get; init; } = [];
}
