using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using BgpLb.Allocation.V1;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace BgpLb.Allocation.Client;

/// <summary>Everything the controller has allocated, as of one revision.</summary>
public sealed record AllocationSnapshot(ulong Epoch, ulong Revision, ImmutableSortedDictionary<string, AllocationEntry> Entries)
{
    /// <summary>The entries that hold addresses (failed requests carry only a reason).</summary>
    public IEnumerable<AllocationEntry> Allocated => Entries.Values.Where(e => e.IsAllocated);
}

public sealed record AllocationWatcherOptions
{
    /// <summary>First reconnect delay; doubles per failed attempt (with jitter) up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(200);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// Follows bgplb-controller's WatchAllocations stream and hands out the latest allocation snapshot. Reconnects forever
/// (capped exponential backoff with jitter) and resumes from the last revision it saw; while disconnected it yields
/// nothing new, so consumers keep the last known snapshot: losing the controller never withdraws an address.
/// </summary>
public sealed partial class AllocationWatcher(Uri controller, ILogger<AllocationWatcher> logger, TimeProvider? time = null, AllocationWatcherOptions? options = null)
{
    private readonly AllocationWatcherOptions _options = options ?? new AllocationWatcherOptions();
    private ImmutableSortedDictionary<string, AllocationEntry> _entries = ImmutableSortedDictionary.Create<string, AllocationEntry>(StringComparer.Ordinal);
    private ulong _epoch;
    private ulong _revision;
    private volatile AllocationSnapshot? _latest;

    /// <summary>The last snapshot received (kept across disconnects); null before the first one.</summary>
    public AllocationSnapshot? Latest => _latest;

    /// <summary>
    /// Snapshots as they change, latest wins: a slow consumer skips intermediate ones. Starts with <see cref="Latest"/>
    /// when there is one. One enumeration at a time. Ends when <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    public async IAsyncEnumerable<AllocationSnapshot> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var snapshots = Channel.CreateBounded<AllocationSnapshot>(
            new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = true });
        if (_latest is { } known)
            snapshots.Writer.TryWrite(known);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pump = PumpAsync(snapshots.Writer, stop.Token);
        try
        {
            await foreach (var snapshot in snapshots.Reader.ReadAllAsync(cancellationToken))
                yield return snapshot;
        }
        finally
        {
            await stop.CancelAsync();
            await pump;
        }
    }

    private async Task PumpAsync(ChannelWriter<AllocationSnapshot> snapshots, CancellationToken cancellationToken)
    {
        Exception? failure = null;
        try
        {
            using var channel = GrpcChannel.ForAddress(controller, new GrpcChannelOptions
            {
                HttpHandler = new SocketsHttpHandler
                {
                    ConnectTimeout = TimeSpan.FromSeconds(5),
                    KeepAlivePingDelay = TimeSpan.FromSeconds(20),
                    KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
                    KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
                },
            });
            var client = new AllocationService.AllocationServiceClient(channel);
            var retry = new ResiliencePipelineBuilder { TimeProvider = time ?? TimeProvider.System }
                .AddRetry(new RetryStrategyOptions
                {
                    ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is not null and not OperationCanceledException),
                    MaxRetryAttempts = int.MaxValue,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    Delay = _options.InitialBackoff,
                    MaxDelay = _options.MaxBackoff,
                    OnRetry = args =>
                    {
                        Log.Unreachable(logger, controller, args.AttemptNumber + 1, args.RetryDelay, args.Outcome.Exception?.Message ?? "");
                        return default;
                    },
                })
                .Build();
            // Each pass runs until a stream that delivered data breaks; the next pass starts with a fresh backoff.
            while (!cancellationToken.IsCancellationRequested)
                await retry.ExecuteAsync(async token => await StreamOnceAsync(client, snapshots, token), cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            failure = e;
        }
        snapshots.TryComplete(failure);
    }

    private async ValueTask StreamOnceAsync(AllocationService.AllocationServiceClient client, ChannelWriter<AllocationSnapshot> snapshots, CancellationToken cancellationToken)
    {
        using var call = client.WatchAllocations(new WatchAllocationsRequest { Epoch = _epoch, Revision = _revision }, cancellationToken: cancellationToken);
        var received = false;
        try
        {
            await foreach (var message in call.ResponseStream.ReadAllAsync(cancellationToken))
            {
                if (!received)
                    Log.Connected(logger, controller, message.Snapshot ? "snapshot" : "changes", message.Revision);
                received = true;
                Apply(message);
                snapshots.TryWrite(_latest!);
            }
        }
        catch (Exception e) when (received && e is not OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            Log.Disconnected(logger, controller, e.Message);
            return;
        }
        if (!received)
            throw new RpcException(new Status(StatusCode.Unavailable, "the controller closed the allocation stream"));
        Log.Disconnected(logger, controller, "the controller closed the allocation stream");
    }

    private void Apply(WatchAllocationsResponse message)
    {
        var entries = message.Snapshot ? _entries.Clear().ToBuilder() : _entries.ToBuilder();
        foreach (var allocation in message.Allocations)
            entries[allocation.Key] = AllocationProto.FromProto(allocation);
        foreach (var key in message.Removed)
            entries.Remove(key);
        _entries = entries.ToImmutable();
        _epoch = message.Epoch;
        _revision = message.Revision;
        _latest = new AllocationSnapshot(_epoch, _revision, _entries);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Following allocations from {Controller} (first message: {Kind} at revision {Revision})")]
        public static partial void Connected(ILogger logger, Uri controller, string kind, ulong revision);

        [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "Lost the allocation stream from {Controller}: {Reason}; keeping the last known allocations")]
        public static partial void Disconnected(ILogger logger, Uri controller, string reason);

        [LoggerMessage(EventId = 4103, Level = LogLevel.Warning, Message = "Controller {Controller} unreachable (attempt {Attempt}), retrying in {Delay}: {Reason}")]
        public static partial void Unreachable(ILogger logger, Uri controller, int attempt, TimeSpan delay, string reason);
    }
}
