using System.Runtime.CompilerServices;
using System.Threading.Channels;
using static BgpLb.Config.Tests.TestConfig;

namespace BgpLb.Config.Tests;

public sealed class ResourceFeedTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A source fed by the test. <see cref="WaitingAsync"/> completes each time the reader asks for the next batch, i.e.
    /// once everything handed out before has been taken in.
    /// </summary>
    private sealed class ManualSource : IResourceSource
    {
        private readonly Channel<Func<ResourceBatch>> _batches = Channel.CreateUnbounded<Func<ResourceBatch>>();
        private readonly Channel<bool> _waiting = Channel.CreateUnbounded<bool>();

        public bool Cancelled { get; private set; }

        public void Publish(ResourceBatch batch) => _batches.Writer.TryWrite(() => batch);

        public void Fail(Exception exception) => _batches.Writer.TryWrite(() => throw exception);

        public void End() => _batches.Writer.TryComplete();

        public async Task WaitingAsync() => await _waiting.Reader.ReadAsync().AsTask().WaitAsync(Timeout);

        public async IAsyncEnumerable<ResourceBatch> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            while (true)
            {
                _waiting.Writer.TryWrite(true);
                Func<ResourceBatch> next;
                try
                {
                    if (!await _batches.Reader.WaitToReadAsync(cancellationToken) || !_batches.Reader.TryRead(out next!))
                        yield break;
                }
                catch (OperationCanceledException)
                {
                    Cancelled = true;
                    throw;
                }
                yield return next();
            }
        }
    }

    private static ResourceBatch WithProblem(ResourceBatch batch, string origin, params ConfigError[] problems)
    {
        batch.Problems[origin] = [.. problems];
        return batch;
    }

    private static ConfigError Problem(string origin, string message) => new(ConfigSeverity.Error, origin, null, null, message);

    [Fact]
    public async Task First_batch_comes_from_start()
    {
        var source = new ManualSource();
        var initial = new ResourceBatch { IsInitial = true };
        initial.Changes.AddRange(Changes(Node("n1")));
        source.Publish(initial);
        var feed = new ResourceFeed(source, new WakeSignal());
        await using var dispose = new BoundedDisposal(feed, Timeout);

        var first = await feed.StartAsync(CancellationToken.None).WaitAsync(Timeout);

        Assert.Same(initial, first);
        await source.WaitingAsync(); // before the first batch
        await source.WaitingAsync(); // after it: the pump reads on
        Assert.Null(feed.TakePending());
    }

    [Fact]
    public async Task Batches_arriving_while_the_consumer_is_away_are_merged_by_key()
    {
        var source = new ManualSource();
        var wake = new WakeSignal();
        source.Publish(new ResourceBatch { IsInitial = true });
        var feed = new ResourceFeed(source, wake);
        await using var dispose = new BoundedDisposal(feed, Timeout);
        await feed.StartAsync(CancellationToken.None).WaitAsync(Timeout);
        await source.WaitingAsync();

        source.Publish(WithProblem(Batch([.. Changes(Node("n1", "{zone: a}") + Node("n2"))]), "a.yaml", Problem("a.yaml", "first")));
        source.Publish(WithProblem(Batch([.. Changes(Node("n1", "{zone: b}")), Deleted("Node", "", "n2")]), "b.yaml", Problem("b.yaml", "other")));
        source.Publish(WithProblem(new ResourceBatch(), "a.yaml", Problem("a.yaml", "second")));
        for (var i = 0; i < 4; i++)
            await source.WaitingAsync();
        await wake.WaitAsync(CancellationToken.None).AsTask().WaitAsync(Timeout);

        var pending = feed.TakePending();

        Assert.NotNull(pending);
        Assert.False(pending.IsInitial);
        var changes = pending.Changes.ToDictionary(c => c.Key.Name, c => c.Value);
        Assert.Equal(["n1", "n2"], changes.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("b", Assert.IsType<NodeInfo>(changes["n1"]).Labels["zone"]);
        Assert.Null(changes["n2"]);
        Assert.Equal("second", Assert.Single(pending.Problems["a.yaml"]).Message);
        Assert.Equal("other", Assert.Single(pending.Problems["b.yaml"]).Message);
        Assert.Null(feed.TakePending());
    }

    [Fact]
    public async Task Cleared_problems_are_handed_on()
    {
        var source = new ManualSource();
        source.Publish(new ResourceBatch { IsInitial = true });
        var feed = new ResourceFeed(source, new WakeSignal());
        await using var dispose = new BoundedDisposal(feed, Timeout);
        await feed.StartAsync(CancellationToken.None).WaitAsync(Timeout);
        await source.WaitingAsync();

        source.Publish(WithProblem(new ResourceBatch(), "a.yaml"));
        await source.WaitingAsync();
        await source.WaitingAsync();

        var pending = feed.TakePending();
        Assert.NotNull(pending);
        Assert.True(pending.Problems.TryGetValue("a.yaml", out var cleared));
        Assert.Empty(cleared);
        Assert.Empty(pending.Changes);
    }

    [Fact]
    public async Task Failing_source_surfaces_on_take_pending()
    {
        var source = new ManualSource();
        var wake = new WakeSignal();
        source.Publish(new ResourceBatch { IsInitial = true });
        var feed = new ResourceFeed(source, wake);
        await using var dispose = new BoundedDisposal(feed, Timeout);
        await feed.StartAsync(CancellationToken.None).WaitAsync(Timeout);
        await source.WaitingAsync();

        var failure = new IOException("connection lost");
        source.Fail(failure);
        await wake.WaitAsync(CancellationToken.None).AsTask().WaitAsync(Timeout);

        var thrown = Assert.Throws<InvalidOperationException>(() => feed.TakePending());
        Assert.Same(failure, thrown.InnerException);
    }

    [Fact]
    public async Task Source_that_ends_before_its_first_batch_fails_start()
    {
        var source = new ManualSource();
        source.End();
        var feed = new ResourceFeed(source, new WakeSignal());
        await using var dispose = new BoundedDisposal(feed, Timeout);
        await Assert.ThrowsAsync<InvalidOperationException>(() => feed.StartAsync(CancellationToken.None).WaitAsync(Timeout));
    }

    [Fact]
    public async Task Cancelling_start_cancels_the_source()
    {
        var source = new ManualSource();
        var feed = new ResourceFeed(source, new WakeSignal());
        await using var dispose = new BoundedDisposal(feed, Timeout);
        using var cancel = new CancellationTokenSource();
        var start = feed.StartAsync(cancel.Token);
        await source.WaitingAsync();

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => start.WaitAsync(Timeout));
        Assert.True(source.Cancelled);
    }

    [Fact]
    public async Task Dispose_stops_reading_the_source()
    {
        var source = new ManualSource();
        source.Publish(new ResourceBatch { IsInitial = true });
        var feed = new ResourceFeed(source, new WakeSignal());
        await feed.StartAsync(CancellationToken.None).WaitAsync(Timeout);
        await source.WaitingAsync();
        await source.WaitingAsync();

        await feed.DisposeAsync().AsTask().WaitAsync(Timeout);

        Assert.True(source.Cancelled);
    }
}
