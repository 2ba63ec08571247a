using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using BgpLb.Config;
using k8s;
using k8s.Autorest;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace BgpLb.Kubernetes;

/// <summary>
/// Resource source over the Kubernetes API: one informer per kind (a paginated list, then a watch from the list's
/// resourceVersion with bookmarks; 410 Gone relists; failures reconnect with capped exponential backoff and jitter; a
/// watchdog restarts a watch that has been silent too long). Every list item and watch event is decoded once as JSON
/// and goes once through <see cref="ObjectProjector"/>; per object an informer keeps only its resourceVersion and
/// projected value (to skip events that change nothing BgpLb uses), and only for objects that have a value or
/// problems. Changes meet in <see cref="PendingChanges"/>, keyed by object, so a slow consumer only delays the next
/// batch. <see cref="WatchAsync"/> yields the first batch once every kind has been listed. One reader at a time.
/// </summary>
public sealed class KubeStore : IResourceSource
{
    private static readonly TimeSpan QuickCloseThreshold = TimeSpan.FromSeconds(1);

    private readonly IKubernetes _client;
    private readonly ConfigOptions _options;
    private readonly KubeStoreOptions _storeOptions;
    private readonly TimeProvider _time;
    private readonly ILogger<KubeStore> _logger;
    private readonly IReadOnlyList<WatchedKind> _kinds;
    private volatile bool _ready;

    public KubeStore(IKubernetes client, ConfigOptions options, KubeStoreOptions storeOptions, TimeProvider time, ILogger<KubeStore> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(storeOptions);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(storeOptions.ListPageSize);
        (_client, _options, _storeOptions, _time, _logger) = (client, options, storeOptions, time, logger);
        _kinds = WatchedKind.All(options);
    }

    /// <summary>True once the running <see cref="WatchAsync"/> has listed every kind (for /readyz).</summary>
    public bool IsReady => _ready;

    public async IAsyncEnumerable<ResourceBatch> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var pending = new PendingChanges(_kinds.Count);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var informers = _kinds.Select(kind => new Informer(this, kind, pending).RunAsync(stop.Token)).ToArray();
        try
        {
            while (!pending.AllListed)
            {
                await pending.WaitAsync(cancellationToken);
            }
            _ready = true;
            KubeLog.Ready(_logger);
            yield return pending.Take();
            while (true)
            {
                await pending.WaitAsync(cancellationToken);
                var batch = pending.Take();
                if (!batch.IsEmpty)
                {
                    yield return batch;
                }
            }
        }
        finally
        {
            _ready = false;
            await stop.CancelAsync();
            await Task.WhenAll(informers);
        }
    }

    private ResiliencePipeline RetryPipeline(string kind) =>
        new ResiliencePipelineBuilder { TimeProvider = _time }.AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is not null && !args.Context.CancellationToken.IsCancellationRequested),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = _storeOptions.RetryDelay,
            MaxDelay = _storeOptions.MaxRetryDelay,
            MaxRetryAttempts = int.MaxValue,
            OnRetry = args =>
            {
                KubeLog.WatchFailed(_logger, kind, args.AttemptNumber + 1, args.RetryDelay, args.Outcome.Exception?.Message ?? "");
                return default;
            },
        }).Build();

    /// <summary>What an informer remembers of one object: enough to tell a change from a repeat, nothing of the object itself.</summary>
    /// <param name="Value">The projected value last published (shared with the consumer); null when the object is invalid and never was valid.</param>
    /// <param name="HasProblems">Problems were published for the object's origin and must be cleared when it is fixed or gone.</param>
    /// <param name="Generation">The list (or the watch after it) that last saw the object.</param>
    private record struct Entry(string? Version, object? Value, bool HasProblems, int Generation);

    /// <summary>
    /// List and watch of one kind. Only objects with a value or with problems are remembered: an object BgpLb does not
    /// use (a ClusterIP Service) costs nothing between events. Owned by its one task; only <see cref="PendingChanges"/>
    /// is shared.
    /// </summary>
    private sealed class Informer(KubeStore store, WatchedKind kind, PendingChanges pending)
    {
        private readonly Dictionary<ResourceKey, Entry> _entries = [];
        private readonly Projection _projection = new();
        private readonly ChangeBuffer _event = new();
        // A list's changes are published together when it completes, as client-go's Replace: the consumer never sees
        // half of a relist. They survive a list that fails halfway, whose objects were already recorded in _entries.
        private ChangeBuffer _list = new();
        private int _generation;
        private bool _listed;

        public async Task RunAsync(CancellationToken cancellationToken)
        {
            var retry = store.RetryPipeline(kind.Kind);
            string? resourceVersion = null; // null: list before watching
            try
            {
                while (true)
                {
                    await retry.ExecuteAsync(async token =>
                    {
                        resourceVersion ??= await ListAsync(token);
                        resourceVersion = await WatchOnceAsync(resourceVersion, token);
                    }, cancellationToken);
                }
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                // Stopped: whatever the attempt in flight ended with (a cancellation, or a connection reset as it was
                // torn down) is of no interest.
            }
        }

        /// <summary>
        /// Lists every page and publishes the difference to what was known: upserts for what changed, deletes for the
        /// objects not listed. Returns the list's resourceVersion.
        /// </summary>
        private async Task<string> ListAsync(CancellationToken cancellationToken)
        {
            var generation = ++_generation;
            string? continueToken = null;
            var restarted = false;
            var count = 0;
            while (true)
            {
                JsonElement page;
                try
                {
                    page = await kind.ListAsync(store._client, store._storeOptions.ListPageSize, continueToken, cancellationToken);
                }
                catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Gone && continueToken is not null && !restarted)
                {
                    // The continue token outlived the server's history. List again from the first page at once; should
                    // that expire as well, the exception goes to the retry pipeline so that it backs off.
                    KubeLog.ListExpired(store._logger, kind.Kind);
                    (generation, continueToken, count, restarted) = (++_generation, null, 0, true);
                    continue;
                }
                if (page.ValueKind == JsonValueKind.Object && page.TryGetProperty("items", out var items) && items.ValueKind == JsonValueKind.Array)
                {
                    foreach (var item in items.EnumerateArray())
                    {
                        Upsert(item, _list, generation);
                        count++;
                    }
                }
                continueToken = MetadataString(page, "continue");
                if (string.IsNullOrEmpty(continueToken))
                {
                    var resourceVersion = MetadataString(page, "resourceVersion") ?? "";
                    foreach (var (key, entry) in _entries)
                    {
                        if (entry.Generation != generation)
                        {
                            _entries.Remove(key);
                            Forget(key, entry, _list);
                        }
                    }
                    KubeLog.Listed(store._logger, count, kind.Kind, resourceVersion);
                    pending.Publish(_list, firstList: !_listed);
                    _listed = true;
                    _list = new ChangeBuffer();
                    return resourceVersion;
                }
            }
        }

        /// <summary>
        /// One watch request. Returns the resourceVersion to resume from, or null when the server said 410 Gone (relist).
        /// Throws when the watch failed, so the retry pipeline backs off before the next attempt.
        /// </summary>
        private async Task<string?> WatchOnceAsync(string resourceVersion, CancellationToken cancellationToken)
        {
            using var watch = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var silent = false;
            var gone = false;
            Exception? streamError = null;
            var timeout = store._storeOptions.SilentWatchTimeout;
            using var watchdog = store._time.CreateTimer(_ =>
            {
                silent = true;
                try
                {
                    watch.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // fired while the watch was ending
                }
            }, null, timeout, Timeout.InfiniteTimeSpan);

            void OnError(Exception e)
            {
                if (e is KubernetesException { Status.Code: (int)HttpStatusCode.Gone })
                {
                    gone = true;
                }
                else
                {
                    streamError ??= e;
                }
                watch.Cancel();
            }

            var events = 0;
            var started = store._time.GetTimestamp();
            try
            {
                await foreach (var (type, item) in kind.Watch(store._client, resourceVersion, store._storeOptions.WatchTimeoutSeconds, OnError, watch.Token))
                {
                    watchdog.Change(timeout, Timeout.InfiniteTimeSpan);
                    events++;
                    if (item is not JsonElement element)
                    {
                        continue;
                    }
                    switch (type)
                    {
                        case WatchEventType.Added or WatchEventType.Modified:
                            Upsert(element, _event, _generation);
                            break;
                        case WatchEventType.Deleted:
                            Delete(element, _event);
                            break;
                    }
                    resourceVersion = MetadataString(element, "resourceVersion") ?? resourceVersion;
                    pending.Publish(_event, firstList: false);
                    _event.Clear();
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && (silent || gone || streamError is not null))
            {
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Gone)
            {
                gone = true;
            }
            if (gone)
            {
                KubeLog.WatchGone(store._logger, kind.Kind);
                return null;
            }
            if (streamError is not null)
            {
                throw new KubernetesWatchException($"watch of {kind.Kind} failed: {streamError.Message}", streamError);
            }
            if (silent)
            {
                KubeLog.WatchSilent(store._logger, kind.Kind, timeout);
            }
            else if (events == 0 && store._time.GetElapsedTime(started) < QuickCloseThreshold)
            {
                // A server or proxy that closes watches at once would otherwise make this a busy loop.
                throw new KubernetesWatchException($"watch of {kind.Kind} closed at once without any event");
            }
            return resourceVersion;
        }

        /// <summary>
        /// Records what <paramref name="item"/> means now in <paramref name="changes"/>: its projected value when that
        /// differs from the last one (null: BgpLb does not use it), its problems. An object that cannot be read changes
        /// no value (its last good one stays with the consumer), only its problems.
        /// </summary>
        private void Upsert(JsonElement item, ChangeBuffer changes, int generation)
        {
            if (!TryKey(item, out var key))
            {
                return;
            }
            var version = MetadataString(item, "resourceVersion");
            ref var known = ref CollectionsMarshal.GetValueRefOrNullRef(_entries, key);
            var exists = !Unsafe.IsNullRef(ref known);
            if (exists && version is not null && known.Version == version)
            {
                known.Generation = generation; // relisted unchanged
                return;
            }
            var before = exists ? known : default;

            var origin = Origin(key);
            _projection.Objects.Clear();
            _projection.Invalid.Clear();
            _projection.Problems.Clear();
            ObjectProjector.Project(origin, null, item, store._options, _projection, (kind.ApiVersion, kind.Kind));
            var readable = _projection.Invalid.Count == 0;
            var projected = _projection.Objects.Count > 0 ? _projection.Objects[0] : null;
            var value = readable ? projected?.Value : before.Value;
            if (readable && !Equals(before.Value, value))
            {
                changes.Set(key, value);
            }
            var hasProblems = _projection.Problems.Count > 0;
            if (hasProblems || before.HasProblems)
            {
                changes.SetProblems(origin, [.. _projection.Problems]);
            }

            if (value is null && !hasProblems)
            {
                _entries.Remove(key);
            }
            else
            {
                // The projected key carries the projector's shared namespace string.
                _entries[projected?.Key == key ? projected.Key : key] = new Entry(version, value, hasProblems, generation);
            }
        }

        private void Delete(JsonElement item, ChangeBuffer changes)
        {
            if (TryKey(item, out var key) && _entries.Remove(key, out var entry))
            {
                Forget(key, entry, changes);
            }
        }

        /// <summary>The object is gone: so are its value and its problems.</summary>
        private static void Forget(ResourceKey key, Entry entry, ChangeBuffer changes)
        {
            if (entry.Value is not null)
            {
                changes.Set(key, null);
            }
            if (entry.HasProblems)
            {
                changes.SetProblems(Origin(key), []);
            }
        }

        private bool TryKey(JsonElement item, out ResourceKey key)
        {
            var name = MetadataString(item, "name");
            key = new ResourceKey(kind.Kind, kind.IsClusterScoped ? "" : MetadataString(item, "namespace") ?? "", name ?? "");
            return !string.IsNullOrEmpty(name);
        }

        /// <summary>Where problems of one object are reported, e.g. "kube:Service default/web".</summary>
        private static string Origin(ResourceKey key) => "kube:" + key;
    }

    private static string? MetadataString(JsonElement item, string name) =>
        item.ValueKind == JsonValueKind.Object
        && item.TryGetProperty("metadata", out var metadata) && metadata.ValueKind == JsonValueKind.Object
        && metadata.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}

/// <summary>A watch ended in a way that calls for a backoff before reconnecting.</summary>
internal sealed class KubernetesWatchException(string message, Exception? inner = null) : Exception(message, inner);
