using System.Collections.Immutable;
using System.Net;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using BgpLb.Config;

namespace BgpLb.Speaker.Allocations;

/// <summary>A configuration together with the addresses its Services hold: what a reconcile loop plans from.</summary>
public sealed record AllocatedConfig(ConfigUpdate Update, IReadOnlyDictionary<string, ImmutableArray<IPAddress>> Addresses)
{
    /// <summary>
    /// The latest configuration with its allocations, recomputed whenever either changes (level-based: a slow consumer
    /// skips to the latest). Nothing is yielded while the allocations are unknown. Fails when the configurations fail;
    /// ends when they end.
    /// </summary>
    public static async IAsyncEnumerable<AllocatedConfig> WatchAsync(
        IAsyncEnumerable<ConfigUpdate> configs, IAllocationSource allocations, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var inputs = new Inputs();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task[] followers =
        [
            inputs.FollowAsync(async () =>
            {
                await foreach (var update in configs.WithCancellation(stop.Token))
                    inputs.SetConfig(update);
                inputs.Dirty.Writer.TryComplete();
            }, stop.Token),
            inputs.FollowAsync(async () =>
            {
                var seen = allocations.Version;
                while (true)
                {
                    await allocations.WaitForChangeAsync(seen, stop.Token);
                    seen = allocations.Version;
                    inputs.Dirty.Writer.TryWrite(true);
                }
            }, stop.Token),
        ];
        try
        {
            await foreach (var _ in inputs.Dirty.Reader.ReadAllAsync(cancellationToken))
            {
                if (inputs.Config is { } update && allocations.AddressesFor(update.Config) is { } addresses)
                    yield return new AllocatedConfig(update, addresses);
            }
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(followers);
        }
    }

    private sealed class Inputs
    {
        private volatile ConfigUpdate? _config;

        public Channel<bool> Dirty { get; } =
            Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

        public ConfigUpdate? Config => _config;

        public void SetConfig(ConfigUpdate update)
        {
            _config = update;
            Dirty.Writer.TryWrite(true);
        }

        /// <summary>Runs one input; its failure ends the enumeration with that exception.</summary>
        public async Task FollowAsync(Func<Task> follow, CancellationToken stopping)
        {
            try
            {
                await follow();
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                Dirty.Writer.TryComplete(e);
            }
        }
    }
}
