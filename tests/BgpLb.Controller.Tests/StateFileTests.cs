using System.Collections.Immutable;
using BgpLb.Allocation;
using CsCheck;

namespace BgpLb.Controller.Tests;

public sealed class StateFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bgplb-ctl-state-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string StatePath => Path.Combine(_dir, "state.json");

    private static StateData Sample() => new()
    {
        Allocations = ImmutableSortedDictionary.Create<string, StoredAllocation>(StringComparer.Ordinal)
            .Add("default/web", new StoredAllocation("main", ["203.0.113.1", "2001:db8::1"])),
        External = ImmutableSortedDictionary.Create<string, ExternalRequest>(StringComparer.Ordinal)
            .Add("tool", new ExternalRequest { Policy = FamilyPolicy.PreferDualStack, Families = ["IPv6"], Pool = "main", Ports = [new ServicePort("UDP", 53)] }),
    };

    [Fact]
    public async Task A_saved_state_loads_back_identically_and_leaves_no_temp_file()
    {
        var file = new StateFile(StatePath);
        await file.SaveAsync(Sample(), CancellationToken.None);

        var loaded = file.Load(out var discarded);
        Assert.Null(discarded);
        Assert.False(File.Exists(file.TempPath));
        Assert.Equal(["203.0.113.1", "2001:db8::1"], loaded.Allocations["default/web"].Addresses.ToArray());
        Assert.True(Sample().External["tool"].SameAs(loaded.External["tool"]));
    }

    [Fact]
    public void A_missing_file_is_an_empty_state()
    {
        var loaded = new StateFile(StatePath).Load(out _);
        Assert.Empty(loaded.Allocations);
        Assert.Empty(loaded.External);
    }

    [Fact]
    public async Task A_temp_file_left_by_a_crash_is_discarded_and_the_old_state_survives()
    {
        var file = new StateFile(StatePath);
        await file.SaveAsync(Sample(), CancellationToken.None);
        await File.WriteAllTextAsync(file.TempPath, "{\"version\": 1, \"allocations\": {\"default/web\": {\"pool\": \"ma"); // cut short mid-write

        var loaded = file.Load(out var discarded);
        Assert.Contains(file.TempPath, discarded, StringComparison.Ordinal);
        Assert.False(File.Exists(file.TempPath));
        Assert.Equal(["203.0.113.1", "2001:db8::1"], loaded.Allocations["default/web"].Addresses.ToArray());
    }

    [Theory]
    [InlineData("{\"version\": 1, \"allocations\": {\"default/web\": {\"pool\": \"ma", "corrupt")]
    [InlineData("", "corrupt")]
    [InlineData("null", "holds null")]
    [InlineData("{\"version\": 3}", "unsupported version 3")]
    [InlineData("{\"version\": 1, \"allocations\": {\"default/web\": {\"pool\": \"main\", \"addresses\": [\"203.0.113.999\"]}}}", "malformed addresses")]
    [InlineData("{\"version\": 1, \"allocations\": {\"default/web\": {\"pool\": \"main\", \"addresses\": []}}}", "malformed addresses")]
    [InlineData("{\"version\": 1, \"external\": {\"a/b\": {}}}", "external request 'a/b'")]
    [InlineData("{\"version\": 1, \"surprise\": true}", "corrupt")]
    public async Task A_corrupt_state_file_is_reported_and_left_untouched(string content, string reason)
    {
        await File.WriteAllTextAsync(StatePath, content);
        var e = Assert.Throws<StateFileException>(() => new StateFile(StatePath).Load(out _));
        Assert.Contains(StatePath, e.Message, StringComparison.Ordinal);
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        Assert.Equal(content, await File.ReadAllTextAsync(StatePath));
    }

    private static StateData With(StateData data, string key, string? address) => data with
    {
        Allocations = address is null ? data.Allocations.Remove(key) : data.Allocations.SetItem(key, new StoredAllocation("main", [address])),
    };

    private static string[] Addresses(StateData data, string key) => data.Allocations.TryGetValue(key, out var a) ? [.. a.Addresses] : [];

    [Fact]
    public async Task Commits_after_the_first_are_journal_lines_and_load_back()
    {
        using var file = new StateFile(StatePath);
        var data = Sample();
        await file.CommitAsync(data, ["default/web"], ["tool"], CancellationToken.None); // the first commit: a snapshot
        var snapshot = await File.ReadAllBytesAsync(StatePath);

        data = With(data, "default/api", "203.0.113.2");
        await file.CommitAsync(data, ["default/api"], [], CancellationToken.None);
        data = With(With(data, "default/web", null), "default/db", "203.0.113.3") with { External = data.External.Remove("tool") };
        await file.CommitAsync(data, ["default/web", "default/db"], ["tool"], CancellationToken.None);

        Assert.Equal(snapshot, await File.ReadAllBytesAsync(StatePath)); // untouched: the changes went to the journal
        Assert.Equal(5, File.ReadAllLines(file.JournalPath).Length); // header, 1 + 2 changed allocations, 1 external request
        var loaded = new StateFile(StatePath).Load(out var discarded);
        Assert.Null(discarded);
        Assert.Equal(["default/api", "default/db"], loaded.Allocations.Keys);
        Assert.Equal(["203.0.113.3"], Addresses(loaded, "default/db"));
        Assert.Empty(loaded.External);
    }

    [Fact]
    public async Task A_torn_last_journal_line_is_ignored()
    {
        using (var file = new StateFile(StatePath))
        {
            await file.CommitAsync(Sample(), ["default/web"], [], CancellationToken.None);
            await file.CommitAsync(With(Sample(), "default/api", "203.0.113.2"), ["default/api"], [], CancellationToken.None);
        }
        await File.AppendAllTextAsync(new StateFile(StatePath).JournalPath, "{\"key\":\"default/db\",\"allocation\":{\"po"); // a crash mid-append

        var restarted = new StateFile(StatePath);
        var loaded = restarted.Load(out var discarded);
        Assert.Contains("torn last line", discarded, StringComparison.Ordinal);
        Assert.Equal(["default/api", "default/web"], loaded.Allocations.Keys);

        // The restarted controller's first commit is a snapshot: the torn line is gone for good.
        await restarted.CommitAsync(With(loaded, "default/db", "203.0.113.3"), ["default/db"], [], CancellationToken.None);
        restarted.Dispose();
        Assert.Equal(["default/api", "default/db", "default/web"], new StateFile(StatePath).Load(out discarded).Allocations.Keys);
        Assert.Null(discarded);
    }

    [Theory]
    [InlineData("{\"generation\":1}\n{\"key\":\"default/db\",\"allocation\":{\"pool\":\"main\",\"addresses\":[\"203.0.113.999\"]}}\n", "allocation 'default/db'")]
    [InlineData("{\"generation\":1}\nnot json\n{\"key\":\"default/db\"}\n", "line 2")]
    [InlineData("{\"generation\":1}\n{\"surprise\":1}\n", "line 2")]
    [InlineData("{\"generation\":1}\n{}\n", "line 2 (neither")]
    [InlineData("{\"key\":\"default/db\"}\n", "line 1 (no generation header)")]
    public async Task A_corrupt_journal_is_reported_by_file_and_line_and_left_untouched(string journal, string reason)
    {
        using (var file = new StateFile(StatePath))
            await file.SaveAsync(Sample(), CancellationToken.None); // generation 1
        var path = new StateFile(StatePath).JournalPath;
        await File.WriteAllTextAsync(path, journal);

        var e = Assert.Throws<StateFileException>(() => new StateFile(StatePath).Load(out _));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        Assert.Equal(journal, await File.ReadAllTextAsync(path));
    }

    [Fact]
    public async Task A_journal_of_an_older_generation_was_folded_in_already()
    {
        using (var file = new StateFile(StatePath))
        {
            await file.CommitAsync(Sample(), ["default/web"], [], CancellationToken.None);
            await file.CommitAsync(With(Sample(), "default/web", null), ["default/web"], [], CancellationToken.None);
        }
        var journal = await File.ReadAllTextAsync(new StateFile(StatePath).JournalPath);
        // A compaction that crashed after its snapshot was renamed into place, before the new journal was.
        using (var file = new StateFile(StatePath))
        {
            file.Load(out _);
            await file.SaveAsync(With(Sample(), "default/api", "203.0.113.2") with { Allocations = With(Sample(), "default/api", "203.0.113.2").Allocations.Remove("default/web") }, CancellationToken.None);
        }
        await File.WriteAllTextAsync(new StateFile(StatePath).JournalPath, journal);

        var loaded = new StateFile(StatePath).Load(out _);
        Assert.Equal(["default/api"], loaded.Allocations.Keys);
    }

    [Fact]
    public async Task A_long_journal_is_folded_into_a_new_snapshot()
    {
        using var file = new StateFile(StatePath) { MinCompaction = 4 };
        var data = Sample();
        await file.CommitAsync(data, ["default/web"], [], CancellationToken.None);
        for (var i = 0; i < 10; i++)
        {
            data = With(data, "default/api", $"203.0.113.{i + 2}");
            await file.CommitAsync(data, ["default/api"], [], CancellationToken.None);
            Assert.True(File.ReadAllLines(file.JournalPath).Length <= 5, "header + at most MinCompaction lines");
        }
        Assert.Equal(["203.0.113.11"], Addresses(new StateFile(StatePath).Load(out _), "default/api"));
    }

    [Fact]
    public void Random_commit_sequences_load_back_as_the_last_state_committed()
    {
        string[] keys = ["a/1", "a/2", "b/1", "b/2", "c/1"];
        var genStep = Gen.Select(Gen.Int[0, keys.Length - 1], Gen.Int[0, 3]).Array[1, 4];
        Gen.Select(genStep.Array[1, 30], Gen.Int[1, 6], Gen.Bool).Sample((steps, compaction, restartHalfway) =>
        {
            var path = Path.Combine(_dir, $"state-{Guid.NewGuid():N}.json");
            var file = new StateFile(path) { MinCompaction = compaction };
            var data = StateData.Empty;
            try
            {
                for (var s = 0; s < steps.Length; s++)
                {
                    if (restartHalfway && s == steps.Length / 2)
                    {
                        file.Dispose();
                        file = new StateFile(path) { MinCompaction = compaction };
                        Assert.Equal(Describe(data), Describe(file.Load(out _)));
                    }
                    var changed = new SortedSet<string>(StringComparer.Ordinal);
                    foreach (var (k, v) in steps[s])
                    {
                        data = With(data, keys[k], v == 0 ? null : $"198.51.100.{v}");
                        changed.Add(keys[k]);
                    }
                    file.CommitAsync(data, changed, [], CancellationToken.None).GetAwaiter().GetResult();
                }
                file.Dispose();
                Assert.Equal(Describe(data), Describe(new StateFile(path).Load(out _)));
            }
            finally
            {
                file.Dispose();
            }
        }, iter: 200);
    }

    private static string[] Describe(StateData data) =>
        [.. data.Allocations.Select(p => $"{p.Key}={p.Value.Pool}:{string.Join(',', p.Value.Addresses)}")];
}
