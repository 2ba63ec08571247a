using System.Collections.Immutable;
using System.Net.Sockets;
using BgpLb.Allocation;
using BgpLb.StatusApi;

namespace BgpLb.Cli;

/// <summary><c>bgplb status</c>: the speakers' sessions and L2 owners, the pools' usage and the configuration's validity. A pure function of its inputs.</summary>
public static class StatusBuilder
{
    public static ClusterStatus Build(ClusterSnapshot cluster, IReadOnlyList<SpeakerStatus> speakers)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(speakers);
        var problems = cluster.State.Problems
            .Select(p => new ConfigProblem(p.Severity.ToString(), p.Line is { } line ? $"{p.Origin}:{line}" : p.Origin, p.Resource?.ToString(), p.Field, p.Message))
            .ToList();
        var sessions = speakers.OrderBy(s => s.Node, StringComparer.Ordinal)
            .SelectMany(s => s.Sessions.Select(p => new SessionRow(s.Node, p.Peer, p.Address, p.State, p.UptimeSeconds, p.PrefixesAdvertised, p.LastError)))
            .ToList();
        var owners = new List<L2OwnerRow>();
        var unannounced = new List<UnannouncedRow>();
        foreach (var speaker in speakers.OrderBy(s => s.Node, StringComparer.Ordinal))
        {
            foreach (var service in speaker.Services)
            {
                foreach (var address in service.Addresses)
                {
                    if (address.L2 is { } l2 && (l2.Announced || l2.Reason == Planning.AnnounceReason.AddressConflict))
                    {
                        var conflict = speaker.L2.Conflicts.FirstOrDefault(c => c.Address == address.Address);
                        owners.Add(new L2OwnerRow(address.Address, service.Service, speaker.Node, conflict?.OtherMac));
                    }
                    if (address.Unannounced is { } reason)
                        unannounced.Add(new UnannouncedRow(service.Service, address.Address, reason, speaker.Node));
                }
            }
        }
        var speakersUnread = speakers.Count > 0 ? null : cluster.SpeakersUnread ?? "no --speaker URL given";
        return new ClusterStatus(ClusterStatus.CurrentVersion, !cluster.State.HasErrors, problems, sessions, owners, Pools(cluster), unannounced, speakersUnread);
    }

    /// <summary>Per pool and family: its size as the allocator counts it (avoidBuggyIPs) and the addresses in use (a shared one counts once).</summary>
    private static List<PoolRow> Pools(ClusterSnapshot cluster)
    {
        var rows = new List<PoolRow>();
        var used = cluster.Allocations.Entries.Values.Where(e => e.IsAllocated)
            .SelectMany(e => e.Addresses.Select(a => (e.Pool, Address: a)))
            .Distinct()
            .ToList();
        foreach (var pool in cluster.State.Config.Pools)
        {
            foreach (var family in new[] { AddressFamily.InterNetwork, AddressFamily.InterNetworkV6 })
            {
                var cidrs = pool.Cidrs.Where(c => c.BaseAddress.AddressFamily == family).ToList();
                if (cidrs.Count == 0)
                    continue;
                // The allocator's own count of the family's part of the pool.
                var total = Allocator.Allocate([pool with { Cidrs = [.. cidrs] }], [], ImmutableDictionary<string, ImmutableArray<System.Net.IPAddress>>.Empty).Pools[0].TotalAddresses;
                var inUse = used.Count(u => u.Pool == pool.Name && u.Address.AddressFamily == family);
                rows.Add(new PoolRow(pool.Name, ServiceFamilies.Name(family), total, inUse, total - inUse));
            }
        }
        return rows;
    }
}
