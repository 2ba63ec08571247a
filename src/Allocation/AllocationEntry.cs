using System.Collections.Immutable;
using System.Net;

namespace BgpLb.Allocation;

/// <summary>Why a request has no address. <see cref="None"/> means it has its addresses.</summary>
public enum AllocationFailure
{
    None,
    /// <summary>The request contradicts itself (both loadBalancerIPs and spec.loadBalancerIP, a malformed IP, ...).</summary>
    InvalidRequest,
    /// <summary>The metallb.io/address-pool annotation names no pool.</summary>
    PoolNotFound,
    /// <summary>The pool's serviceAllocation does not admit this Service, or the requested IP lies outside the annotated pool.</summary>
    PoolNotAllowed,
    /// <summary>A requested address lies in no pool.</summary>
    NotInAnyPool,
    /// <summary>A requested address is held by a Service it may not share with.</summary>
    AddressInUse,
    /// <summary>The requested addresses or the pools do not fit the Service's IP families.</summary>
    FamilyMismatch,
    /// <summary>The pools the Service may use have no free (or shareable) address left.</summary>
    PoolExhausted,
    /// <summary>No pool with autoAssign is available to the Service.</summary>
    NoPoolAvailable,
}

/// <summary>The allocator's answer for one request: the addresses (primary family first) and the pool, or why there are none.</summary>
public sealed record AllocationEntry(string Key, string? Pool, ImmutableArray<IPAddress> Addresses, AllocationFailure Failure, string Reason)
{
    public bool IsAllocated => Failure == AllocationFailure.None;

    public bool Equals(AllocationEntry? other) =>
        other is not null && Key == other.Key && Pool == other.Pool && Failure == other.Failure && Reason == other.Reason
        && Addresses.SequenceEqual(other.Addresses);

    public override int GetHashCode() => HashCode.Combine(Key, Pool, Failure, Reason, Addresses.Length);

    public override string ToString() => IsAllocated
        ? $"{Key}: {string.Join(", ", Addresses)} from pool {Pool}"
        : $"{Key}: no address ({Failure}: {Reason})";
}

/// <summary>How many addresses a pool has and how many are in use (a shared address counts once), in all and per family.</summary>
public sealed record PoolUsage(string Pool, double TotalAddresses, int AddressesInUse, int Consumers)
{
    public double IPv4Addresses { get; init; }
    public double IPv6Addresses { get; init; }
    public int IPv4AddressesInUse { get; init; }
    public int IPv6AddressesInUse { get; init; }
}

/// <summary>The allocator's output: one entry per request, in key order, and the usage of every pool.</summary>
public sealed record AllocationResult(ImmutableSortedDictionary<string, AllocationEntry> Entries, ImmutableArray<PoolUsage> Pools)
{
    public static AllocationResult Empty { get; } = new(ImmutableSortedDictionary.Create<string, AllocationEntry>(StringComparer.Ordinal), []);

    /// <summary>The addresses held per key: feed it back as the previous allocations of the next run.</summary>
    public ImmutableDictionary<string, ImmutableArray<IPAddress>> Addresses =>
        Entries.Values.Where(e => e.IsAllocated).ToImmutableDictionary(e => e.Key, e => e.Addresses, StringComparer.Ordinal);
}
