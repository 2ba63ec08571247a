using System.Collections;
using System.Collections.Immutable;
using System.Net;

namespace BgpLb.Allocation;

/// <summary>One change to an <see cref="AllocationTable"/>.</summary>
public sealed record AllocationBatch
{
    /// <summary>The new pools (unique names, no overlapping CIDRs); null keeps the current ones.</summary>
    public ImmutableArray<AddressPool>? Pools { get; init; }

    /// <summary>New and changed requests; of two with the same key the last counts.</summary>
    public IReadOnlyCollection<AllocationRequest> Upserted { get; init; } = [];

    /// <summary>Keys whose request is gone. A key that is also upserted stays, with its new request.</summary>
    public IReadOnlyCollection<string> Removed { get; init; } = [];
}

/// <summary>What a batch changed: the entries that are new or differ, and the keys whose entry is gone.</summary>
public sealed record AllocationChanges(IReadOnlyList<AllocationEntry> Changed, IReadOnlyList<string> Removed);

/// <summary>
/// The allocations kept across changes, by the one owner of allocations (the controller, or the speaker on a single
/// node). After every <see cref="Apply"/> the table equals <see cref="Allocator.Allocate"/> run on the new pools and
/// requests, with the table's addresses before the batch as previous allocations; but a batch costs what it touches
/// (the requests it names, the holders of their addresses, and failed requests that a freed address or a changed
/// holder could help), not what the table holds. Not thread-safe: one writer at a time.
/// </summary>
/// <remarks>
/// Why touching so little gives the whole recompute's answer. Holders of one address were compatible after the
/// previous step, so a holder fails to keep its addresses only when its own request or pool changed, or when a changed
/// request with a lower key holding one of the same addresses now conflicts with it: the holders of a changed request's
/// addresses are all kept again, in key order. Placements only take addresses, so a request that failed stays failed
/// until an address it could use is released or one of its holders changes: failed requests wait on those addresses
/// and pools, and so do PreferDualStack holders short of a family. What placements do change is which holder an
/// AddressInUse reason names (placement order within a step, key order after it): requests waiting on an address that
/// got a holder are served again later in the same step and in the next one. Last, as in the whole recompute, a holder
/// that cannot keep what it held is served like a new request, and tries the addresses its status shows one step later.
/// </remarks>
public sealed class AllocationTable
{
    private readonly AllocationSpace _space;
    private readonly Dictionary<string, AllocationRequest> _requests = new(StringComparer.Ordinal);
    // Failed requests by the addresses (requested or shown in their status) and the pools (when exhausted) whose
    // change could change their entry; PreferDualStack holders short of a family by their pool.
    private readonly Dictionary<string, Waiting> _waiting = new(StringComparer.Ordinal);
    private readonly Dictionary<AddressKey, HashSet<string>> _waitingOnAddress = [];
    private readonly Dictionary<string, HashSet<string>> _waitingOnPool = new(StringComparer.Ordinal);
    private HashSet<string> _retryNextApply = new(StringComparer.Ordinal);
    private IReadOnlyDictionary<string, ImmutableArray<IPAddress>>? _previous;
    private List<Action>? _undo;

    /// <param name="pools">The pools: unique names, no overlapping CIDRs (as the configuration compiles them).</param>
    /// <param name="previous">
    /// What each key held before (e.g. the state file): the previous allocations of the first <see cref="Apply"/>.
    /// </param>
    public AllocationTable(ImmutableArray<AddressPool> pools, IReadOnlyDictionary<string, ImmutableArray<IPAddress>>? previous = null)
    {
        RequireUniqueNames(pools);
        _space = new AllocationSpace(pools) { Placed = [] };
        _previous = previous is { Count: > 0 } ? previous : null;
        Addresses = new AddressView(_space);
    }

    public int Count => _space.Count;

    /// <summary>One entry per request, in no particular order.</summary>
    public IEnumerable<AllocationEntry> Entries => _space.Entries;

    /// <summary>The entry of <paramref name="key"/>, or null when the table has no request of that key.</summary>
    public AllocationEntry? this[string key] => _space.Entry(key);

    /// <summary>The usage of every pool, as in <see cref="AllocationResult.Pools"/>.</summary>
    public ImmutableArray<PoolUsage> Pools => _space.Usage();

    /// <summary>The addresses held per key, live: copy it to keep it past the next change.</summary>
    public IReadOnlyDictionary<string, ImmutableArray<IPAddress>> Addresses { get; }

    public AllocationChanges Apply(AllocationBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ThrowIfTrialOpen();
        if (batch.Pools is { } pools)
            RequireUniqueNames(pools);
        return ApplyCore(batch);
    }

    /// <summary>
    /// Applies <paramref name="batch"/> so that it can be taken back: the table shows the batch's outcome until the
    /// trial is committed, or disposed without commit, which leaves the table exactly as it was. Until then the table
    /// takes no other change. For the gRPC Allocate of an external name: keep it only if the name gets addresses (and
    /// the state is saved).
    /// </summary>
    public AllocationTrial ApplyTentatively(AllocationBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ThrowIfTrialOpen();
        if (batch.Pools is { } pools)
            RequireUniqueNames(pools);
        _undo = [];
        _space.Undo = _undo;
        try
        {
            return new AllocationTrial(this, ApplyCore(batch));
        }
        catch
        {
            EndTrial(commit: false);
            throw;
        }
    }

    internal void EndTrial(bool commit)
    {
        var undo = _undo!;
        _undo = null;
        _space.Undo = null;
        if (commit)
            return;
        for (var i = undo.Count - 1; i >= 0; i--)
            undo[i]();
    }

    private void ThrowIfTrialOpen()
    {
        if (_undo is not null)
            throw new InvalidOperationException("An allocation trial is open: commit or dispose it first.");
    }

    private AllocationChanges ApplyCore(AllocationBatch batch)
    {
        var step = new Step();
        _space.Before = step.Before;
        _space.BeginStep();

        var upserted = new Dictionary<string, AllocationRequest>(StringComparer.Ordinal);
        foreach (var request in batch.Upserted)
            upserted[request.Key] = request;
        foreach (var key in batch.Removed)
        {
            if (!upserted.ContainsKey(key) && _requests.ContainsKey(key))
                RemoveRequest(key, step);
        }
        foreach (var request in upserted.Values)
            UpsertRequest(request, step);
        var pools = batch.Pools is { } p && !p.SequenceEqual(_space.Pools) ? p : (ImmutableArray<AddressPool>?)null;
        if (pools is { } changing)
            SelectForPoolChange(_space.ChangedPools(changing), step);
        foreach (var key in _retryNextApply)
            Wake(key, step);
        SetRetryNextApply(new HashSet<string>(StringComparer.Ordinal));

        if (step.Keepers.Count > 0 || pools is not null)
            KeepPreviousHolders(step, pools);
        WakeWaitersOnTouched(step);
        if (_previous is not null)
            ForgetPrevious();
        if (step.Retry.Count > 0)
            KeepStatusHolders(step);
        if (step.KeptFromPrevious.Count + step.Missing.Count + step.KeptFromStatus.Count > 0)
            AddMissingFamilies(step);
        AllocatePending(step);

        foreach (var address in step.Placed)
        {
            if (_waitingOnAddress.TryGetValue(address, out var waiters))
                _retryNextApply.UnionWith(waiters);
        }
        _space.Before = null;
        return Changes(step.Before);
    }

    private void RemoveRequest(string key, Step step)
    {
        SetRequest(key, null);
        SetWaiting(key, null);
        var entry = _space.Entry(key)!;
        if (entry.IsAllocated)
        {
            foreach (var address in entry.Addresses)
                step.Touched.Add(AddressKey.Of(address));
            _space.Release(key);
        }
        else
        {
            _space.RemoveEntry(key);
        }
    }

    private void UpsertRequest(AllocationRequest request, Step step)
    {
        SetRequest(request.Key, request);
        if (_space.Entry(request.Key) is { IsAllocated: true } entry)
        {
            // Its new request may conflict with the others on its addresses: all of them are kept again, in key order.
            step.Keepers.Add(request.Key);
            foreach (var address in entry.Addresses)
                step.Keepers.UnionWith(_space.HoldersOf(AddressKey.Of(address)));
        }
        else if (_previous is not null && _previous.TryGetValue(request.Key, out var held) && !held.IsEmpty)
        {
            step.Keepers.Add(request.Key);
        }
        else
        {
            step.Retry.Add(request.Key);
        }
    }

    private void SelectForPoolChange(HashSet<string> changed, Step step)
    {
        if (changed.Count == 0)
            return;
        foreach (var entry in _space.Entries)
        {
            if (!entry.IsAllocated)
                step.Retry.Add(entry.Key);
            else if (changed.Contains(entry.Pool!))
                step.Keepers.Add(entry.Key);
        }
    }

    /// <summary>Selects a request that waited on something that changed: failed ones are retried, holders short of a family try again.</summary>
    private void Wake(string key, Step step)
    {
        if (!_requests.ContainsKey(key) || step.Keepers.Contains(key))
            return;
        if (_space.IsAllocated(key))
            step.Missing.Add(key);
        else
            step.Retry.Add(key);
    }

    /// <summary>
    /// The keep phase for holders from the previous step that the batch selected: all are released first, so that each
    /// is checked only against those kept before it, as the whole recompute does.
    /// </summary>
    private void KeepPreviousHolders(Step step, ImmutableArray<AddressPool>? pools)
    {
        var keepers = step.Keepers.Order(StringComparer.Ordinal).Select(k => _requests[k]).ToList();
        var current = new List<ImmutableArray<IPAddress>>(keepers.Count);
        var released = new List<(AddressKey Address, AllocationSpace.Holder Holder)>();
        foreach (var request in keepers)
        {
            if (_space.Entry(request.Key) is { IsAllocated: true } entry)
            {
                current.Add(entry.Addresses);
                _space.Release(request.Key, released);
            }
            else
            {
                current.Add(_previous![request.Key]);
            }
        }
        if (pools is { } changed)
            _space.SetPools(changed);
        for (var i = 0; i < keepers.Count; i++)
        {
            if (_space.TryKeep(keepers[i], current[i], fromPrevious: true))
                step.KeptFromPrevious.Add(keepers[i].Key);
            else
                step.Pending.Add(keepers[i]);
        }

        foreach (var (address, holder) in released)
        {
            if (!_space.HoldsAlike(address, holder))
                step.Touched.Add(address);
        }
    }

    /// <summary>Addresses that lost a holder or whose holders changed may now serve requests waiting on them or on their pool.</summary>
    private void WakeWaitersOnTouched(Step step)
    {
        foreach (var address in step.Touched)
        {
            if (_waitingOnAddress.TryGetValue(address, out var waiters))
            {
                foreach (var key in waiters)
                    Wake(key, step);
            }
            if (_space.PoolNameOf(address) is { } pool && _waitingOnPool.TryGetValue(pool, out var poolWaiters))
            {
                foreach (var key in poolWaiters)
                    Wake(key, step);
            }
        }
    }

    /// <summary>
    /// The keep phase for retried requests that show addresses in their status, in key order; those that show none or
    /// cannot keep them wait for the pending phase.
    /// </summary>
    private void KeepStatusHolders(Step step)
    {
        foreach (var key in step.Retry.Order(StringComparer.Ordinal))
        {
            var request = _requests[key];
            if (request.CurrentAddresses.IsEmpty)
            {
                step.Pending.Add(request);
                continue;
            }
            if (_space.TryKeep(request, request.CurrentAddresses, fromPrevious: false))
                step.KeptFromStatus.Add(key);
            else
                step.Pending.Add(request);
            NotePlaced(step, current: null);
        }
    }

    private void AddMissingFamilies(Step step)
    {
        var previousHolders = step.KeptFromPrevious.Concat(step.Missing).Order(StringComparer.Ordinal);
        foreach (var key in previousHolders.Concat(step.KeptFromStatus))
        {
            var request = _requests[key];
            if (_space.MissesFamily(request))
            {
                _space.TryAddMissingFamily(request);
                NotePlaced(step, current: null);
            }
            Register(request);
        }
    }

    private void AllocatePending(Step step)
    {
        foreach (var key in step.WokenForPending)
        {
            if (_requests.TryGetValue(key, out var request) && !_space.IsAllocated(key))
                step.Pending.Add(request);
        }
        while (step.Pending.Min is { } request)
        {
            step.Pending.Remove(request);
            _space.AllocateNew(request);
            Register(request);
            NotePlaced(step, request);
            // A holder that could not keep its addresses skipped those its status shows; the next step tries them.
            if (step.Keepers.Contains(request.Key) && !request.CurrentAddresses.IsEmpty && !_space.IsAllocated(request.Key))
                _retryNextApply.Add(request.Key);
        }
    }

    /// <summary>
    /// A placement may change the AddressInUse reason of requests waiting on its address: those the whole recompute
    /// serves after <paramref name="current"/> (every one before the pending phase) are served in this step.
    /// </summary>
    private void NotePlaced(Step step, AllocationRequest? current)
    {
        foreach (var address in _space.Placed!)
        {
            step.Placed.Add(address);
            if (!_waitingOnAddress.TryGetValue(address, out var waiters))
                continue;
            foreach (var key in waiters)
            {
                if (current is null)
                    step.WokenForPending.Add(key);
                else if (AllocationRun.PendingOrder.Compare(_requests[key], current) > 0)
                    step.Pending.Add(_requests[key]);
            }
        }
        _space.Placed!.Clear();
    }

    /// <summary>Records what could change the entry of <paramref name="request"/> without a change of its own.</summary>
    private void Register(AllocationRequest request)
    {
        var entry = _space.Entry(request.Key)!;
        Waiting? waiting = null;
        if (entry.IsAllocated)
        {
            if (_space.MissesFamily(request))
                waiting = new Waiting([], [entry.Pool!]);
        }
        else if (request.Problem is null)
        {
            var addresses = request.RequestedAddresses.Concat(request.CurrentAddresses).Select(AddressKey.Of).Distinct().ToArray();
            var pools = entry.Failure != AllocationFailure.PoolExhausted ? []
                : request.Pool is { } named ? [named]
                : _space.Candidates(request).Select(p => p.Pool.Name).ToArray();
            if (addresses.Length > 0 || pools.Length > 0)
                waiting = new Waiting(addresses, pools);
        }
        SetWaiting(request.Key, waiting);
    }

    private AllocationChanges Changes(Dictionary<string, AllocationEntry?> before)
    {
        var changed = new List<AllocationEntry>();
        var removed = new List<string>();
        foreach (var (key, old) in before)
        {
            if (_space.Entry(key) is { } entry)
            {
                if (!entry.Equals(old))
                    changed.Add(entry);
            }
            else if (old is not null)
            {
                removed.Add(key);
            }
        }
        return new AllocationChanges(changed, removed);
    }

    private void SetRequest(string key, AllocationRequest? request)
    {
        var old = _requests.GetValueOrDefault(key);
        if (request is null)
            _requests.Remove(key);
        else
            _requests[key] = request;
        if (_undo is not null)
            RecordRequest(key, old);
    }

    private void SetWaiting(string key, Waiting? waiting)
    {
        var old = _waiting.GetValueOrDefault(key);
        if (old is null && waiting is null)
            return;
        if (old is not null)
        {
            foreach (var address in old.Addresses)
                Unindex(_waitingOnAddress, address, key);
            foreach (var pool in old.Pools)
                Unindex(_waitingOnPool, pool, key);
            _waiting.Remove(key);
        }
        if (waiting is not null)
        {
            foreach (var address in waiting.Addresses)
                Index(_waitingOnAddress, address, key);
            foreach (var pool in waiting.Pools)
                Index(_waitingOnPool, pool, key);
            _waiting[key] = waiting;
        }
        if (_undo is not null)
            RecordWaiting(key, old);
    }

    private static void Index<T>(Dictionary<T, HashSet<string>> index, T at, string key) where T : notnull
    {
        if (!index.TryGetValue(at, out var keys))
            index[at] = keys = new HashSet<string>(StringComparer.Ordinal);
        keys.Add(key);
    }

    private static void Unindex<T>(Dictionary<T, HashSet<string>> index, T at, string key) where T : notnull
    {
        var keys = index[at];
        keys.Remove(key);
        if (keys.Count == 0)
            index.Remove(at);
    }

    private void SetRetryNextApply(HashSet<string> keys)
    {
        if (_undo is not null)
            RecordRetryNextApply(_retryNextApply);
        _retryNextApply = keys;
    }

    private void ForgetPrevious()
    {
        if (_undo is not null)
            RecordPrevious(_previous!);
        _previous = null;
    }

    // Undo records live in their own methods so that the closures are allocated only while recording.
    private void RecordRequest(string key, AllocationRequest? old) => _undo!.Add(() => SetRequest(key, old));

    private void RecordWaiting(string key, Waiting? old) => _undo!.Add(() => SetWaiting(key, old));

    private void RecordRetryNextApply(HashSet<string> old) => _undo!.Add(() => _retryNextApply = old);

    private void RecordPrevious(IReadOnlyDictionary<string, ImmutableArray<IPAddress>> old) => _undo!.Add(() => _previous = old);

    private static void RequireUniqueNames(ImmutableArray<AddressPool> pools)
    {
        if (pools.GroupBy(p => p.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } duplicate)
            throw new ArgumentException($"pool '{duplicate.Key}' is listed twice", nameof(pools));
    }

    private sealed record Waiting(AddressKey[] Addresses, string[] Pools);

    /// <summary>What one <see cref="Apply"/> selected and where each phase stands.</summary>
    private sealed class Step
    {
        public Dictionary<string, AllocationEntry?> Before { get; } = new(StringComparer.Ordinal);
        /// <summary>Holders from the previous step to keep again.</summary>
        public HashSet<string> Keepers { get; } = new(StringComparer.Ordinal);
        /// <summary>Requests without addresses to serve again: new, changed, or woken.</summary>
        public HashSet<string> Retry { get; } = new(StringComparer.Ordinal);
        /// <summary>PreferDualStack holders short of a family whose pool released an address.</summary>
        public HashSet<string> Missing { get; } = new(StringComparer.Ordinal);
        public HashSet<AddressKey> Touched { get; } = [];
        public HashSet<AddressKey> Placed { get; } = [];
        public List<string> KeptFromPrevious { get; } = [];
        public List<string> KeptFromStatus { get; } = [];
        public HashSet<string> WokenForPending { get; } = new(StringComparer.Ordinal);
        public SortedSet<AllocationRequest> Pending { get; } = new(AllocationRun.PendingOrder);
    }

    private sealed class AddressView(AllocationSpace space) : IReadOnlyDictionary<string, ImmutableArray<IPAddress>>
    {
        public int Count => space.AllocatedCount;

        public IEnumerable<string> Keys => Allocated.Select(e => e.Key);

        public IEnumerable<ImmutableArray<IPAddress>> Values => Allocated.Select(e => e.Addresses);

        public ImmutableArray<IPAddress> this[string key] => TryGetValue(key, out var addresses) ? addresses : throw new KeyNotFoundException(key);

        private IEnumerable<AllocationEntry> Allocated => space.Entries.Where(e => e.IsAllocated);

        public bool ContainsKey(string key) => space.IsAllocated(key);

        public bool TryGetValue(string key, out ImmutableArray<IPAddress> value)
        {
            value = space.Entry(key) is { IsAllocated: true } entry ? entry.Addresses : default;
            return !value.IsDefault;
        }

        public IEnumerator<KeyValuePair<string, ImmutableArray<IPAddress>>> GetEnumerator() =>
            Allocated.Select(e => KeyValuePair.Create(e.Key, e.Addresses)).GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}

/// <summary>
/// A batch applied by <see cref="AllocationTable.ApplyTentatively"/>: <see cref="Commit"/> keeps it; disposing without
/// committing puts the table back exactly as it was.
/// </summary>
public sealed class AllocationTrial : IDisposable
{
    private AllocationTable? _table;

    internal AllocationTrial(AllocationTable table, AllocationChanges changes)
    {
        _table = table;
        Changes = changes;
    }

    public AllocationChanges Changes { get; }

    public void Commit()
    {
        (_table ?? throw new InvalidOperationException("The trial has ended.")).EndTrial(commit: true);
        _table = null;
    }

    public void Dispose()
    {
        _table?.EndTrial(commit: false);
        _table = null;
    }
}
