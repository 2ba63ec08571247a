using System.Runtime.CompilerServices;
using System.Threading.Channels;
using BgpLb.Config;

namespace BgpLb.Speaker;

/// <summary>
/// Fans the single-consumer <see cref="ConfigFeed"/> out to the speaker's reconcile loops (BGP and L2). Each subscriber
/// gets the latest update first and then every newer one; a slow subscriber skips to the latest (level-based).
/// </summary>
public sealed class ConfigBroadcast(ConfigFeed feed) : BackgroundService
{
    private readonly Lock _gate = new();
    private readonly List<ChannelWriter<ConfigUpdate>> _subscribers = [];
    private ConfigUpdate? _latest;

    public async IAsyncEnumerable<ConfigUpdate> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateBounded<ConfigUpdate>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        lock (_gate)
        {
            _subscribers.Add(channel.Writer);
            if (_latest is not null)
                channel.Writer.TryWrite(_latest);
        }
        try
        {
            await foreach (var update in channel.Reader.ReadAllAsync(cancellationToken))
                yield return update;
        }
        finally
        {
            lock (_gate)
                _subscribers.Remove(channel.Writer);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var update in feed.WatchAsync(stoppingToken))
        {
            lock (_gate)
            {
                _latest = update;
                foreach (var subscriber in _subscribers)
                    subscriber.TryWrite(update);
            }
        }
    }
}
