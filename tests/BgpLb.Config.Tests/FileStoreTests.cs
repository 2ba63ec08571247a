using System.Threading.Channels;
using BgpLb.Config.Resources;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using static BgpLb.Config.Tests.TestConfig;

namespace BgpLb.Config.Tests;

/// <summary>The directory source read by rescans (no file-system watch): what each batch holds.</summary>
public sealed class FileStoreTests : IDisposable
{
    private readonly ConfigDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private static ResourceKey Key(string kind, string name, string ns = Ns) => new(kind, kind is "Node" or "Namespace" ? "" : ns, name);

    private static ResourceKey[] Keys(ResourceBatch batch) => [.. batch.Changes.Select(c => c.Key)];

    private static string[] Cidrs(ResourceChange change) =>
        [.. Assert.IsType<IPAddressPoolSpec>(Assert.IsType<MetalLbObject>(change.Value).Spec).Addresses!];

    [Fact]
    public async Task Initial_batch_holds_every_object_and_problem_of_every_manifest()
    {
        _directory.Write("a.yaml", Node("n1") + Pool("p", "[203.0.113.0/28]"));
        _directory.Write("b.yml", LoadBalancer("web") + "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n");
        _directory.Write("c.txt", Node("ignored"));
        _directory.Write("d.yaml.bak", Node("ignored-too"));

        using var cancel = new CancellationTokenSource();
        var batches = _directory.Store.WatchAsync(cancel.Token).GetAsyncEnumerator(cancel.Token);
        await using var dispose = new BoundedDisposal(batches, TimeSpan.FromSeconds(10));
        Assert.True(await batches.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        var first = batches.Current;

        Assert.True(first.IsInitial);
        Assert.Equal([Key("Node", "n1"), Key("IPAddressPool", "p"), Key("Service", "web", "default")], Keys(first));
        var warning = Assert.Single(first.Problems[_directory.PathOf("b.yml")]);
        Assert.Equal((ConfigSeverity.Warning, (int?)6), (warning.Severity, warning.Line));
        Assert.DoesNotContain(_directory.PathOf("a.yaml"), first.Problems.Keys);
    }

    [Fact]
    public void Editing_one_document_of_a_file_emits_exactly_that_objects_change()
    {
        _directory.Write("a.yaml", Node("n1") + Pool("p", "[203.0.113.0/28]") + LoadBalancer("web"));
        _directory.Rescan();
        var nodeBefore = _directory.State.Nodes["n1"];

        _directory.Write("a.yaml", Node("n1") + Pool("p", "[198.51.100.0/28]") + LoadBalancer("web"));
        var batch = _directory.Rescan();

        var change = Assert.Single(batch.Changes);
        Assert.Equal(Key("IPAddressPool", "p"), change.Key);
        Assert.Equal(["198.51.100.0/28"], Cidrs(change));
        Assert.Empty(batch.Problems);
        Assert.Same(nodeBefore, _directory.State.Nodes["n1"]);
    }

    [Fact]
    public void Document_that_moves_is_projected_again_at_its_new_line()
    {
        _directory.Write("a.yaml", Node("n1") + Pool("p", "[203.0.113.0/28]"));
        _directory.Rescan();

        _directory.Write("a.yaml", Pool("p", "[203.0.113.0/28]"));
        var batch = _directory.Rescan();

        Assert.Equal([Key("IPAddressPool", "p"), Key("Node", "n1")], Keys(batch));
        Assert.Equal(1, Assert.IsType<MetalLbObject>(batch.Changes[0].Value).Line);
        Assert.Null(batch.Changes[1].Value);
    }

    [Fact]
    public void Rewriting_a_file_with_the_same_content_emits_nothing()
    {
        const string yaml = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n---\n" + "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n";
        _directory.Write("a.yaml", yaml);
        var first = _directory.Rescan();
        Assert.Single(first.Changes);
        Assert.Single(first.Problems[_directory.PathOf("a.yaml")]);

        _directory.Write("a.yaml", yaml);
        Assert.True(_directory.Rescan().IsEmpty);
        Assert.True(_directory.Rescan().IsEmpty);
    }

    [Fact]
    public void Removing_a_document_emits_its_delete()
    {
        _directory.Write("a.yaml", Pool("p", "[203.0.113.0/28]") + Pool("q", "[198.51.100.0/28]"));
        _directory.Rescan();

        _directory.Write("a.yaml", Pool("p", "[203.0.113.0/28]"));
        var batch = _directory.Rescan();

        Assert.Equal([new ResourceChange(Key("IPAddressPool", "q"), null)], batch.Changes);
        Assert.Equal(["p"], _directory.State.Config.Pools.Select(p => p.Name));
    }

    [Fact]
    public void Removing_a_file_emits_deletes_for_its_objects_and_clears_its_problems()
    {
        _directory.Write("a.yaml", Node("n1") + LoadBalancer("web") + "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n");
        _directory.Write("b.yaml", Node("n2"));
        _directory.Rescan();
        Assert.NotEmpty(_directory.State.Problems);

        _directory.Delete("a.yaml");
        var batch = _directory.Rescan();

        Assert.Equal([Key("Node", "n1"), Key("Service", "web", "default")], Keys(batch).OrderBy(k => k.ToString(), StringComparer.Ordinal));
        Assert.All(batch.Changes, c => Assert.Null(c.Value));
        Assert.Empty(batch.Problems[_directory.PathOf("a.yaml")]);
        Assert.Equal(["n2"], _directory.State.Nodes.Keys);
        Assert.Empty(_directory.State.Services);
        Assert.Empty(_directory.State.Problems);
    }

    [Fact]
    public void Syntax_error_keeps_the_files_objects_and_reports_line_and_column()
    {
        _directory.Write("a.yaml", Node("n1") + Pool("p", "[203.0.113.0/28]"));
        _directory.Rescan();

        _directory.Write("a.yaml", "apiVersion: v1\nkind: Node\nmetadata:\n  name: a\n  name: b\n");
        var broken = _directory.Rescan();

        Assert.Empty(broken.Changes);
        var error = Assert.Single(broken.Problems[_directory.PathOf("a.yaml")]);
        Assert.Equal((_directory.PathOf("a.yaml"), (int?)5), (error.Origin, error.Line));
        Assert.NotNull(error.Column);
        Assert.Single(_directory.State.Config.Pools);
        Assert.Equal(["n1"], _directory.State.Nodes.Keys);
    }

    /// <summary><see cref="TestConfig.BillionLaughs"/> in a kind nothing reads.</summary>
    private static readonly string BillionLaughs =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n" + string.Concat(TestConfig.BillionLaughs.Split('\n').Select(line => $"  {line}\n"));

    public static TheoryData<string, string> OversizedFiles => new()
    {
        { BillionLaughs, "YAML syntax error: document contains excessive aliasing: aliases expand to more than 100000 nodes" },
        // One document of 2 MiB: over the API server's object limit.
        { $"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: big}}\ndata: {{a: {new string('x', 2 << 20)}}}\n",
            "the document at line 1 is larger than 1572864 bytes as JSON (the limit)" },
        // 9 MiB of small documents.
        { string.Concat(Enumerable.Repeat(Node("n9") , (9 << 20) / Node("n9").Length + 1)), "the file is larger than 8388608 bytes (the limit)" },
    };

    [Theory]
    [MemberData(nameof(OversizedFiles))]
    public void Oversized_file_is_an_error_naming_it_and_the_limit_while_the_rest_stays_in_force(string content, string message)
    {
        _directory.Write("a.yaml", Node("n1"));
        _directory.Write("b.yaml", Pool("p", "[203.0.113.0/28]"));
        _directory.Write("c.yaml", Node("n3"));
        _directory.Rescan();

        _directory.Write("b.yaml", content);
        var bad = _directory.Rescan();

        Assert.Empty(bad.Changes);
        var error = Assert.Single(bad.Problems[_directory.PathOf("b.yaml")]);
        Assert.Equal((ConfigSeverity.Error, _directory.PathOf("b.yaml"), message), (error.Severity, error.Origin, error.Message));
        Assert.Single(_directory.State.Config.Pools);
        Assert.Equal(["n1", "n3"], _directory.State.Nodes.Keys.Order());

        _directory.Write("b.yaml", Pool("p", "[198.51.100.0/28]"));
        var fixedBatch = _directory.Rescan();

        Assert.Equal(["198.51.100.0/28"], Cidrs(Assert.Single(fixedBatch.Changes)));
        Assert.Empty(fixedBatch.Problems[_directory.PathOf("b.yaml")]);
        Assert.Empty(_directory.State.Problems.ExceptUnadvertised());
    }

    [Fact]
    public void Billion_laughs_beside_good_files_at_start_leaves_the_good_objects_loaded()
    {
        _directory.Write("a.yaml", Node("n1") + Pool("p", "[203.0.113.0/28]"));
        _directory.Write("b.yaml", BillionLaughs);

        var first = _directory.Rescan();

        Assert.Equal([Key("Node", "n1"), Key("IPAddressPool", "p")], Keys(first));
        Assert.Contains("excessive aliasing", Assert.Single(first.Problems[_directory.PathOf("b.yaml")]).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Fixing_a_syntax_error_emits_only_real_differences()
    {
        _directory.Write("a.yaml", Node("n1") + Pool("p", "[203.0.113.0/28]") + Node("n2"));
        _directory.Rescan();
        _directory.Write("a.yaml", "kind: [broken\n");
        _directory.Rescan();

        _directory.Write("a.yaml", Node("n1") + Pool("p", "[198.51.100.0/28]"));
        var fixedBatch = _directory.Rescan();

        Assert.Equal([Key("IPAddressPool", "p"), Key("Node", "n2")], Keys(fixedBatch));
        Assert.Equal(["198.51.100.0/28"], Cidrs(fixedBatch.Changes[0]));
        Assert.Null(fixedBatch.Changes[1].Value);
        Assert.Empty(fixedBatch.Problems[_directory.PathOf("a.yaml")]);
        Assert.Empty(_directory.State.Problems.ExceptUnadvertised());
    }

    [Fact]
    public void Duplicate_in_one_file_keeps_the_first_definition()
    {
        _directory.Write("a.yaml", Pool("p", "[203.0.113.0/28]") + Pool("p", "[198.51.100.0/28]"));
        var batch = _directory.Rescan();

        Assert.Equal(["203.0.113.0/28"], Cidrs(Assert.Single(batch.Changes)));
        var error = Assert.Single(batch.Problems[_directory.PathOf("a.yaml")]);
        Assert.Equal(("metadata.name", (int?)12), (error.Field, error.Line));
        Assert.Contains("already defined earlier in this file", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_in_one_file_takes_effect_when_the_first_definition_goes()
    {
        _directory.Write("a.yaml", Pool("p", "[203.0.113.0/28]") + Pool("p", "[198.51.100.0/28]"));
        _directory.Rescan();

        // The first document now defines another pool; the second is unchanged, at the same line.
        _directory.Write("a.yaml", Pool("q", "[192.0.2.0/28]") + Pool("p", "[198.51.100.0/28]"));
        var batch = _directory.Rescan();

        Assert.Equal([Key("IPAddressPool", "q"), Key("IPAddressPool", "p")], Keys(batch));
        Assert.Equal(["198.51.100.0/28"], Cidrs(batch.Changes[1]));
        Assert.Equal(12, Assert.IsType<MetalLbObject>(batch.Changes[1].Value).Line);
        Assert.Empty(batch.Problems[_directory.PathOf("a.yaml")]);
        Assert.Equal("198.51.100.0/28", _directory.State.Config.Pools.Single(p => p.Name == "p").Cidrs[0].ToString());
    }

    [Fact]
    public void Duplicate_across_files_is_taken_from_the_first_in_name_order_at_start()
    {
        _directory.Write("b.yaml", Pool("p", "[198.51.100.0/28]"));
        _directory.Write("a.yaml", Pool("p", "[203.0.113.0/28]"));
        var batch = _directory.Rescan();

        Assert.Equal(["203.0.113.0/28"], Cidrs(Assert.Single(batch.Changes)));
        var error = Assert.Single(batch.Problems[_directory.PathOf("b.yaml")]);
        Assert.Equal((Key("IPAddressPool", "p"), "metadata.name"), (error.Resource, error.Field));
        Assert.Contains("already defined in " + _directory.PathOf("a.yaml"), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_across_files_keeps_the_first_definer_until_it_goes_away()
    {
        _directory.Write("b.yaml", Pool("p", "[198.51.100.0/28]"));
        _directory.Rescan();

        // A later definition does not evict the first, even from a file earlier in name order.
        _directory.Write("a.yaml", Pool("p", "[203.0.113.0/28]"));
        var duplicate = _directory.Rescan();
        Assert.Empty(duplicate.Changes);
        Assert.Contains("already defined in " + _directory.PathOf("b.yaml"), Assert.Single(duplicate.Problems[_directory.PathOf("a.yaml")]).Message, StringComparison.Ordinal);
        Assert.Equal("198.51.100.0/28", _directory.State.Config.Pools.Single().Cidrs[0].ToString());

        // The first definer goes: the second takes effect and its problem is cleared.
        _directory.Delete("b.yaml");
        var takeover = _directory.Rescan();
        Assert.Equal(["203.0.113.0/28"], Cidrs(Assert.Single(takeover.Changes)));
        Assert.Empty(takeover.Problems[_directory.PathOf("a.yaml")]);
        Assert.Equal("203.0.113.0/28", _directory.State.Config.Pools.Single().Cidrs[0].ToString());
        Assert.Empty(_directory.State.Problems.ExceptUnadvertised());

        // And with the last definition gone, the object is gone.
        _directory.Write("a.yaml", Node("n1"));
        var gone = _directory.Rescan();
        Assert.Contains(new ResourceChange(Key("IPAddressPool", "p"), null), gone.Changes);
        Assert.Empty(_directory.State.Config.Pools);
    }

    [Fact]
    public void Remaining_duplicates_name_the_new_first_definer()
    {
        _directory.Write("a.yaml", Pool("p", "[203.0.113.0/28]"));
        _directory.Write("b.yaml", Pool("p", "[198.51.100.0/28]"));
        _directory.Write("c.yaml", Pool("p", "[192.0.2.0/28]"));
        _directory.Rescan();

        _directory.Delete("a.yaml");
        var batch = _directory.Rescan();

        Assert.Equal(["198.51.100.0/28"], Cidrs(Assert.Single(batch.Changes)));
        Assert.Empty(batch.Problems[_directory.PathOf("b.yaml")]);
        var error = Assert.Single(batch.Problems[_directory.PathOf("c.yaml")]);
        Assert.Contains("already defined in " + _directory.PathOf("b.yaml"), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_removed_from_the_second_file_leaves_the_first_alone()
    {
        _directory.Write("a.yaml", Pool("p", "[203.0.113.0/28]"));
        _directory.Write("b.yaml", Pool("p", "[198.51.100.0/28]"));
        _directory.Rescan();

        _directory.Delete("b.yaml");
        var batch = _directory.Rescan();
        Assert.Empty(batch.Changes);
        Assert.Empty(batch.Problems[_directory.PathOf("b.yaml")]);

        // No stale duplicate is left to take over when the first goes.
        _directory.Delete("a.yaml");
        Assert.Equal([new ResourceChange(Key("IPAddressPool", "p"), null)], _directory.Rescan().Changes);
    }

    [Fact]
    public void Missing_directory_is_reported_once_and_cleared_when_it_appears()
    {
        var path = _directory.PathOf("missing");
        var store = new FileStore(path, new ConfigOptions { WatchFileSystem = false }, TimeProvider.System, NullLogger<FileStore>.Instance);

        var first = store.Rescan();
        Assert.Empty(first.Changes);
        var error = Assert.Single(first.Problems[path]);
        Assert.Equal((ConfigSeverity.Error, path), (error.Severity, error.Origin));
        Assert.Contains("cannot list the configuration directory", error.Message, StringComparison.Ordinal);
        Assert.True(store.Rescan().IsEmpty);

        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, "a.yaml"), Node("n1"));
        var appeared = store.Rescan();
        Assert.Empty(appeared.Problems[path]);
        Assert.Equal([Key("Node", "n1")], Keys(appeared));
    }

    [Fact]
    public void Directory_that_goes_away_keeps_its_objects_and_is_reported()
    {
        var path = _directory.PathOf("sub");
        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, "a.yaml"), Node("n1"));
        var store = new FileStore(path, new ConfigOptions { WatchFileSystem = false }, TimeProvider.System, NullLogger<FileStore>.Instance);
        Assert.Single(store.Rescan().Changes);

        Directory.Delete(path, recursive: true);
        var batch = store.Rescan();
        Assert.Empty(batch.Changes);
        Assert.Contains("cannot list", Assert.Single(batch.Problems[path]).Message, StringComparison.Ordinal);
    }
}

/// <summary>The directory source as the daemons run it: inotify, write settling, periodic rescans.</summary>
public sealed class FileStoreWatchTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly string _directory = Directory.CreateTempSubdirectory("bgplb-watch-").FullName;
    private readonly CancellationTokenSource _cancel = new();

    public void Dispose()
    {
        _cancel.Cancel();
        _cancel.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private string PathOf(string name) => Path.Combine(_directory, name);

    private IAsyncEnumerator<ResourceBatch> Watch(ConfigOptions options, TimeProvider time) =>
        new FileStore(_directory, options, time, NullLogger<FileStore>.Instance).WatchAsync(_cancel.Token).GetAsyncEnumerator(_cancel.Token);

    private static async Task<ResourceBatch> NextAsync(IAsyncEnumerator<ResourceBatch> batches)
    {
        Assert.True(await batches.MoveNextAsync().AsTask().WaitAsync(Timeout));
        return batches.Current;
    }

    /// <summary>
    /// Applies batches to <paramref name="state"/> until <paramref name="condition"/> holds (the store may split or join
    /// the changes of several writes); every wait is bounded.
    /// </summary>
    private static async Task UntilAsync(IAsyncEnumerator<ResourceBatch> batches, ClusterState state, Func<ClusterState, bool> condition)
    {
        for (var i = 0; i < 20 && !condition(state); i++)
            state.Apply(await NextAsync(batches));
        Assert.True(condition(state), "the expected state was not reached");
    }

    private static string FirstCidr(ClusterState state) => state.Config.Pools.Single().Cidrs[0].ToString();

    [Fact]
    public async Task Directory_is_watched_end_to_end()
    {
        await File.WriteAllTextAsync(PathOf("pools.yaml"), Pool("p", "[203.0.113.0/28]"));
        await File.WriteAllTextAsync(PathOf("ignored.txt"), "not: yaml: at: all");
        var options = new ConfigOptions { RescanInterval = TimeSpan.FromHours(1) };
        var state = new ClusterState(options);
        var batches = Watch(options, TimeProvider.System);
        await using var dispose = new BoundedDisposal(batches, Timeout);
        state.Apply(await NextAsync(batches));
        Assert.Equal("203.0.113.0/28", FirstCidr(state));

        // An edit written in place.
        await File.WriteAllTextAsync(PathOf("pools.yaml"), Pool("p", "[198.51.100.0/28]"));
        await UntilAsync(batches, state, s => FirstCidr(s) == "198.51.100.0/28");

        // Editors that write a temporary file and rename it over the original.
        await File.WriteAllTextAsync(PathOf("pools.yaml.tmp"), Pool("p", "[192.0.2.0/28]"));
        File.Move(PathOf("pools.yaml.tmp"), PathOf("pools.yaml"), overwrite: true);
        await UntilAsync(batches, state, s => FirstCidr(s) == "192.0.2.0/28");

        // A second file (.yml) is picked up; deleting a file removes its objects.
        await File.WriteAllTextAsync(PathOf("peers.yml"), Peer("r", GoodPeerSpec));
        await UntilAsync(batches, state, s => s.Config.Peers.Length == 1);
        File.Delete(PathOf("pools.yaml"));
        await UntilAsync(batches, state, s => s.Config.Pools.IsEmpty);
        Assert.Single(state.Config.Peers);
        Assert.Empty(state.Problems);
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int rename(string from, string to);

    [Fact]
    public async Task A_mounted_ConfigMap_update_is_read_at_once()
    {
        // kubelet's layout: the manifests are links through "..data", which is swapped by renaming a new link into place.
        Directory.CreateDirectory(PathOf("..2026_01_01_a"));
        Directory.CreateDirectory(PathOf("..2026_01_01_b"));
        await File.WriteAllTextAsync(PathOf("..2026_01_01_a/pools.yaml"), Pool("p", "[203.0.113.0/28]"));
        await File.WriteAllTextAsync(PathOf("..2026_01_01_b/pools.yaml"), Pool("p", "[198.51.100.0/28]"));
        File.CreateSymbolicLink(PathOf("..data"), "..2026_01_01_a");
        File.CreateSymbolicLink(PathOf("pools.yaml"), "..data/pools.yaml");
        var options = new ConfigOptions { RescanInterval = TimeSpan.FromHours(1) };
        var state = new ClusterState(options);
        var batches = Watch(options, TimeProvider.System);
        await using var dispose = new BoundedDisposal(batches, Timeout);
        state.Apply(await NextAsync(batches));
        Assert.Equal("203.0.113.0/28", FirstCidr(state));

        File.CreateSymbolicLink(PathOf("..data_tmp"), "..2026_01_01_b");
        Assert.Equal(0, rename(PathOf("..data_tmp"), PathOf("..data"))); // File.Move will not move a link to a directory
        await UntilAsync(batches, state, s => FirstCidr(s) == "198.51.100.0/28");
    }

    [Fact]
    public async Task Bad_edit_is_reported_while_the_last_good_version_stays()
    {
        await File.WriteAllTextAsync(PathOf("pools.yaml"), Pool("p", "[203.0.113.0/28]"));
        var options = new ConfigOptions { RescanInterval = TimeSpan.FromHours(1) };
        var state = new ClusterState(options);
        var batches = Watch(options, TimeProvider.System);
        await using var dispose = new BoundedDisposal(batches, Timeout);
        state.Apply(await NextAsync(batches));

        await File.WriteAllTextAsync(PathOf("pools.yaml"), Pool("p", "[203.0.113.0/33]"));
        await UntilAsync(batches, state, s => s.HasErrors);
        var error = Assert.Single(state.Problems.ExceptUnadvertised());
        Assert.Equal((PathOf("pools.yaml"), "spec.addresses[0]"), (error.Origin, error.Field));
        Assert.Equal("203.0.113.0/28", FirstCidr(state));

        await File.WriteAllTextAsync(PathOf("pools.yaml"), Pool("p", "[198.51.100.0/28]"));
        await UntilAsync(batches, state, s => !s.HasErrors);
        Assert.Equal("198.51.100.0/28", FirstCidr(state));
    }

    [Fact]
    public async Task File_modified_but_not_closed_is_read_once_it_has_settled()
    {
        var time = new TimerLog();
        var options = new ConfigOptions { Debounce = TimeSpan.Zero, WriteSettle = TimeSpan.FromSeconds(1), RescanInterval = TimeSpan.FromHours(1) };
        var batches = Watch(options, time);
        await using var dispose = new BoundedDisposal(batches, Timeout);
        Assert.True((await NextAsync(batches)).IsInitial);

        await using var open = new FileStream(PathOf("open.yaml"), FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        await open.WriteAsync(System.Text.Encoding.UTF8.GetBytes(Node("open")));
        await open.FlushAsync();
        // A complete file written after it: inotify reports in order, so when this one is read the open file has been
        // seen (modified, not closed) and must not have been read with it.
        await File.WriteAllTextAsync(PathOf("closed.yaml"), Node("closed"));

        var completed = await NextAsync(batches);
        Assert.Equal(["closed"], completed.Changes.Select(c => c.Key.Name));

        // Advance once the store waits for the open file to settle (a timer armed after the advance would be late).
        time.ClearTimers();
        var next = batches.MoveNextAsync().AsTask();
        Assert.Equal(options.WriteSettle, await time.NextTimerAsync(Timeout));
        time.Advance(options.WriteSettle);
        Assert.True(await next.WaitAsync(Timeout));
        Assert.Equal(["open"], batches.Current.Changes.Select(c => c.Key.Name));
        Assert.False(open.SafeFileHandle.IsClosed);
    }

    [Fact]
    public async Task Periodic_rescan_notices_changes_without_file_events()
    {
        var time = new TimerLog();
        var options = new ConfigOptions { WatchFileSystem = false, RescanInterval = TimeSpan.FromSeconds(10) };
        await File.WriteAllTextAsync(PathOf("pools.yaml"), Pool("p", "[203.0.113.0/28]"));
        var state = new ClusterState(options);
        var batches = Watch(options, time);
        await using var dispose = new BoundedDisposal(batches, Timeout);
        state.Apply(await NextAsync(batches));

        var next = batches.MoveNextAsync().AsTask();
        Assert.Equal(options.RescanInterval, await time.NextTimerAsync(Timeout));
        await File.WriteAllTextAsync(PathOf("pools.yaml"), Pool("p", "[198.51.100.0/28]"));
        // The store waits on this one timer and nothing else can wake it: no rescan before it is due.
        time.Advance(options.RescanInterval - TimeSpan.FromMilliseconds(1));
        Assert.False(next.IsCompleted);

        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(await next.WaitAsync(Timeout));
        state.Apply(batches.Current);
        Assert.Equal("198.51.100.0/28", FirstCidr(state));
    }

    [Fact]
    public async Task Rescan_of_an_unchanged_directory_yields_nothing()
    {
        var time = new TimerLog();
        var options = new ConfigOptions { WatchFileSystem = false, RescanInterval = TimeSpan.FromSeconds(10) };
        await File.WriteAllTextAsync(PathOf("pools.yaml"), Pool("p", "[203.0.113.0/28]"));
        var batches = Watch(options, time);
        await using var dispose = new BoundedDisposal(batches, Timeout);
        await NextAsync(batches);

        var next = batches.MoveNextAsync().AsTask();
        Assert.Equal(options.RescanInterval, await time.NextTimerAsync(Timeout));
        time.Advance(options.RescanInterval);
        // The store armed its next rescan: the one that just ran found nothing to hand out.
        Assert.Equal(options.RescanInterval, await time.NextTimerAsync(Timeout));
        Assert.False(next.IsCompleted);

        await File.WriteAllTextAsync(PathOf("pools.yaml"), Pool("p", "[192.0.2.0/28]"));
        time.Advance(options.RescanInterval);
        Assert.True(await next.WaitAsync(Timeout));
        Assert.Equal("p", Assert.Single(batches.Current.Changes).Key.Name);
    }

    /// <summary>Virtual time that tells when a timer is created and for how long (the store's waits).</summary>
    private sealed class TimerLog : FakeTimeProvider
    {
        private readonly Channel<TimeSpan> _timers = Channel.CreateUnbounded<TimeSpan>();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = base.CreateTimer(callback, state, dueTime, period);
            _timers.Writer.TryWrite(dueTime);
            return timer;
        }

        /// <summary>Forgets the timers created so far.</summary>
        public void ClearTimers()
        {
            while (_timers.Reader.TryRead(out _))
            {
            }
        }

        public async Task<TimeSpan> NextTimerAsync(TimeSpan timeout) => await _timers.Reader.ReadAsync().AsTask().WaitAsync(timeout);
    }
}
