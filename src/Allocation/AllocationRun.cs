using System.Collections.Immutable;
using System.Net;

namespace BgpLb.Allocation;

/// <summary>
/// One from-scratch allocation pass over a fresh <see cref="AllocationSpace"/>. Addresses are only ever added during a
/// pass, so each CIDR's cursor only moves forward: finding the lowest free address is amortized O(1) and a pass is
/// O(requests + addresses scanned).
/// </summary>
internal static class AllocationRun
{
    /// <summary>Explicitly requested addresses go before automatic ones so that an automatic pick cannot take them.</summary>
    public static Comparer<AllocationRequest> PendingOrder { get; } = Comparer<AllocationRequest>.Create((a, b) =>
        a.RequestedAddresses.IsEmpty != b.RequestedAddresses.IsEmpty
            ? (a.RequestedAddresses.IsEmpty ? 1 : -1)
            : string.CompareOrdinal(a.Key, b.Key));

    public static AllocationResult Execute(ImmutableArray<AddressPool> pools, IReadOnlyList<AllocationRequest> requests,
        IReadOnlyDictionary<string, ImmutableArray<IPAddress>> previous)
    {
        var space = new AllocationSpace(pools);
        space.BeginStep();
        var unique = new Dictionary<string, AllocationRequest>(StringComparer.Ordinal);
        foreach (var request in requests)
            unique.TryAdd(request.Key, request);

        var fromPrevious = new List<(AllocationRequest Request, ImmutableArray<IPAddress> Current)>();
        var fromStatus = new List<AllocationRequest>();
        var pending = new List<AllocationRequest>();
        foreach (var request in unique.Values)
        {
            if (previous.TryGetValue(request.Key, out var held) && !held.IsEmpty)
                fromPrevious.Add((request, held));
            else if (!request.CurrentAddresses.IsEmpty)
                fromStatus.Add(request);
            else
                pending.Add(request);
        }

        // Holders known from the previous run are placed before those known only from their own status, so that a
        // stale status (a new Service showing an address another Service holds) never takes an address away.
        fromPrevious.Sort((a, b) => string.CompareOrdinal(a.Request.Key, b.Request.Key));
        fromStatus.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        var kept = new List<AllocationRequest>();
        foreach (var (request, current) in fromPrevious)
            (space.TryKeep(request, current, fromPrevious: true) ? kept : pending).Add(request);
        foreach (var request in fromStatus)
            (space.TryKeep(request, request.CurrentAddresses, fromPrevious: false) ? kept : pending).Add(request);

        // PreferDualStack holders that hold one family try to add the other from the same pool once every holder is placed.
        foreach (var request in kept)
        {
            if (space.MissesFamily(request))
                space.TryAddMissingFamily(request);
        }

        pending.Sort(PendingOrder);
        foreach (var request in pending)
            space.AllocateNew(request);
        return space.Result();
    }
}
