namespace BgpLb.Fuzz.Tests;

/// <summary>
/// Replays the committed inputs of every fuzz target (fuzz/corpus/TARGET: seeds; fuzz/regressions/TARGET: crashes found,
/// kept once fixed) through <see cref="FuzzTarget.Execute"/>, which fails on any exception the target does not expect
/// and on allocations beyond its budget. Every input's work is bounded by its length (cut at the target's maximum).
/// </summary>
public class CorpusReplayTests
{
    private static readonly string Root = AppContext.BaseDirectory;

    public static TheoryData<string> Targets() => [.. FuzzTargets.All.Select(t => t.Name)];

    /// <summary>(target, "corpus/…" or "regressions/…" relative to the test's output folder).</summary>
    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (var target in FuzzTargets.All)
        {
            foreach (var kind in (string[])["corpus", "regressions"])
            {
                var directory = Path.Combine(Root, kind, target.Name);
                if (!Directory.Exists(directory))
                    continue;
                foreach (var file in Directory.EnumerateFiles(directory).Order(StringComparer.Ordinal))
                    data.Add(target.Name, Path.GetRelativePath(Root, file));
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Committed_input_keeps_the_target_property(string target, string file) =>
        FuzzTargets.Find(target)!.Execute(File.ReadAllBytes(Path.Combine(Root, file)));

    [Theory]
    [MemberData(nameof(Targets))]
    public void Every_target_has_a_committed_seed_corpus(string target) =>
        Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(Root, "corpus", target)));

    [Fact]
    public void Every_committed_folder_belongs_to_a_target()
    {
        var names = FuzzTargets.All.Select(t => t.Name).Order(StringComparer.Ordinal);
        Assert.Equal(names, Directory.EnumerateDirectories(Path.Combine(Root, "corpus")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var regressions = Path.Combine(Root, "regressions");
        if (Directory.Exists(regressions))
            Assert.Empty(Directory.EnumerateDirectories(regressions).Select(Path.GetFileName).Except(names));
    }
}
