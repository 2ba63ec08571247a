using System.Collections.Immutable;
using System.Net;
using System.Security.Cryptography;
using BgpLb.Allocation;
using BgpLb.Config;

namespace BgpLb.Controller;

/// <summary>Whether the Services' status decides their addresses (see <see cref="AllocationOwner.ApplyAsync"/>).</summary>
public enum StatusDecides
{
    Never,
    ForChangedServices,
    ForAllServices,
}

/// <summary>The changes that produced one revision.</summary>
public sealed record RevisionChange(ulong Revision, ImmutableArray<AllocationEntry> Upserted, ImmutableArray<string> Removed);

/// <summary>An immutable view of the allocation state: readers take it without locking.</summary>
public sealed record AllocationState(ulong Revision, AllocationResult Result, ImmutableArray<RevisionChange> History)
{
    /// <summary>The changes after <paramref name="revision"/>, or false when they are no longer (or never were) known.</summary>
    public bool TryGetChangesSince(ulong revision, out ImmutableArray<RevisionChange> changes)
    {
        changes = [];
        if (revision > Revision)
            return false;
        if (revision == Revision)
            return true;
        if (History.IsEmpty || History[0].Revision > revision + 1)
            return false;
        changes = [.. History.Where(c => c.Revision > revision)];
        return true;
    }
}

public enum ExternalRefusal { LimitReached, HeldByAnotherCaller }

/// <summary>An Allocate or Release that the caller may not make; nothing was changed.</summary>
public sealed class ExternalRefusedException(ExternalRefusal refusal, string message) : Exception(message)
{
    public ExternalRefusal Refusal { get; } = refusal;
}

/// <summary>
/// The single owner of allocations: cluster changes and gRPC Allocate/Release calls are serialized through one gate;
/// each applies what changed to the <see cref="AllocationTable"/>, persists the result, and only then publishes it
/// (new revision with exactly the changed entries, change history, waiters woken). Readers use <see cref="Current"/>
/// and never block writers. Without a state file (Kubernetes mode) nothing is persisted: the Services' status carries
/// the allocations.
/// </summary>
public sealed class AllocationOwner(StateFile? stateFile, StateData initial, ControllerOptions options, ILogger<AllocationOwner> logger) : IDisposable
{
    /// <summary>How many revisions of changes are kept for resuming watchers; older resumes get a snapshot.</summary>
    public const int HistoryLength = 1024;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile AllocationState _state = new(0, AllocationResult.Empty, []);
    private volatile TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // Guarded by _gate.
    private AllocationTable? _table;
    private ImmutableSortedDictionary<string, ExternalRequest> _external = initial.External.WithComparers(StringComparer.Ordinal);
    private StateData _persisted = initial;
    // Keys applied to the table whose change could not be saved, hence not published yet.
    private HashSet<string> _unsaved = [];
    private volatile string? _saveError;

    /// <summary>Changes once per process, so a watcher resuming across a controller restart gets a fresh snapshot.</summary>
    private readonly ForeignClassLog _foreignClasses = new(options.LoadBalancerClass, logger);

    public ulong Epoch { get; } = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8)) | 1;

    public AllocationState Current => _state;

    /// <summary>
    /// While cluster changes wait unpublished because the state could not be saved: the file and the reason; null once
    /// they are saved. An <see cref="ApplyAsync"/> of an empty delta tries again.
    /// </summary>
    public string? SaveError => _saveError;

    /// <summary>Completes once the first configuration has been allocated (and persisted).</summary>
    public Task Ready => _ready.Task;

    /// <summary>Allocates for what <paramref name="delta"/> changed in <paramref name="state"/> (everything the first time).</summary>
    /// <param name="statusDecides">
    /// Whether the Services' status decides their addresses instead of what this owner allocated before: for the changed
    /// Services while not the leader in Kubernetes mode (another controller writes the status), for all of them when
    /// becoming the leader. External names always keep theirs.
    /// </param>
    public async Task ApplyAsync(ClusterState state, ClusterDelta delta, StatusDecides statusDecides, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(delta);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var pools = state.Config.Pools.AsImmutableArray();
            IEnumerable<string> touched = delta.Services;
            AllocationBatch batch;
            AllocationChanges? forgotten = null;
            if (_table is null || statusDecides == StatusDecides.ForAllServices)
            {
                IReadOnlyDictionary<string, ImmutableArray<IPAddress>> previous = _table is null
                    ? _persisted.Addresses()
                    : _external.Keys.Where(k => _table.Addresses.ContainsKey(k)).ToDictionary(k => k, k => _table.Addresses[k], StringComparer.Ordinal);
                _table = new AllocationTable(pools, previous);
                touched = state.Services.Keys;
                batch = new AllocationBatch { Upserted = [.. Requests(state, touched), .. _external.Select(p => p.Value.ToRequest(p.Key))] };
            }
            else
            {
                if (delta.Namespaces.Count > 0)
                    touched = touched.Concat(state.Services.Values.Where(s => delta.Namespaces.Contains(s.Namespace)).Select(s => s.Key));
                var poolsChanged = delta.PreviousConfig is { } before && before.Pools != state.Config.Pools;
                var keys = touched.ToList();
                // Forgotten first, so that each changed Service is allocated again from what its status shows.
                forgotten = statusDecides == StatusDecides.ForChangedServices ? _table.Apply(new AllocationBatch { Removed = keys }) : null;
                batch = new AllocationBatch
                {
                    Pools = poolsChanged ? pools : null,
                    Upserted = Requests(state, keys),
                    Removed = [.. keys.Where(k => !(state.Services.TryGetValue(k, out var s) && s.IsOurs(options.LoadBalancerClass)))],
                };
            }
            _foreignClasses.Observe(state, touched);
            var changes = _table.Apply(batch);
            if (forgotten is not null)
                changes = Net(forgotten, changes);
            await CommitUnsynchronizedAsync(changes, _external, failOnPersistError: false, cancellationToken);
            _ready.TrySetResult();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>What two batches applied one after the other changed compared with what is published.</summary>
    private AllocationChanges Net(AllocationChanges first, AllocationChanges second) =>
        Net(Keys(first).Concat(Keys(second)).Distinct(StringComparer.Ordinal));

    private static IEnumerable<string> Keys(AllocationChanges changes) => changes.Changed.Select(e => e.Key).Concat(changes.Removed);

    /// <summary>How the table's entries for <paramref name="keys"/> differ from what is published.</summary>
    private AllocationChanges Net(IEnumerable<string> keys)
    {
        var published = _state.Result.Entries;
        var changed = new List<AllocationEntry>();
        var removed = new List<string>();
        foreach (var key in keys)
        {
            var now = _table![key];
            if (now is null && published.ContainsKey(key))
                removed.Add(key);
            else if (now is not null && !(published.TryGetValue(key, out var before) && before.Equals(now)))
                changed.Add(now);
        }
        return new AllocationChanges(changed, removed);
    }

    private List<AllocationRequest> Requests(ClusterState state, IEnumerable<string> keys)
    {
        var requests = new List<AllocationRequest>();
        foreach (var key in keys)
        {
            if (state.Services.TryGetValue(key, out var service) && service.IsOurs(options.LoadBalancerClass))
                requests.Add(AllocationRequest.ForService(service, state.NamespaceLabels(service.Namespace)));
        }
        return requests;
    }

    /// <summary>
    /// Allocates (or re-allocates, when the request changed) the external name for <see cref="ExternalRequest.Caller"/>.
    /// On failure the name keeps what it had before, and the returned entry says why.
    /// </summary>
    /// <exception cref="ExternalRefusedException">The name is another caller's, or the caller holds
    /// <see cref="ControllerOptions.MaxExternalPerCaller"/> names already.</exception>
    public async Task<AllocationEntry> AllocateAsync(string name, ExternalRequest request, CancellationToken cancellationToken)
    {
        await Ready.WaitAsync(cancellationToken);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var existing = CheckCallerUnsynchronized(name, request.Caller);
            if (existing is not null && existing.SameAs(request) && _table![name] is { } current)
                return current;
            var held = existing is null ? _external.Values.Count(r => r.Caller == request.Caller) : 0;
            if (held >= options.MaxExternalPerCaller)
                throw new ExternalRefusedException(ExternalRefusal.LimitReached,
                    $"caller '{request.Caller}' already holds {held} external allocations, the most one caller may hold; release one first");
            using var trial = _table!.ApplyTentatively(new AllocationBatch { Upserted = [request.ToRequest(name)] });
            var entry = _table[name]!;
            if (!entry.IsAllocated)
                return entry; // disposing the trial puts everything back
            await CommitUnsynchronizedAsync(trial.Changes, _external.SetItem(name, request), failOnPersistError: true, cancellationToken);
            trial.Commit();
            return entry;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <exception cref="ExternalRefusedException">The name is another caller's.</exception>
    public async Task<bool> ReleaseAsync(string name, string caller, CancellationToken cancellationToken)
    {
        await Ready.WaitAsync(cancellationToken);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (CheckCallerUnsynchronized(name, caller) is null)
                return false;
            using var trial = _table!.ApplyTentatively(new AllocationBatch { Removed = [name] });
            await CommitUnsynchronizedAsync(trial.Changes, _external.Remove(name), failOnPersistError: true, cancellationToken);
            trial.Commit();
            return true;
        }
        finally
        {
            _gate.Release();
        }
    }

    private ExternalRequest? CheckCallerUnsynchronized(string name, string? caller) =>
        !_external.TryGetValue(name, out var existing) ? null
        : existing.Caller is null || existing.Caller == caller ? existing
        : throw new ExternalRefusedException(ExternalRefusal.HeldByAnotherCaller, $"'{name}' is held by another caller");

    /// <summary>Returns once the revision is above <paramref name="revision"/>.</summary>
    public async Task WaitForChangeAsync(ulong revision, CancellationToken cancellationToken)
    {
        while (true)
        {
            var changed = _changed;
            if (_state.Revision > revision)
                return;
            await changed.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Persists the table's state with <paramref name="changes"/> applied, then publishes the changes. Nothing is published
    /// that is not saved: a controller restarted from the file would otherwise hand out what it published again. When
    /// saving fails, a cluster change stays applied in the table but unpublished (<see cref="SaveError"/> says why) and
    /// goes out with the next commit that saves; an external request fails.
    /// </summary>
    /// <exception cref="IOException">The state could not be saved and <paramref name="failOnPersistError"/> is set.</exception>
    private async Task CommitUnsynchronizedAsync(AllocationChanges changes, ImmutableSortedDictionary<string, ExternalRequest> external,
        bool failOnPersistError, CancellationToken cancellationToken)
    {
        var pending = new HashSet<string>(_unsaved, StringComparer.Ordinal);
        if (pending.Count > 0)
        {
            pending.UnionWith(Keys(changes));
            changes = Net(pending);
        }
        var allocations = _persisted.Allocations.ToBuilder();
        var keys = new List<string>(changes.Changed.Count + changes.Removed.Count);
        foreach (var entry in changes.Changed)
        {
            if (entry.IsAllocated)
            {
                var stored = new StoredAllocation(entry.Pool!, [.. entry.Addresses.Select(a => a.ToString())]);
                if (allocations.TryGetValue(entry.Key, out var before) && before.Pool == stored.Pool && before.Addresses.SequenceEqual(stored.Addresses))
                    continue;
                allocations[entry.Key] = stored;
                keys.Add(entry.Key);
            }
            else if (allocations.Remove(entry.Key))
            {
                keys.Add(entry.Key);
            }
        }
        foreach (var key in changes.Removed)
        {
            if (allocations.Remove(key))
                keys.Add(key);
        }
        // Service changes pass the persisted set itself: comparing it (each request serialized) would be work for nothing.
        List<string> names = ReferenceEquals(external, _persisted.External) ? []
            : [.. external.Where(p => !_persisted.External.TryGetValue(p.Key, out var before) || !before.SameAs(p.Value)).Select(p => p.Key),
                .. _persisted.External.Keys.Where(name => !external.ContainsKey(name))];
        var data = new StateData { Allocations = allocations.ToImmutable(), External = external };
        if (stateFile is not null && keys.Count + names.Count > 0)
        {
            try
            {
                await stateFile.CommitAsync(data, keys, names, cancellationToken);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                var reason = e.Message.TrimEnd('.');
                ControllerLog.StateNotSaved(logger, stateFile.Path, reason);
                if (failOnPersistError)
                    throw;
                _saveError = $"cannot save {stateFile.Path}: {reason}";
                pending.UnionWith(Keys(changes));
                _unsaved = pending;
                return;
            }
        }
        if (_saveError is not null)
            ControllerLog.StateSavedAgain(logger, stateFile!.Path, pending.Count);
        _saveError = null;
        _unsaved = [];
        _persisted = data;
        _external = external;
        Publish(changes);
    }

    private void Publish(AllocationChanges changes)
    {
        var state = _state;
        var pools = _table!.Pools;
        Log(state, changes);
        if (changes.Changed.Count == 0 && changes.Removed.Count == 0 && state.Revision > 0)
        {
            _state = state with { Result = state.Result with { Pools = pools } }; // pool usage may still differ (e.g. a pool was added)
            return;
        }
        var entries = state.Result.Entries.ToBuilder();
        foreach (var entry in changes.Changed)
            entries[entry.Key] = entry;
        foreach (var key in changes.Removed)
            entries.Remove(key);
        var revision = state.Revision + 1;
        var history = state.History.Add(new RevisionChange(revision, [.. changes.Changed], [.. changes.Removed]));
        if (history.Length > HistoryLength)
            history = history.RemoveRange(0, history.Length - HistoryLength);
        _state = new AllocationState(revision, new AllocationResult(entries.ToImmutable(), pools), history);
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }

    private void Log(AllocationState state, AllocationChanges changes)
    {
        var level = changes.Changed.Count + changes.Removed.Count > MaxLinesAtInformation ? LogLevel.Debug : LogLevel.Information;
        if (level == LogLevel.Debug)
        {
            var allocated = changes.Changed.Count(e => e.IsAllocated);
            ControllerLog.ManyChanged(logger, changes.Changed.Count + changes.Removed.Count, allocated, changes.Changed.Count - allocated, changes.Removed.Count);
        }
        foreach (var entry in changes.Changed)
        {
            var before = state.Result.Entries.GetValueOrDefault(entry.Key);
            if (!entry.IsAllocated)
                ControllerLog.AllocationFailed(logger, level == LogLevel.Debug ? level : LogLevel.Warning, entry.Key, entry.Failure, entry.Reason);
            else if (before is null || !before.IsAllocated)
                ControllerLog.Allocated(logger, level, entry.Key, entry.Addresses, entry.Pool!);
            else if (!before.Addresses.SequenceEqual(entry.Addresses))
                ControllerLog.Moved(logger, level == LogLevel.Debug ? level : LogLevel.Warning, entry.Key, before.Addresses, entry.Addresses, entry.Pool!);
        }
        foreach (var key in changes.Removed)
        {
            if (state.Result.Entries.TryGetValue(key, out var before))
                ControllerLog.Released(logger, level, key, before.Addresses);
        }
    }

    /// <summary>More changes than this in one pass are one summary line at Information and one line each at Debug.</summary>
    private const int MaxLinesAtInformation = 100;

    public void Dispose()
    {
        _gate.Dispose();
        stateFile?.Dispose();
    }
}
