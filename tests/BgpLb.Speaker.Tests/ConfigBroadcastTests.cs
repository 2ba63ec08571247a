using System.Runtime.CompilerServices;
using System.Threading.Channels;
using BgpLb.Config;
using Microsoft.Extensions.Logging.Abstractions;

namespace BgpLb.Speaker.Tests;

public sealed class ConfigBroadcastTests
{
    [Fact]
    public async Task Every_subscriber_gets_the_latest_update_first_and_then_each_change()
    {
        var source = new ChannelSource();
        var broadcast = new ConfigBroadcast(new ConfigFeed(source, new ConfigOptions(), NullLogger<ConfigFeed>.Instance));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await broadcast.StartAsync(timeout.Token);

        var early = broadcast.WatchAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);
        var earlyFirst = early.MoveNextAsync();
        source.Publish(Snapshot("one"));
        Assert.True(await earlyFirst);
        Assert.Equal(["one"], early.Current.Config.Pools.Select(p => p.Name));

        // A late subscriber starts from the latest state; both then see the next change.
        var late = broadcast.WatchAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);
        Assert.True(await late.MoveNextAsync());
        Assert.Equal(["one"], late.Current.Config.Pools.Select(p => p.Name));
        source.Publish(Snapshot("two"));
        Assert.True(await early.MoveNextAsync());
        Assert.True(await late.MoveNextAsync());
        Assert.Equal(["two"], early.Current.Config.Pools.Select(p => p.Name));
        Assert.Equal(["two"], late.Current.Config.Pools.Select(p => p.Name));

        await early.DisposeAsync();
        await late.DisposeAsync();
        await broadcast.StopAsync(CancellationToken.None);
    }

    private static ResourceSnapshot Snapshot(string pool)
    {
        var parsed = ManifestParser.Parse("test.yaml", $$"""
            apiVersion: metallb.io/v1beta1
            kind: IPAddressPool
            metadata: { name: {{pool}} }
            spec: { addresses: [203.0.113.0/28] }
            """, new ConfigOptions());
        return new ResourceSnapshot([.. parsed.Resources], [.. parsed.Errors], []);
    }

    private sealed class ChannelSource : IResourceSource
    {
        private readonly Channel<ResourceSnapshot> _snapshots = Channel.CreateUnbounded<ResourceSnapshot>();

        public void Publish(ResourceSnapshot snapshot) => _snapshots.Writer.TryWrite(snapshot);

        public ValueTask<ResourceSnapshot> ReadAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

        public async IAsyncEnumerable<ResourceSnapshot> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await foreach (var snapshot in _snapshots.Reader.ReadAllAsync(cancellationToken))
                yield return snapshot;
        }
    }
}
