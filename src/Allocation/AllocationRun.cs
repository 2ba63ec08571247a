using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;

namespace BgpLb.Allocation;

/// <summary>
/// One allocation pass. Addresses are only ever added during a pass, so each CIDR keeps a cursor below which every
/// address is taken: finding the lowest free address is amortized O(1) and a pass is O(requests + addresses scanned).
/// </summary>
internal sealed class AllocationRun
{
    private readonly List<PoolState> _pools;
    private readonly Dictionary<string, PoolState> _poolsByName = new(StringComparer.Ordinal);
    private readonly Dictionary<AddressKey, List<Holder>> _holders = [];
    private readonly Dictionary<string, List<AddressKey>> _bySharingKey = new(StringComparer.Ordinal);
    private readonly Dictionary<string, AllocationEntry> _entries = new(StringComparer.Ordinal);

    public AllocationRun(ImmutableArray<AddressPool> pools)
    {
        _pools = [.. pools.Select(p => new PoolState(p))];
        foreach (var pool in _pools)
            _poolsByName.TryAdd(pool.Pool.Name, pool);
    }

    public AllocationResult Execute(IReadOnlyList<AllocationRequest> requests, IReadOnlyDictionary<string, ImmutableArray<IPAddress>> previous)
    {
        var unique = new Dictionary<string, AllocationRequest>(StringComparer.Ordinal);
        foreach (var request in requests)
            unique.TryAdd(request.Key, request);

        var holding = new List<(AllocationRequest Request, ImmutableArray<IPAddress> Current)>();
        var pending = new List<AllocationRequest>();
        foreach (var request in unique.Values)
        {
            var current = previous.TryGetValue(request.Key, out var held) && !held.IsEmpty ? held : request.CurrentAddresses;
            if (current.IsEmpty)
                pending.Add(request);
            else
                holding.Add((request, current));
        }

        holding.Sort((a, b) => string.CompareOrdinal(a.Request.Key, b.Request.Key));
        var kept = new List<(AllocationRequest Request, PoolState Pool)>();
        foreach (var (request, current) in holding)
        {
            if (TryKeep(request, current) is { } pool)
                kept.Add((request, pool));
            else
                pending.Add(request);
        }
        // PreferDualStack consumers that hold one family (and did not ask for exactly that address) try to add the other
        // from the same pool once every holder is placed.
        foreach (var (request, pool) in kept)
        {
            if (request.Policy == FamilyPolicy.PreferDualStack && request.RequestedAddresses.IsEmpty
                && _entries[request.Key].Addresses.Length < request.Families.Length)
                TryAddMissingFamily(request, pool);
        }

        // Explicitly requested addresses go before automatic ones so that an automatic pick cannot take them.
        pending.Sort((a, b) => a.RequestedAddresses.IsEmpty != b.RequestedAddresses.IsEmpty
            ? (a.RequestedAddresses.IsEmpty ? 1 : -1)
            : string.CompareOrdinal(a.Key, b.Key));
        foreach (var request in pending)
            AllocateNew(request);

        return new AllocationResult(_entries.ToImmutableSortedDictionary(StringComparer.Ordinal),
            [.. _pools.Select(p => new PoolUsage(p.Pool.Name, p.TotalAddresses, p.AddressesInUse, p.Consumers))]);
    }

    private PoolState? TryKeep(AllocationRequest request, ImmutableArray<IPAddress> current)
    {
        if (request.Problem is not null)
            return null;
        var keys = current.Select(AddressKey.Of).Distinct().ToList();
        var pool = PoolOf(keys[0]);
        if (pool is null || keys.Any(k => PoolOf(k) != pool))
            return null;
        var families = keys.Select(k => k.Family).ToList();
        if (families.Distinct().Count() != families.Count || !families.All(request.Families.Contains)
            || request.Policy == FamilyPolicy.RequireDualStack && families.Count != request.Families.Length)
            return null;
        if (!request.RequestedAddresses.IsEmpty && !request.RequestedAddresses.Select(AddressKey.Of).ToHashSet().SetEquals(keys))
            return null;
        if (request.Pool is not null && request.Pool != pool.Pool.Name || !Admits(pool.Pool, request))
            return null;
        if (keys.Any(k => pool.IsAvoided(k) || Conflict(k, request) is not null))
            return null;
        Place(request, pool, keys);
        return pool;
    }

    private void TryAddMissingFamily(AllocationRequest request, PoolState pool)
    {
        var entry = _entries[request.Key];
        var held = entry.Addresses.Select(AddressKey.Of).ToList();
        foreach (var family in request.Families.Where(f => !held.Any(k => k.Family == f)))
        {
            if (FindInPool(pool, family, request) is { } found)
                held.Add(found);
        }
        if (held.Count > entry.Addresses.Length)
            Place(request, pool, held);
    }

    private void AllocateNew(AllocationRequest request)
    {
        if (request.Problem is not null)
            Fail(request, AllocationFailure.InvalidRequest, request.Problem);
        else if (!request.RequestedAddresses.IsEmpty)
            AssignRequested(request);
        else if (request.Pool is not null)
            AllocateFromNamedPool(request);
        else
            AllocateAutomatically(request);
    }

    private void AssignRequested(AllocationRequest request)
    {
        var keys = request.RequestedAddresses.Select(AddressKey.Of).ToList();
        var wrongFamily = keys.FirstOrDefault(k => !request.Families.Contains(k.Family));
        if (keys.Contains(wrongFamily))
        {
            Fail(request, AllocationFailure.FamilyMismatch,
                $"requested address {wrongFamily} is {FamilyName(wrongFamily.Family)} but the Service's IP families are {string.Join(", ", request.Families.Select(FamilyName))}");
            return;
        }
        if (request.Policy == FamilyPolicy.RequireDualStack && keys.Count != request.Families.Length)
        {
            Fail(request, AllocationFailure.FamilyMismatch, "RequireDualStack needs one requested address per IP family");
            return;
        }
        var pools = keys.Select(PoolOf).ToList();
        if (pools.IndexOf(null) is var outside and >= 0)
        {
            Fail(request, AllocationFailure.NotInAnyPool, $"requested address {keys[outside]} is not in any pool");
            return;
        }
        var pool = pools[0]!;
        if (pools.Any(p => p != pool))
        {
            Fail(request, AllocationFailure.InvalidRequest,
                $"requested addresses {keys[0]} and {keys[1]} are in different pools ({pool.Pool.Name}, {pools[1]!.Pool.Name})");
            return;
        }
        if (request.Pool is not null && request.Pool != pool.Pool.Name)
        {
            Fail(request, AllocationFailure.PoolNotAllowed,
                $"requested address {keys[0]} is in pool '{pool.Pool.Name}', not in pool '{request.Pool}' named by {MetalLbNames.AddressPoolAnnotation}");
            return;
        }
        if (!Admits(pool.Pool, request))
        {
            Fail(request, AllocationFailure.PoolNotAllowed, NotAdmitted(pool.Pool, request));
            return;
        }
        foreach (var key in keys)
        {
            if (pool.IsAvoided(key))
            {
                Fail(request, AllocationFailure.InvalidRequest, $"requested address {key} ends in .0 or .255 and pool '{pool.Pool.Name}' sets avoidBuggyIPs");
                return;
            }
            if (Conflict(key, request) is { } conflict)
            {
                Fail(request, AllocationFailure.AddressInUse, conflict);
                return;
            }
        }
        Place(request, pool, keys);
    }

    private void AllocateFromNamedPool(AllocationRequest request)
    {
        if (!_poolsByName.TryGetValue(request.Pool!, out var pool))
        {
            Fail(request, AllocationFailure.PoolNotFound, $"pool '{request.Pool}' named by {MetalLbNames.AddressPoolAnnotation} does not exist");
            return;
        }
        if (!Admits(pool.Pool, request))
        {
            Fail(request, AllocationFailure.PoolNotAllowed, NotAdmitted(pool.Pool, request));
            return;
        }
        if (!pool.Serves(request))
        {
            Fail(request, AllocationFailure.FamilyMismatch,
                $"pool '{pool.Pool.Name}' has no {string.Join(" and ", request.Families.Where(f => !pool.HasFamily(f)).Select(FamilyName))} addresses");
            return;
        }
        if (!TryAllocateFrom(pool, request, partial: false) && !(request.Policy == FamilyPolicy.PreferDualStack && TryAllocateFrom(pool, request, partial: true)))
            Fail(request, AllocationFailure.PoolExhausted, $"no free {FamiliesText(request)} address in pool '{pool.Pool.Name}'");
    }

    private void AllocateAutomatically(AllocationRequest request)
    {
        // Pools whose serviceAllocation admits the Service, by priority (0 = unset goes last; ties by name), then the plain auto-assign pools.
        var candidates = _pools
            .Where(p => p.Pool.AutoAssign && p.Pool.ServiceAllocation is not null && Admits(p.Pool, request))
            .OrderBy(p => p.Pool.ServiceAllocation!.Priority == 0 ? int.MaxValue : p.Pool.ServiceAllocation.Priority)
            .ThenBy(p => p.Pool.Name, StringComparer.Ordinal)
            .Concat(_pools.Where(p => p.Pool.AutoAssign && p.Pool.ServiceAllocation is null).OrderBy(p => p.Pool.Name, StringComparer.Ordinal))
            .ToList();
        if (candidates.Count == 0)
        {
            Fail(request, AllocationFailure.NoPoolAvailable, "no pool with autoAssign admits this Service");
            return;
        }
        foreach (var pool in candidates)
        {
            if (TryAllocateFrom(pool, request, partial: false))
                return;
        }
        if (request.Policy == FamilyPolicy.PreferDualStack)
        {
            foreach (var pool in candidates)
            {
                if (TryAllocateFrom(pool, request, partial: true))
                    return;
            }
        }
        if (!candidates.Any(p => p.Serves(request)))
            Fail(request, AllocationFailure.FamilyMismatch, $"no pool available to this Service has {FamiliesText(request)} addresses");
        else
            Fail(request, AllocationFailure.PoolExhausted,
                $"no free {FamiliesText(request)} address in the pools available to this Service ({string.Join(", ", candidates.Select(p => p.Pool.Name))})");
    }

    private bool TryAllocateFrom(PoolState pool, AllocationRequest request, bool partial)
    {
        var found = new List<AddressKey>(request.Families.Length);
        foreach (var family in request.Families)
        {
            if (FindInPool(pool, family, request) is { } key)
                found.Add(key);
        }
        if (found.Count == 0 || found.Count < request.Families.Length && !partial)
            return false;
        Place(request, pool, found);
        return true;
    }

    /// <summary>The lowest address of <paramref name="family"/> in the pool (CIDRs in spec order) that is free or shareable.</summary>
    private AddressKey? FindInPool(PoolState pool, AddressFamily family, AllocationRequest request)
    {
        foreach (var range in pool.Ranges)
        {
            if (range.Family != family)
                continue;
            var best = range.LowestFree(_holders);
            if (request.SharingKey is not null && _bySharingKey.TryGetValue(request.SharingKey, out var shared))
            {
                foreach (var key in shared)
                {
                    if (range.Contains(key) && (best is null || key.Value < best.Value.Value) && Conflict(key, request) is null)
                        best = key;
                }
            }
            if (best is not null)
                return best;
        }
        return null;
    }

    /// <summary>MetalLB's sharing rules: same non-empty key, same backend key, no common (protocol, port).</summary>
    private string? Conflict(AddressKey address, AllocationRequest request)
    {
        if (!_holders.TryGetValue(address, out var holders))
            return null;
        foreach (var holder in holders)
        {
            if (holder.Key == request.Key)
                continue;
            if (request.SharingKey is null || holder.SharingKey != request.SharingKey)
                return $"{address} is in use by {holder.Key} (sharing needs the same {MetalLbNames.AllowSharedIPAnnotation} key on both)";
            if (holder.BackendKey != request.BackendKey)
                return $"{address} is shared by {holder.Key} with a different backend (externalTrafficPolicy Local needs identical selectors; Local and Cluster cannot share)";
            if (holder.Ports.Intersect(request.Ports).FirstOrDefault() is { Protocol: not null } port)
                return $"{address}: port {port} is already used by {holder.Key}";
        }
        return null;
    }

    private static bool Admits(AddressPool pool, AllocationRequest request)
    {
        if (pool.ServiceAllocation is not { } allocation)
            return true;
        if ((!allocation.Namespaces.IsEmpty || !allocation.NamespaceSelectors.IsEmpty)
            && !allocation.Namespaces.Contains(request.Namespace)
            && !(!allocation.NamespaceSelectors.IsEmpty && !request.IsExternal
                 && allocation.NamespaceSelectors.Any(s => s.Matches(request.NamespaceLabels))))
            return false;
        return allocation.ServiceSelectors.IsEmpty || allocation.ServiceSelectors.Any(s => s.Matches(request.Labels));
    }

    private static string NotAdmitted(AddressPool pool, AllocationRequest request) => request.IsExternal
        ? $"pool '{pool.Name}' restricts its users by serviceAllocation and cannot serve external allocations"
        : $"pool '{pool.Name}' does not admit this Service (serviceAllocation namespaces, namespaceSelectors or serviceSelectors)";

    private PoolState? PoolOf(AddressKey key)
    {
        foreach (var pool in _pools)
        {
            if (pool.Ranges.Any(r => r.Contains(key)))
                return pool;
        }
        return null;
    }

    private void Place(AllocationRequest request, PoolState pool, List<AddressKey> keys)
    {
        var previous = _entries.GetValueOrDefault(request.Key);
        foreach (var key in keys)
        {
            if (previous is not null && previous.Addresses.Any(a => AddressKey.Of(a) == key))
                continue;
            if (!_holders.TryGetValue(key, out var holders))
            {
                _holders[key] = holders = [];
                pool.AddressesInUse++;
            }
            holders.Add(new Holder(request.Key, request.SharingKey, request.BackendKey, request.Ports));
            if (request.SharingKey is not null)
            {
                if (!_bySharingKey.TryGetValue(request.SharingKey, out var shared))
                    _bySharingKey[request.SharingKey] = shared = [];
                shared.Add(key);
            }
        }
        if (previous is null)
            pool.Consumers++;
        var ordered = keys.OrderBy(k => request.Families.IndexOf(k.Family)).Select(k => k.ToAddress());
        var reason = !request.RequestedAddresses.IsEmpty ? $"requested address in pool '{pool.Pool.Name}'"
            : request.Pool is not null ? $"from pool '{pool.Pool.Name}' named by {MetalLbNames.AddressPoolAnnotation}"
            : $"from pool '{pool.Pool.Name}'";
        _entries[request.Key] = new AllocationEntry(request.Key, pool.Pool.Name, [.. ordered], AllocationFailure.None, reason);
    }

    private void Fail(AllocationRequest request, AllocationFailure failure, string reason) =>
        _entries[request.Key] = new AllocationEntry(request.Key, null, [], failure, reason);

    private static string FamilyName(AddressFamily family) => family == AddressFamily.InterNetwork ? "IPv4" : "IPv6";

    private static string FamiliesText(AllocationRequest request) => request.Policy == FamilyPolicy.PreferDualStack
        ? string.Join(" or ", request.Families.Select(FamilyName))
        : string.Join(" and ", request.Families.Select(FamilyName));

    private sealed record Holder(string Key, string? SharingKey, string BackendKey, ImmutableArray<ServicePort> Ports);

    private sealed class PoolState
    {
        public PoolState(AddressPool pool)
        {
            Pool = pool;
            Ranges = [.. pool.Cidrs.Select(c => new RangeState(c, pool.AvoidBuggyIPs))];
            TotalAddresses = Ranges.Sum(r => r.Size);
        }

        public AddressPool Pool { get; }
        public ImmutableArray<RangeState> Ranges { get; }
        public double TotalAddresses { get; }
        public int AddressesInUse { get; set; }
        public int Consumers { get; set; }

        public bool HasFamily(AddressFamily family) => Ranges.Any(r => r.Family == family);

        /// <summary>True when the pool has the families the request needs (any one of them for PreferDualStack).</summary>
        public bool Serves(AllocationRequest request) => request.Policy == FamilyPolicy.PreferDualStack
            ? request.Families.Any(HasFamily)
            : request.Families.All(HasFamily);

        public bool IsAvoided(AddressKey key) => Pool.AvoidBuggyIPs && key.Family == AddressFamily.InterNetwork && RangeState.IsBuggy(key.Value);
    }

    private sealed class RangeState(IPNetwork network, bool avoidBuggyIPs)
    {
        private readonly UInt128 _first = AddressKey.Of(network.BaseAddress).Value;
        private UInt128 _cursor = AddressKey.Of(network.BaseAddress).Value;
        private bool _exhausted;

        public AddressFamily Family { get; } = network.BaseAddress.AddressFamily;
        private UInt128 Last => _first + HostMask;
        private UInt128 HostMask => network.PrefixLength == Bits ? UInt128.Zero : (UInt128.One << (Bits - network.PrefixLength)) - 1;
        private int Bits => Family == AddressFamily.InterNetwork ? 32 : 128;
        private bool AvoidsBuggy => avoidBuggyIPs && Family == AddressFamily.InterNetwork;

        public double Size
        {
            get
            {
                var size = (double)HostMask + 1;
                return AvoidsBuggy ? size - (BuggyUpTo(Last) - (_first == 0 ? 0 : BuggyUpTo(_first - 1))) : size;
            }
        }

        public bool Contains(AddressKey key) => key.Family == Family && key.Value >= _first && key.Value <= Last;

        public static bool IsBuggy(UInt128 value) => (byte)value is 0 or 255;

        /// <summary>Advances the cursor past taken (and avoided) addresses; addresses below it never become free within a pass.</summary>
        public AddressKey? LowestFree(Dictionary<AddressKey, List<Holder>> holders)
        {
            var last = Last;
            while (!_exhausted)
            {
                var candidate = new AddressKey(Family, _cursor);
                if (!holders.ContainsKey(candidate) && !(AvoidsBuggy && IsBuggy(_cursor)))
                    return candidate;
                if (_cursor == last)
                    _exhausted = true;
                else
                    _cursor++;
            }
            return null;
        }

        // Number of IPv4 addresses in 0..value that end in .0 or .255.
        private static double BuggyUpTo(UInt128 value) => (double)(value / 256 + 1 + (value + 1) / 256);
    }
}

/// <summary>An address as a number, so that pools are walked and compared without allocating IPAddress objects.</summary>
internal readonly record struct AddressKey(AddressFamily Family, UInt128 Value)
{
    public static AddressKey Of(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        return written == 4
            ? new AddressKey(AddressFamily.InterNetwork, BinaryPrimitives.ReadUInt32BigEndian(bytes))
            : new AddressKey(AddressFamily.InterNetworkV6, BinaryPrimitives.ReadUInt128BigEndian(bytes));
    }

    public IPAddress ToAddress()
    {
        Span<byte> bytes = stackalloc byte[16];
        if (Family == AddressFamily.InterNetwork)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)Value);
            return new IPAddress(bytes[..4]);
        }
        BinaryPrimitives.WriteUInt128BigEndian(bytes, Value);
        return new IPAddress(bytes);
    }

    public override string ToString() => ToAddress().ToString();
}
