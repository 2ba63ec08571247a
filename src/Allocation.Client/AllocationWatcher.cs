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

/// <summary>
/// One message of the controller's allocation stream: a <see cref="Snapshot"/> replaces everything known before (its
/// <see cref="Upserted"/> is the complete set); otherwise the entries that changed and the keys that went away.
/// </summary>
public sealed record AllocationUpdate(ulong Epoch, ulong Revision, bool Snapshot, IReadOnlyList<AllocationEntry> Upserted, IReadOnlyList<string> Removed);

public sealed record AllocationWatcherOptions
{
    /// <summary>First reconnect delay; doubles per failed attempt (with jitter) up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(200);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// Follows bgplb-controller's WatchAllocations stream and hands out its messages in order. Reconnects forever (capped
/// exponential backoff with jitter) and resumes from the last revision it saw (the controller then sends only what
/// was missed, or a snapshot); while disconnected it yields nothing, so consumers keep what they know: losing the
/// controller never withdraws an address. The stream is read only as fast as the consumer takes the messages. A controller
/// that refuses our credentials is logged as an error (naming the flags to check) and retried with the same backoff, so a
/// rotated credential on either side is picked up without a restart.
/// </summary>
public sealed partial class AllocationWatcher(ControllerConnection controller, ILogger<AllocationWatcher> logger, TimeProvider? time = null, AllocationWatcherOptions? options = null)
{
    private const int Buffered = 16;

    private readonly AllocationWatcherOptions _options = options ?? new AllocationWatcherOptions();
    private ulong _epoch;
    private ulong _revision;

    /// <summary>The stream's messages, in order. One enumeration at a time. Ends when <paramref name="cancellationToken"/> is cancelled.</summary>
    public async IAsyncEnumerable<AllocationUpdate> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var updates = Channel.CreateBounded<AllocationUpdate>(
            new BoundedChannelOptions(Buffered) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pump = PumpAsync(updates.Writer, stop.Token);
        try
        {
            await foreach (var update in updates.Reader.ReadAllAsync(cancellationToken))
                yield return update;
        }
        finally
        {
            await stop.CancelAsync();
            await pump;
        }
    }

    private async Task PumpAsync(ChannelWriter<AllocationUpdate> updates, CancellationToken cancellationToken)
    {
        Exception? failure = null;
        try
        {
            using var channel = controller.CreateChannel(logger);
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
                        if (args.Outcome.Exception is RpcException { StatusCode: StatusCode.Unauthenticated or StatusCode.PermissionDenied } refused)
                            Log.Refused(logger, controller.Address, refused.StatusCode, refused.Status.Detail, args.AttemptNumber + 1, args.RetryDelay);
                        else
                            Log.Unreachable(logger, controller.Address, args.AttemptNumber + 1, args.RetryDelay, args.Outcome.Exception?.Message ?? "");
                        return default;
                    },
                })
                .Build();
            // Each pass runs until a stream that delivered data breaks; the next pass starts with a fresh backoff.
            while (!cancellationToken.IsCancellationRequested)
                await retry.ExecuteAsync(async token => await StreamOnceAsync(client, updates, token), cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            failure = e;
        }
        updates.TryComplete(failure);
    }

    private async ValueTask StreamOnceAsync(AllocationService.AllocationServiceClient client, ChannelWriter<AllocationUpdate> updates, CancellationToken cancellationToken)
    {
        using var call = client.WatchAllocations(new WatchAllocationsRequest { Epoch = _epoch, Revision = _revision }, cancellationToken: cancellationToken);
        var received = false;
        try
        {
            await foreach (var message in call.ResponseStream.ReadAllAsync(cancellationToken))
            {
                if (!received)
                    Log.Connected(logger, controller.Address, message.Snapshot ? "snapshot" : "changes", message.Revision);
                received = true;
                _epoch = message.Epoch;
                _revision = message.Revision;
                await updates.WriteAsync(new AllocationUpdate(message.Epoch, message.Revision, message.Snapshot,
                    [.. message.Allocations.Select(AllocationProto.FromProto)], [.. message.Removed]), cancellationToken);
            }
        }
        catch (Exception e) when (received && e is not OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            Log.Disconnected(logger, controller.Address, e.Message);
            return;
        }
        if (!received)
            throw new RpcException(new Status(StatusCode.Unavailable, "the controller closed the allocation stream"));
        Log.Disconnected(logger, controller.Address, "the controller closed the allocation stream");
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Following allocations from {Controller} (first message: {Kind} at revision {Revision})")]
        public static partial void Connected(ILogger logger, Uri controller, string kind, ulong revision);

        [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "Lost the allocation stream from {Controller}: {Reason}; keeping the last known allocations")]
        public static partial void Disconnected(ILogger logger, Uri controller, string reason);

        [LoggerMessage(EventId = 4103, Level = LogLevel.Warning, Message = "Controller {Controller} unreachable (attempt {Attempt}), retrying in {Delay}: {Reason}")]
        public static partial void Unreachable(ILogger logger, Uri controller, int attempt, TimeSpan delay, string reason);

        [LoggerMessage(EventId = 4153, Level = LogLevel.Error, Message = "Controller {Controller} refused our credentials ({Code}: {Detail}); check --controller-cert/--controller-key and --controller-token-file (attempt {Attempt}, retrying in {Delay})")]
        public static partial void Refused(ILogger logger, Uri controller, StatusCode code, string detail, int attempt, TimeSpan delay);
    }
}
