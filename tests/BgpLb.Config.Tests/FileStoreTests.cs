using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using static BgpLb.Config.Tests.TestConfig;

namespace BgpLb.Config.Tests;

public sealed class FileStoreTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly string _directory = Directory.CreateTempSubdirectory("bgplb-config-").FullName;
    private readonly CancellationTokenSource _cancel = new();

    public void Dispose()
    {
        _cancel.Cancel();
        _cancel.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private string PathOf(string name) => Path.Combine(_directory, name);

    private async Task WriteAsync(string name, string text) => await File.WriteAllTextAsync(PathOf(name), text);

    private IAsyncEnumerator<ConfigUpdate> Watch(ConfigOptions options, TimeProvider time, ILogger<ConfigFeed>? logger = null)
    {
        var store = new FileStore(_directory, options, time, NullLogger<FileStore>.Instance);
        return new ConfigFeed(store, options, logger ?? NullLogger<ConfigFeed>.Instance).WatchAsync(_cancel.Token).GetAsyncEnumerator(_cancel.Token);
    }

    private static async Task<ConfigUpdate> NextAsync(IAsyncEnumerator<ConfigUpdate> updates)
    {
        Assert.True(await updates.MoveNextAsync().AsTask().WaitAsync(Timeout));
        return updates.Current;
    }

    /// <summary>Waits (bounded) for an update that satisfies <paramref name="condition"/>; editors may produce intermediate states.</summary>
    private static async Task<ConfigUpdate> NextMatchingAsync(IAsyncEnumerator<ConfigUpdate> updates, Func<ConfigUpdate, bool> condition)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (DateTime.UtcNow < deadline)
        {
            var update = await NextAsync(updates);
            if (condition(update))
            {
                return update;
            }
        }
        throw new TimeoutException("no matching configuration update");
    }

    [Fact]
    public async Task Directory_is_watched_end_to_end()
    {
        await WriteAsync("pools.yaml", Pool("p", "[203.0.113.0/28]"));
        await WriteAsync("ignored.txt", "not: yaml: at: all");
        var logger = new ListLogger();
        await using var updates = Watch(new ConfigOptions(), TimeProvider.System, logger);

        var first = await NextAsync(updates);
        Assert.Empty(first.Errors);
        Assert.Equal(["203.0.113.0/28"], first.Config.Pools.Single().Cidrs.Select(c => c.ToString()));

        // A bad edit is reported (and logged once) while the old pool stays in force.
        await WriteAsync("pools.yaml", Pool("p", "[203.0.113.0/33]"));
        var bad = await NextMatchingAsync(updates, u => u.HasErrors);
        var error = SingleError(bad);
        Assert.Equal((PathOf("pools.yaml"), "spec.addresses[0]"), (error.Origin, error.Field));
        Assert.Equal(["203.0.113.0/28"], bad.Config.Pools.Single().Cidrs.Select(c => c.ToString()));
        Assert.Contains(logger.Lines, l => l.Contains("pools.yaml", StringComparison.Ordinal) && l.Contains("IPAddressPool metallb-system/p: spec.addresses[0]", StringComparison.Ordinal));

        // The fix is applied.
        await WriteAsync("pools.yaml", Pool("p", "[198.51.100.0/28]"));
        var fixedUpdate = await NextMatchingAsync(updates, u => !u.HasErrors);
        Assert.Equal(["198.51.100.0/28"], fixedUpdate.Config.Pools.Single().Cidrs.Select(c => c.ToString()));

        // Editors that write a temporary file and rename it over the original.
        await WriteAsync("pools.yaml.tmp", Pool("p", "[192.0.2.0/28]"));
        File.Move(PathOf("pools.yaml.tmp"), PathOf("pools.yaml"), overwrite: true);
        var renamed = await NextMatchingAsync(updates, u => u.Config.Pools.Single().Cidrs[0].ToString() == "192.0.2.0/28");
        Assert.Empty(renamed.Errors);

        // A second file (.yml) is picked up, deleting a file removes its objects.
        await WriteAsync("peers.yml", Peer("r", GoodPeerSpec));
        await NextMatchingAsync(updates, u => u.Config.Peers.Length == 1);
        File.Delete(PathOf("pools.yaml"));
        var deleted = await NextMatchingAsync(updates, u => u.Config.Pools.IsEmpty);
        Assert.Single(deleted.Config.Peers);
        Assert.Empty(deleted.Errors);
    }

    [Fact]
    public async Task Syntax_error_keeps_the_files_objects_and_reports_line_and_column()
    {
        await WriteAsync("pools.yaml", Pool("p", "[203.0.113.0/28]"));
        await using var updates = Watch(new ConfigOptions(), TimeProvider.System);
        await NextAsync(updates);

        await WriteAsync("pools.yaml", "apiVersion: v1\nkind: Node\nmetadata:\n  name: a\n  name: b\n");
        var broken = await NextMatchingAsync(updates, u => u.HasErrors);
        var error = SingleError(broken);
        Assert.Equal((PathOf("pools.yaml"), (int?)5), (error.Origin, error.Line));
        Assert.NotNull(error.Column);
        Assert.Single(broken.Config.Pools);
        Assert.Empty(broken.Config.Nodes);
    }

    [Fact]
    public async Task Periodic_rescan_notices_changes_without_file_events()
    {
        var time = new FakeTimeProvider();
        await WriteAsync("pools.yaml", Pool("p", "[203.0.113.0/28]"));
        await using var updates = Watch(new ConfigOptions { WatchFileSystem = false }, time);
        await NextAsync(updates);

        var next = updates.MoveNextAsync().AsTask();
        await WriteAsync("pools.yaml", Pool("p", "[198.51.100.0/28]"));
        time.Advance(TimeSpan.FromSeconds(9));
        await Task.Delay(100);
        Assert.False(next.IsCompleted);

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(await next.WaitAsync(Timeout));
        Assert.Equal("198.51.100.0/28", updates.Current.Config.Pools.Single().Cidrs[0].ToString());

        // An unchanged directory produces no update on the next rescan.
        next = updates.MoveNextAsync().AsTask();
        time.Advance(TimeSpan.FromSeconds(10));
        await Task.Delay(200);
        Assert.False(next.IsCompleted);
        await WriteAsync("pools.yaml", Pool("p", "[192.0.2.0/28]"));
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.True(await next.WaitAsync(Timeout));
    }

    [Fact]
    public async Task Missing_directory_is_reported()
    {
        var store = new FileStore(PathOf("missing"), new ConfigOptions(), TimeProvider.System, NullLogger<FileStore>.Instance);
        var snapshot = await store.ReadAsync(CancellationToken.None);
        Assert.Contains("cannot list the configuration directory", Assert.Single(snapshot.Errors).Message, StringComparison.Ordinal);
    }

    private sealed class ListLogger : ILogger<ConfigFeed>
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Lines)
            {
                Lines.Add(formatter(state, exception));
            }
        }
    }
}
