using System.Collections.Immutable;
using System.Net;
using System.Security.Cryptography;
using BgpLb.Allocation;
using BgpLb.Config;

namespace BgpLb.Controller;

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

/// <summary>
/// The single owner of allocations: cluster changes and gRPC Allocate/Release calls are serialized through one gate;
/// each allocates what changed, persists the result, and only then publishes it (new revision with exactly the changed
/// entries, change history, waiters woken). Readers use <see cref="Current"/> and never block writers.
/// Without a state file (Kubernetes mode) nothing is persisted: the Services' status carries the allocations.
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
    private ImmutableArray<AddressPool> _pools = [];
    private readonly Dictionary<string, AllocationRequest> _services = new(StringComparer.Ordinal);
    private ImmutableDictionary<string, ImmutableArray<IPAddress>> _previous = initial.Addresses();
    private ImmutableSortedDictionary<string, ExternalRequest> _external = initial.External.WithComparers(StringComparer.Ordinal);
    private StateData _persisted = initial;

    /// <summary>Changes once per process, so a watcher resuming across a controller restart gets a fresh snapshot.</summary>
    public ulong Epoch { get; } = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8)) | 1;

    public AllocationState Current => _state;

    /// <summary>Completes once the first configuration has been allocated (and persisted).</summary>
    public Task Ready => _ready.Task;

    /// <summary>
    /// Allocates for what <paramref name="delta"/> changed in <paramref name="state"/> (everything the first time).
    /// </summary>
    /// <param name="servicesAreAuthoritative">
    /// The Services' status decides their addresses, not what this owner allocated before (e.g. while not the leader in
    /// Kubernetes mode, or when becoming it). External names keep theirs.
    /// </param>
    public async Task ApplyAsync(ClusterState state, ClusterDelta delta, bool servicesAreAuthoritative, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(delta);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var all = !_ready.Task.IsCompleted;
            var changed = all ? state.Services.Keys.ToHashSet(StringComparer.Ordinal) : new HashSet<string>(delta.Services, StringComparer.Ordinal);
            if (delta.Namespaces.Count > 0)
                changed.UnionWith(state.Services.Values.Where(s => delta.Namespaces.Contains(s.Namespace)).Select(s => s.Key));
            foreach (var key in changed)
            {
                if (state.Services.TryGetValue(key, out var service) && service.IsOurs(options.LoadBalancerClass))
                    _services[key] = AllocationRequest.ForService(service, state.NamespaceLabels(service.Namespace));
                else
                    _services.Remove(key);
            }
            _pools = state.Config.Pools.AsImmutableArray();
            if (servicesAreAuthoritative)
                _previous = _previous.RemoveRange(_previous.Keys.Where(k => !_external.ContainsKey(k)));
            await CommitUnsynchronizedAsync(Allocate(_external), _external, failOnPersistError: false, cancellationToken);
            _ready.TrySetResult();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Allocates (or re-allocates, when the request changed) the external name. On failure the name keeps what it had
    /// before, and the returned entry says why.
    /// </summary>
    public async Task<AllocationEntry> AllocateAsync(string name, ExternalRequest request, CancellationToken cancellationToken)
    {
        await Ready.WaitAsync(cancellationToken);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_external.TryGetValue(name, out var existing) && existing.SameAs(request) && _state.Result.Entries.TryGetValue(name, out var current))
                return current;
            var external = _external.SetItem(name, request);
            var result = Allocate(external);
            var entry = result.Entries[name];
            if (!entry.IsAllocated)
                return entry;
            await CommitUnsynchronizedAsync(result, external, failOnPersistError: true, cancellationToken);
            return entry;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<bool> ReleaseAsync(string name, CancellationToken cancellationToken)
    {
        await Ready.WaitAsync(cancellationToken);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (!_external.ContainsKey(name))
                return false;
            var external = _external.Remove(name);
            await CommitUnsynchronizedAsync(Allocate(external), external, failOnPersistError: true, cancellationToken);
            return true;
        }
        finally
        {
            _gate.Release();
        }
    }

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

    private AllocationResult Allocate(ImmutableSortedDictionary<string, ExternalRequest> external) =>
        Allocator.Allocate(_pools, [.. _services.Values, .. external.Select(p => p.Value.ToRequest(p.Key))], _previous);

    private async Task CommitUnsynchronizedAsync(AllocationResult result, ImmutableSortedDictionary<string, ExternalRequest> external,
        bool failOnPersistError, CancellationToken cancellationToken)
    {
        var data = new StateData
        {
            Allocations = result.Entries.Values.Where(e => e.IsAllocated)
                .ToImmutableSortedDictionary(e => e.Key, e => new StoredAllocation(e.Pool!, [.. e.Addresses.Select(a => a.ToString())]), StringComparer.Ordinal),
            External = external,
        };
        if (stateFile is not null && !SameState(data, _persisted))
        {
            try
            {
                await stateFile.SaveAsync(data, cancellationToken);
                _persisted = data;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException && !failOnPersistError)
            {
                // Allocation goes on from memory; the next change tries to persist again.
                ControllerLog.StateNotSaved(logger, stateFile.Path, e.Message);
            }
        }
        _external = external;
        _previous = result.Addresses;
        Publish(result);
    }

    private void Publish(AllocationResult result)
    {
        var state = _state;
        var upserted = result.Entries.Values.Where(e => !state.Result.Entries.TryGetValue(e.Key, out var old) || !old.Equals(e)).ToImmutableArray();
        var removed = state.Result.Entries.Keys.Where(k => !result.Entries.ContainsKey(k)).ToImmutableArray();
        foreach (var entry in upserted)
            LogChange(state.Result.Entries.GetValueOrDefault(entry.Key), entry);
        foreach (var key in removed)
        {
            var addresses = string.Join(", ", state.Result.Entries[key].Addresses);
            ControllerLog.Released(logger, key, addresses);
        }
        if (upserted.IsEmpty && removed.IsEmpty && state.Revision > 0)
        {
            _state = state with { Result = result }; // pool usage may still differ (e.g. a pool was added)
            return;
        }
        var revision = state.Revision + 1;
        var history = state.History.Add(new RevisionChange(revision, upserted, removed));
        if (history.Length > HistoryLength)
            history = history.RemoveRange(0, history.Length - HistoryLength);
        _state = new AllocationState(revision, result, history);
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }

    private void LogChange(AllocationEntry? before, AllocationEntry after)
    {
        var addresses = string.Join(", ", after.Addresses);
        if (!after.IsAllocated)
            ControllerLog.AllocationFailed(logger, after.Key, after.Failure, after.Reason);
        else if (before is null || !before.IsAllocated)
            ControllerLog.Allocated(logger, after.Key, addresses, after.Pool!);
        else if (!before.Addresses.SequenceEqual(after.Addresses))
            ControllerLog.Moved(logger, after.Key, string.Join(", ", before.Addresses), addresses, after.Pool!);
    }

    private static bool SameState(StateData a, StateData b) =>
        a.Allocations.Count == b.Allocations.Count && a.External.Count == b.External.Count
        && a.Allocations.All(p => b.Allocations.TryGetValue(p.Key, out var other) && other.Pool == p.Value.Pool && other.Addresses.SequenceEqual(p.Value.Addresses))
        && a.External.All(p => b.External.TryGetValue(p.Key, out var other) && other.SameAs(p.Value));

    public void Dispose() => _gate.Dispose();
}
