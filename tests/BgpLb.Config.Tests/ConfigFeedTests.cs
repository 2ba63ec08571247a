using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using static BgpLb.Config.Tests.TestConfig;

namespace BgpLb.Config.Tests;

public class ConfigFeedTests
{
    /// <summary>A source fed by the test, standing in for the future KubeStore.</summary>
    private sealed class ManualSource : IResourceSource
    {
        private readonly Channel<ResourceSnapshot> _snapshots = Channel.CreateUnbounded<ResourceSnapshot>();

        public void Publish(params (string Origin, string Yaml)[] files) => _snapshots.Writer.TryWrite(Snapshot(files));

        public ValueTask<ResourceSnapshot> ReadAsync(CancellationToken cancellationToken) => _snapshots.Reader.ReadAsync(cancellationToken);

        public async IAsyncEnumerable<ResourceSnapshot> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            while (true)
            {
                yield return await _snapshots.Reader.ReadAsync(cancellationToken);
            }
        }
    }

    private sealed class ListLogger : ILogger<ConfigFeed>
    {
        public List<(LogLevel Level, EventId Id, string Text)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Add((logLevel, eventId, formatter(state, exception)));
    }

    [Fact]
    public async Task Any_source_gets_validation_last_good_and_one_log_line_per_new_problem()
    {
        var source = new ManualSource();
        var logger = new ListLogger();
        var feed = new ConfigFeed(source, new ConfigOptions(), logger);
        await using var updates = feed.WatchAsync(CancellationToken.None).GetAsyncEnumerator();

        source.Publish(("kube", Pool("p", "[203.0.113.0/28]")));
        Assert.True(await updates.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Single(updates.Current.Config.Pools);
        Assert.DoesNotContain(logger.Entries, e => e.Level >= LogLevel.Warning);

        source.Publish(("kube", Pool("p", "[]") + "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n"));
        Assert.True(await updates.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(["203.0.113.0/28"], updates.Current.Config.Pools.Single().Cidrs.Select(c => c.ToString()));
        var error = Assert.Single(logger.Entries, e => e.Level == LogLevel.Error);
        Assert.Equal(3001, error.Id.Id);
        Assert.Contains("kube:1: IPAddressPool metallb-system/p: spec.addresses: the pool has no addresses", error.Text, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Text);
        Assert.Equal(3002, Assert.Single(logger.Entries, e => e.Level == LogLevel.Warning).Id.Id);

        // The same problems again are not logged again.
        source.Publish(("kube", Pool("p", "[]") + "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n---\n" + Pool("q", "[198.51.100.0/28]")));
        Assert.True(await updates.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(2, updates.Current.Config.Pools.Length);
        Assert.Single(logger.Entries, e => e.Level == LogLevel.Error);
        Assert.Equal(3, logger.Entries.Count(e => e.Id.Id == 3003));
    }

    [Fact]
    public async Task Load_reads_once()
    {
        var source = new ManualSource();
        source.Publish(("kube", "apiVersion: v1\nkind: Node\nmetadata: {name: n}\n"));
        var update = await new ConfigFeed(source, new ConfigOptions(), new ListLogger()).LoadAsync(CancellationToken.None);
        Assert.Equal("n", Assert.Single(update.Config.Nodes).Metadata.Name);
        Assert.Equal(ImmutableArray<ConfigError>.Empty, update.Errors.AsImmutableArray());
    }
}
