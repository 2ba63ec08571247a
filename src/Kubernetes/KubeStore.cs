using System.Collections.Immutable;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using BgpLb.Config;
using k8s;
using k8s.Autorest;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace BgpLb.Kubernetes;

/// <summary>
/// Resource source over the Kubernetes API: one informer per kind (list, then watch from the list's resourceVersion
/// with bookmarks; 410 Gone relists; failures reconnect with capped exponential backoff and jitter; a watchdog restarts
/// a watch that has been silent too long). Every object goes through <see cref="ManifestParser.ParseObject"/>, so the
/// validation and last-good rules are the same as for a directory. <see cref="WatchAsync"/> yields its first snapshot
/// once every kind has been listed, then the latest complete state after each change (a slow consumer skips
/// intermediate states). One reader at a time.
/// </summary>
public sealed class KubeStore(IKubernetes client, ConfigOptions options, KubeStoreOptions storeOptions, TimeProvider time, ILogger<KubeStore> logger)
    : IResourceSource
{
    private static readonly TimeSpan QuickCloseThreshold = TimeSpan.FromSeconds(1);

    private readonly IReadOnlyList<WatchedKind> _kinds = WatchedKind.All(options.MetalLbNamespace);
    private volatile bool _ready;

    /// <summary>True once the running <see cref="WatchAsync"/> has listed every kind (for /readyz).</summary>
    public bool IsReady => _ready;

    /// <summary>Lists every kind once, in parallel (no retries: an unreachable API server is an error the caller reports).</summary>
    public async ValueTask<ResourceSnapshot> ReadAsync(CancellationToken cancellationToken)
    {
        var cache = new ObjectCache(_kinds);
        var lists = await Task.WhenAll(_kinds.Select(kind => kind.List(client, cancellationToken)));
        for (var i = 0; i < _kinds.Count; i++)
        {
            cache.Replace(_kinds[i], lists[i].Items, options);
        }
        return cache.Snapshot();
    }

    public async IAsyncEnumerable<ResourceSnapshot> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var cache = new ObjectCache(_kinds);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var informers = _kinds.Select(kind => RunInformerAsync(kind, cache, stop.Token)).ToArray();
        try
        {
            while (true)
            {
                await cache.Changed.ReadAsync(cancellationToken);
                if (!cache.AllListed)
                {
                    continue;
                }
                if (!_ready)
                {
                    _ready = true;
                    KubeLog.Ready(logger);
                }
                yield return cache.Snapshot();
            }
        }
        finally
        {
            _ready = false;
            await stop.CancelAsync();
            await Task.WhenAll(informers);
        }
    }

    private async Task RunInformerAsync(WatchedKind kind, ObjectCache cache, CancellationToken cancellationToken)
    {
        var retry = RetryPipeline(kind.Kind);
        string? resourceVersion = null; // null: list before watching
        try
        {
            while (true)
            {
                await retry.ExecuteAsync(async token =>
                {
                    if (resourceVersion is null)
                    {
                        var list = await kind.List(client, token);
                        cache.Replace(kind, list.Items, options);
                        KubeLog.Listed(logger, list.Items.Count, kind.Kind, list.ResourceVersion);
                        resourceVersion = list.ResourceVersion;
                    }
                    resourceVersion = await WatchOnceAsync(kind, resourceVersion, cache, token);
                }, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// One watch request. Returns the resourceVersion to resume from, or null when the server said 410 Gone (relist).
    /// Throws when the watch failed, so the retry pipeline backs off before the next attempt.
    /// </summary>
    private async Task<string?> WatchOnceAsync(WatchedKind kind, string resourceVersion, ObjectCache cache, CancellationToken cancellationToken)
    {
        using var watch = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var silent = false;
        var gone = false;
        Exception? streamError = null;
        var timeout = storeOptions.SilentWatchTimeout;
        using var watchdog = time.CreateTimer(_ =>
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
        var started = time.GetTimestamp();
        try
        {
            var request = new WatchRequest(resourceVersion, storeOptions.WatchTimeoutSeconds, OnError, watch.Token);
            await foreach (var (type, item) in kind.Watch(client, request))
            {
                watchdog.Change(timeout, Timeout.InfiniteTimeSpan);
                events++;
                switch (type)
                {
                    case WatchEventType.Added or WatchEventType.Modified:
                        cache.Upsert(kind, item, options);
                        break;
                    case WatchEventType.Deleted:
                        cache.Remove(kind, item);
                        break;
                }
                resourceVersion = item["metadata"]?["resourceVersion"]?.GetValue<string>() ?? resourceVersion;
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
            KubeLog.WatchGone(logger, kind.Kind);
            return null;
        }
        if (streamError is not null)
        {
            throw new KubernetesWatchException($"watch of {kind.Kind} failed: {streamError.Message}", streamError);
        }
        if (silent)
        {
            KubeLog.WatchSilent(logger, kind.Kind, timeout);
        }
        else if (events == 0 && time.GetElapsedTime(started) < QuickCloseThreshold)
        {
            // A server or proxy that closes watches at once would otherwise make this a busy loop.
            throw new KubernetesWatchException($"watch of {kind.Kind} closed at once without any event");
        }
        return resourceVersion;
    }

    private ResiliencePipeline RetryPipeline(string kind) =>
        new ResiliencePipelineBuilder { TimeProvider = time }.AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is not null && !args.Context.CancellationToken.IsCancellationRequested),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = storeOptions.RetryDelay,
            MaxDelay = storeOptions.MaxRetryDelay,
            MaxRetryAttempts = int.MaxValue,
            OnRetry = args =>
            {
                KubeLog.WatchFailed(logger, kind, args.AttemptNumber + 1, args.RetryDelay, args.Outcome.Exception?.Message ?? "");
                return default;
            },
        }).Build();

    /// <summary>Parsed objects per kind, shared by the informers and the snapshot reader.</summary>
    private sealed class ObjectCache(IReadOnlyList<WatchedKind> kinds)
    {
        private readonly Lock _lock = new();
        private readonly Dictionary<string, Dictionary<string, ManifestParseResult>> _objects =
            kinds.ToDictionary(k => k.Kind, _ => new Dictionary<string, ManifestParseResult>(StringComparer.Ordinal));
        private readonly HashSet<string> _listed = [];
        private readonly Channel<bool> _changed = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

        public ChannelReader<bool> Changed => _changed.Reader;

        public bool AllListed
        {
            get
            {
                lock (_lock)
                {
                    return _listed.Count == _objects.Count;
                }
            }
        }

        public void Replace(WatchedKind kind, IReadOnlyList<JsonObject> items, ConfigOptions options)
        {
            var parsed = items.ToDictionary(i => Key(i), i => Parse(kind, i, options), StringComparer.Ordinal);
            lock (_lock)
            {
                _objects[kind.Kind] = parsed;
                _listed.Add(kind.Kind);
            }
            _changed.Writer.TryWrite(true);
        }

        public void Upsert(WatchedKind kind, JsonObject item, ConfigOptions options)
        {
            var parsed = Parse(kind, item, options);
            lock (_lock)
            {
                _objects[kind.Kind][Key(item)] = parsed;
            }
            _changed.Writer.TryWrite(true);
        }

        public void Remove(WatchedKind kind, JsonObject item)
        {
            lock (_lock)
            {
                _objects[kind.Kind].Remove(Key(item));
            }
            _changed.Writer.TryWrite(true);
        }

        public ResourceSnapshot Snapshot()
        {
            var resources = ImmutableArray.CreateBuilder<RawResource>();
            var errors = ImmutableArray.CreateBuilder<ConfigError>();
            lock (_lock)
            {
                foreach (var byKey in _objects.Values)
                {
                    foreach (var parsed in byKey.Values)
                    {
                        resources.AddRange(parsed.Resources);
                        errors.AddRange(parsed.Errors);
                    }
                }
            }
            return new ResourceSnapshot(resources.ToImmutable(), errors.ToImmutable(), []);
        }

        private static ManifestParseResult Parse(WatchedKind kind, JsonObject item, ConfigOptions options)
        {
            // List items usually come without apiVersion and kind.
            item["apiVersion"] ??= kind.ApiVersion;
            item["kind"] ??= kind.Kind;
            return ManifestParser.ParseObject($"kube:{kind.Kind} {Key(item).TrimStart('/')}", item, options);
        }

        private static string Key(JsonObject item)
        {
            var metadata = item["metadata"];
            return $"{metadata?["namespace"]?.GetValue<string>()}/{metadata?["name"]?.GetValue<string>()}";
        }
    }
}

/// <summary>A watch ended in a way that calls for a backoff before reconnecting.</summary>
internal sealed class KubernetesWatchException(string message, Exception? inner = null) : Exception(message, inner);
