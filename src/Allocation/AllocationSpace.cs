using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;

namespace BgpLb.Allocation;

/// <summary>
/// Who holds which address, one entry per request, and MetalLB's placement rules over them. <see cref="AllocationRun"/>
/// fills a fresh space in one pass; <see cref="AllocationTable"/> keeps one across changes, releasing and placing again
/// only what a change selects.
/// </summary>
/// <remarks>
/// Holder order decides which holder an AddressInUse reason names: the first conflicting one in MetalLB's placement
/// order. Within a step, holders kept from the previous step come first, in key order (sequence 0), then the others in
/// placement order; a holder placed in an earlier step counts as kept from the previous step.
/// </remarks>
internal sealed class AllocationSpace
{
    private readonly Dictionary<AddressKey, AddressHolders> _holders = [];
    // The addresses held by consumers with a sharing key (one count per holder): where a sharing consumer may join.
    private readonly Dictionary<string, Dictionary<AddressKey, int>> _bySharingKey = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Slot> _entries = new(StringComparer.Ordinal);
    private ImmutableArray<AddressPool> _config;
    private List<PoolState> _pools = [];
    private Dictionary<string, PoolState> _poolsByName = new(StringComparer.Ordinal);
    // The pools with autoAssign in the order automatic allocation tries them, before serviceAllocation filters them.
    private ImmutableArray<PoolState> _autoAssign = [];
    private int _step;
    private int _sequence;

    public AllocationSpace(ImmutableArray<AddressPool> pools) => SetPools(pools);

    /// <summary>Addresses that got a holder placed after the previous holders (sequence above 0), when set.</summary>
    public List<AddressKey>? Placed { get; set; }

    /// <summary>The entry each key had before its first change of this step, when set.</summary>
    public Dictionary<string, AllocationEntry?>? Before { get; set; }

    /// <summary>When set, every change appends how to undo it.</summary>
    public List<Action>? Undo { get; set; }

    public ImmutableArray<AddressPool> Pools => _config;

    public int Count => _entries.Count;

    public int AllocatedCount { get; private set; }

    public IEnumerable<AllocationEntry> Entries => _entries.Values.Select(s => s.Entry);

    public AllocationEntry? Entry(string key) => _entries.TryGetValue(key, out var slot) ? slot.Entry : null;

    public bool IsAllocated(string key) => _entries.TryGetValue(key, out var slot) && slot.Entry.IsAllocated;

    public ImmutableArray<PoolUsage> Usage() =>
        [.. _pools.Select(p => new PoolUsage(p.Pool.Name, p.TotalAddresses, p.AddressesInUse, p.Consumers)
        {
            IPv4Addresses = p.IPv4Addresses,
            IPv6Addresses = p.TotalAddresses - p.IPv4Addresses,
            IPv4AddressesInUse = p.AddressesInUse - p.IPv6AddressesInUse,
            IPv6AddressesInUse = p.IPv6AddressesInUse,
        })];

    public AllocationResult Result() => new(
        _entries.Values.ToImmutableSortedDictionary(s => s.Entry.Key, s => s.Entry, StringComparer.Ordinal), Usage());

    /// <summary>Starts a step: holders placed so far count as kept from the previous step.</summary>
    public void BeginStep()
    {
        _step++;
        _sequence = 0;
    }

    /// <summary>
    /// Replaces the pools. Pools whose definition is unchanged keep their state; a changed pool starts empty, so its
    /// holders must be released before.
    /// </summary>
    public void SetPools(ImmutableArray<AddressPool> pools)
    {
        if (Undo is not null)
            RecordPools(_config, _pools, _poolsByName, _autoAssign);
        _pools = [.. pools.Select(p => _poolsByName.TryGetValue(p.Name, out var kept) && kept.Pool == p ? kept : new PoolState(p))];
        _poolsByName = new Dictionary<string, PoolState>(StringComparer.Ordinal);
        foreach (var pool in _pools)
            _poolsByName.TryAdd(pool.Pool.Name, pool);
        _config = pools;
        // Pools with a serviceAllocation by priority (0 = unset goes last; ties by name), then the plain ones by name.
        _autoAssign = [.. _pools
            .Where(p => p.Pool.AutoAssign && p.Pool.ServiceAllocation is not null)
            .OrderBy(p => p.Pool.ServiceAllocation!.Priority == 0 ? int.MaxValue : p.Pool.ServiceAllocation.Priority)
            .ThenBy(p => p.Pool.Name, StringComparer.Ordinal)
            .Concat(_pools.Where(p => p.Pool.AutoAssign && p.Pool.ServiceAllocation is null).OrderBy(p => p.Pool.Name, StringComparer.Ordinal))];
    }

    /// <summary>The names of the pools that <paramref name="pools"/> adds, removes or defines differently.</summary>
    public HashSet<string> ChangedPools(ImmutableArray<AddressPool> pools)
    {
        var changed = new HashSet<string>(StringComparer.Ordinal);
        var next = pools.ToDictionary(p => p.Name, StringComparer.Ordinal);
        foreach (var pool in _config)
        {
            if (!next.TryGetValue(pool.Name, out var other) || other != pool)
                changed.Add(pool.Name);
        }
        foreach (var pool in pools)
        {
            if (!_poolsByName.ContainsKey(pool.Name))
                changed.Add(pool.Name);
        }
        return changed;
    }

    public string? PoolNameOf(AddressKey key) => PoolOf(key)?.Pool.Name;

    /// <summary>The keys holding <paramref name="address"/>.</summary>
    public IEnumerable<string> HoldersOf(AddressKey address) =>
        _holders.TryGetValue(address, out var at) ? at.Items.Select(h => h.Key) : [];

    /// <summary>True when <paramref name="before"/>'s key holds the address again, with the same sharing attributes.</summary>
    public bool HoldsAlike(AddressKey address, Holder before) =>
        _holders.TryGetValue(address, out var at) && at.Items.Any(h => h.Key == before.Key && h.SharesLike(before));

    /// <summary>Removes the entry of <paramref name="key"/> and its holders, appending them to <paramref name="released"/>.</summary>
    public void Release(string key, List<(AddressKey Address, Holder Holder)>? released = null)
    {
        foreach (var ip in _entries[key].Entry.Addresses)
        {
            var address = AddressKey.Of(ip);
            if (!_holders.TryGetValue(address, out var at))
                continue; // listed twice, released the first time
            foreach (var holder in at.Items.Where(h => h.Key == key).Reverse().ToList())
            {
                released?.Add((address, holder));
                RemoveHolder(address, at, holder);
            }
        }
        RemoveEntry(key);
    }

    public void RemoveEntry(string key)
    {
        var slot = _entries[key];
        Before?.TryAdd(key, slot.Entry);
        if (slot.Entry.IsAllocated)
        {
            slot.Pool!.Consumers--;
            AllocatedCount--;
        }
        _entries.Remove(key);
        if (Undo is not null)
            RecordRemoved(slot);
    }

    /// <summary>
    /// Keeps the addresses <paramref name="request"/> holds (<paramref name="current"/>) when they are still valid and
    /// free of conflicts with the holders placed so far.
    /// </summary>
    public bool TryKeep(AllocationRequest request, ImmutableArray<IPAddress> current, bool fromPrevious)
    {
        if (request.Problem is not null)
            return false;
        // Runs for every holder of a large first load: loops rather than LINQ, one small list.
        var keys = new List<AddressKey>(current.Length);
        foreach (var address in current)
        {
            var key = AddressKey.Of(address);
            if (!keys.Contains(key))
                keys.Add(key);
        }
        var pool = PoolOf(keys[0]);
        if (pool is null)
            return false;
        for (var i = 0; i < keys.Count; i++)
        {
            var family = keys[i].Family;
            if (i > 0 && PoolOf(keys[i]) != pool || !request.Families.Contains(family))
                return false;
            for (var j = 0; j < i; j++)
            {
                if (keys[j].Family == family)
                    return false;
            }
        }
        if (request.Policy == FamilyPolicy.RequireDualStack && keys.Count != request.Families.Length)
            return false;
        if (!request.RequestedAddresses.IsEmpty && !request.RequestedAddresses.Select(AddressKey.Of).ToHashSet().SetEquals(keys))
            return false;
        if (request.Pool is not null && request.Pool != pool.Pool.Name || !Admits(pool.Pool, request))
            return false;
        foreach (var key in keys)
        {
            if (pool.IsAvoided(key) || FirstConflict(key, request) is not null)
                return false;
        }
        Place(request, pool, keys, fromPrevious);
        return true;
    }

    /// <summary>A PreferDualStack holder that did not ask for its addresses and holds fewer families than it may.</summary>
    public bool MissesFamily(AllocationRequest request) =>
        request.Policy == FamilyPolicy.PreferDualStack && request.RequestedAddresses.IsEmpty
        && _entries.TryGetValue(request.Key, out var slot) && slot.Entry.IsAllocated && slot.Entry.Addresses.Length < request.Families.Length;

    /// <summary>Adds the families a PreferDualStack holder lacks, from its own pool, when they have a free or shareable address.</summary>
    public void TryAddMissingFamily(AllocationRequest request)
    {
        var (entry, pool) = _entries[request.Key];
        var held = entry.Addresses.Select(AddressKey.Of).ToList();
        foreach (var family in request.Families.Where(f => !held.Any(k => k.Family == f)))
        {
            if (FindInPool(pool!, family, request) is { } found)
                held.Add(found);
        }
        if (held.Count > entry.Addresses.Length)
            Place(request, pool!, held, fromPrevious: false);
    }

    /// <summary>Gives a request without (valid) addresses its requested addresses or the lowest free ones, or says why not.</summary>
    public void AllocateNew(AllocationRequest request)
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

    /// <summary>The pools an automatic allocation tries, in order.</summary>
    public List<PoolState> Candidates(AllocationRequest request)
    {
        var candidates = new List<PoolState>(_autoAssign.Length);
        foreach (var pool in _autoAssign)
        {
            if (Admits(pool.Pool, request))
                candidates.Add(pool);
        }
        return candidates;
    }

    private void AssignRequested(AllocationRequest request)
    {
        var keys = request.RequestedAddresses.Select(AddressKey.Of).ToList();
        var wrongFamily = keys.FirstOrDefault(k => !request.Families.Contains(k.Family));
        if (keys.Contains(wrongFamily))
        {
            Fail(request, AllocationFailure.FamilyMismatch,
                $"requested address {wrongFamily} is {ServiceFamilies.Name(wrongFamily.Family)} but the Service's IP families are {string.Join(", ", request.Families.Select(ServiceFamilies.Name))}");
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
            if (FirstConflict(key, request) is { } holder)
            {
                Fail(request, AllocationFailure.AddressInUse, ConflictReason(key, holder, request));
                return;
            }
        }
        Place(request, pool, keys, fromPrevious: false);
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
                $"pool '{pool.Pool.Name}' has no {string.Join(" and ", request.Families.Where(f => !pool.HasFamily(f)).Select(ServiceFamilies.Name))} addresses");
            return;
        }
        if (!TryAllocateFrom(pool, request, partial: false) && !(request.Policy == FamilyPolicy.PreferDualStack && TryAllocateFrom(pool, request, partial: true)))
            Fail(request, AllocationFailure.PoolExhausted, $"no free {FamiliesText(request)} address in pool '{pool.Pool.Name}'");
    }

    private void AllocateAutomatically(AllocationRequest request)
    {
        var candidates = Candidates(request);
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
        Place(request, pool, found, fromPrevious: false);
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
                foreach (var key in shared.Keys)
                {
                    if (range.Contains(key) && (best is null || key.Value < best.Value.Value) && FirstConflict(key, request) is null)
                        best = key;
                }
            }
            if (best is not null)
                return best;
        }
        return null;
    }

    /// <summary>The first holder (in placement order) of <paramref name="address"/> that <paramref name="request"/> may not share it with.</summary>
    private Holder? FirstConflict(AddressKey address, AllocationRequest request)
    {
        if (!_holders.TryGetValue(address, out var at))
            return null;
        Holder? first = null;
        foreach (var holder in at.Items)
        {
            if (holder.Key != request.Key && !holder.MayShareWith(request) && (first is null || Precedes(holder, first)))
                first = holder;
        }
        return first;
    }

    private bool Precedes(Holder a, Holder b)
    {
        var (orderA, orderB) = (a.Step == _step ? a.Sequence : 0, b.Step == _step ? b.Sequence : 0);
        return orderA != orderB ? orderA < orderB : string.CompareOrdinal(a.Key, b.Key) < 0;
    }

    private static string ConflictReason(AddressKey address, Holder holder, AllocationRequest request) =>
        request.SharingKey is null || holder.SharingKey != request.SharingKey
            ? $"{address} is in use by {holder.Key} (sharing needs the same {MetalLbNames.AllowSharedIPAnnotation} key on both)"
            : holder.BackendKey != request.BackendKey
            ? $"{address} is shared by {holder.Key} with a different backend (externalTrafficPolicy Local needs identical selectors; Local and Cluster cannot share)"
            : $"{address}: port {holder.Ports.Intersect(request.Ports).First()} is already used by {holder.Key}";

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
            if (pool.Contains(key))
                return pool;
        }
        return null;
    }

    private void Place(AllocationRequest request, PoolState pool, List<AddressKey> keys, bool fromPrevious)
    {
        var previous = _entries.TryGetValue(request.Key, out var slot) && slot.Entry.IsAllocated ? slot.Entry : null;
        var sequence = fromPrevious ? 0 : ++_sequence;
        foreach (var key in keys)
        {
            if (previous is not null && previous.Addresses.Any(a => AddressKey.Of(a) == key))
                continue;
            AddHolder(key, pool, new Holder(request.Key, request.SharingKey, request.BackendKey, request.Ports, _step, sequence));
            if (!fromPrevious)
                Placed?.Add(key);
        }
        var ordered = keys.Count == 1 ? keys : keys.OrderBy(k => request.Families.IndexOf(k.Family)).ToList();
        // The addresses a Service shows, or held before, are kept as they are: 100,000 entries share them instead of copying.
        var addresses = Same(request.CurrentAddresses, ordered) ? request.CurrentAddresses
            : previous is not null && Same(previous.Addresses, ordered) ? previous.Addresses
            : [.. ordered.Select(k => k.ToAddress())];
        var reason = !request.RequestedAddresses.IsEmpty ? pool.RequestedReason : request.Pool is not null ? pool.NamedReason : pool.AutomaticReason;
        SetSlot(new Slot(new AllocationEntry(request.Key, pool.Pool.Name, addresses, AllocationFailure.None, reason), pool));
    }

    private static bool Same(ImmutableArray<IPAddress> addresses, List<AddressKey> keys)
    {
        if (addresses.IsDefault || addresses.Length != keys.Count)
            return false;
        for (var i = 0; i < keys.Count; i++)
        {
            if (AddressKey.Of(addresses[i]) != keys[i] || addresses[i].IsIPv4MappedToIPv6)
                return false;
        }
        return true;
    }

    private void Fail(AllocationRequest request, AllocationFailure failure, string reason) =>
        SetSlot(new Slot(new AllocationEntry(request.Key, null, [], failure, reason), null));

    private void SetSlot(Slot slot)
    {
        var key = slot.Entry.Key;
        var old = _entries.TryGetValue(key, out var existing) ? existing : (Slot?)null;
        Before?.TryAdd(key, old?.Entry);
        if (old is { Entry.IsAllocated: true })
        {
            old.Value.Pool!.Consumers--;
            AllocatedCount--;
        }
        _entries[key] = slot;
        if (slot.Entry.IsAllocated)
        {
            slot.Pool!.Consumers++;
            AllocatedCount++;
        }
        if (Undo is not null)
            RecordSet(key, old);
    }

    private void AddHolder(AddressKey address, PoolState pool, Holder holder)
    {
        if (!_holders.TryGetValue(address, out var at))
        {
            _holders[address] = at = new AddressHolders(pool, pool.RangeOf(address)!);
            pool.AddressesInUse++;
            if (address.Family == AddressFamily.InterNetworkV6)
                pool.IPv6AddressesInUse++;
            at.Range.Take(address.Value);
        }
        at.Add(holder);
        if (holder.SharingKey is { } sharing)
        {
            if (!_bySharingKey.TryGetValue(sharing, out var shared))
                _bySharingKey[sharing] = shared = [];
            shared[address] = shared.GetValueOrDefault(address) + 1;
        }
        if (Undo is not null)
            RecordAdded(address, holder);
    }

    private void RemoveHolder(AddressKey address, AddressHolders at, Holder holder)
    {
        at.Remove(holder);
        if (at.Count == 0)
        {
            _holders.Remove(address);
            at.Pool.AddressesInUse--;
            if (address.Family == AddressFamily.InterNetworkV6)
                at.Pool.IPv6AddressesInUse--;
            at.Range.Release(address.Value);
        }
        if (holder.SharingKey is { } sharing)
        {
            var shared = _bySharingKey[sharing];
            if (shared[address] == 1)
            {
                shared.Remove(address);
                if (shared.Count == 0)
                    _bySharingKey.Remove(sharing);
            }
            else
            {
                shared[address]--;
            }
        }
        if (Undo is not null)
            RecordRemoved(address, at.Pool, holder);
    }

    // Undo records live in their own methods so that the closures are allocated only while recording.
    private void RecordPools(ImmutableArray<AddressPool> config, List<PoolState> pools, Dictionary<string, PoolState> byName, ImmutableArray<PoolState> autoAssign) =>
        Undo!.Add(() => (_config, _pools, _poolsByName, _autoAssign) = (config, pools, byName, autoAssign));

    private void RecordSet(string key, Slot? old) => Undo!.Add(() =>
    {
        if (old is { } slot)
            SetSlot(slot);
        else
            RemoveEntry(key);
    });

    private void RecordRemoved(Slot slot) => Undo!.Add(() => SetSlot(slot));

    private void RecordAdded(AddressKey address, Holder holder) => Undo!.Add(() => RemoveHolder(address, _holders[address], holder));

    private void RecordRemoved(AddressKey address, PoolState pool, Holder holder) => Undo!.Add(() => AddHolder(address, pool, holder));


    private static string FamiliesText(AllocationRequest request) => request.Policy == FamilyPolicy.PreferDualStack
        ? string.Join(" or ", request.Families.Select(ServiceFamilies.Name))
        : string.Join(" and ", request.Families.Select(ServiceFamilies.Name));

    /// <summary>An entry and the pool it counts as a consumer of (null when it has no addresses).</summary>
    private readonly record struct Slot(AllocationEntry Entry, PoolState? Pool);

    /// <summary>The holders of one address: nearly always one, held without a list (100,000 addresses, 100,000 lists otherwise).</summary>
    private sealed class AddressHolders(PoolState pool, RangeState range)
    {
        private Holder? _first;
        private List<Holder>? _more;

        public PoolState Pool { get; } = pool;
        public RangeState Range { get; } = range;
        public int Count => (_first is null ? 0 : 1) + (_more?.Count ?? 0);

        public IEnumerable<Holder> Items => _first is null ? [] : _more is null ? [_first] : [_first, .. _more];

        public void Add(Holder holder)
        {
            if (_first is null)
                _first = holder;
            else
                (_more ??= []).Add(holder);
        }

        public void Remove(Holder holder)
        {
            if (ReferenceEquals(_first, holder))
            {
                _first = _more is { Count: > 0 } ? _more[0] : null;
                _more?.RemoveAt(0);
            }
            else
            {
                _more?.Remove(holder);
            }
            if (_more is { Count: 0 })
                _more = null;
        }
    }

    /// <summary>One consumer on one address, with what the sharing rules compare, placed as the <see cref="Sequence"/>th placement of step <see cref="Step"/>.</summary>
    internal sealed class Holder(string key, string? sharingKey, string backendKey, ImmutableArray<ServicePort> ports, int step, int sequence)
    {
        public string Key { get; } = key;
        public string? SharingKey { get; } = sharingKey;
        public string BackendKey { get; } = backendKey;
        public ImmutableArray<ServicePort> Ports { get; } = ports;
        public int Step { get; } = step;
        public int Sequence { get; } = sequence;

        /// <summary>MetalLB's sharing rules: same non-empty key, same backend key, no common (protocol, port).</summary>
        public bool MayShareWith(AllocationRequest request) =>
            request.SharingKey is not null && SharingKey == request.SharingKey && BackendKey == request.BackendKey
            && Ports.Intersect(request.Ports).FirstOrDefault() is not { Protocol: not null };

        public bool SharesLike(Holder other) =>
            SharingKey == other.SharingKey && BackendKey == other.BackendKey && Ports.SequenceEqual(other.Ports);
    }
}
