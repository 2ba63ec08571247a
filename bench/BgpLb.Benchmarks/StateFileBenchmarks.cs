extern alias controller;

using System.Collections.Immutable;
using BenchmarkDotNet.Attributes;
using controller::BgpLb.Controller;

namespace BgpLb.Benchmarks;

/// <summary>
/// What the controller's state costs per change with N allocations: the whole snapshot (every commit before the
/// journal) against one changed entry appended to the journal. Both fsync, on the file system of the temp directory.
/// </summary>
[MemoryDiagnoser]
public class StateFileBenchmarks
{
    private string _directory = "";
    private StateFile _file = new("unused");
    private StateData _data = StateData.Empty;
    private int _change;

    [Params(10_000, 100_000)]
    public int Allocations { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = Directory.CreateTempSubdirectory("bgplb-bench-state-").FullName;
        var allocations = ImmutableSortedDictionary.CreateBuilder<string, StoredAllocation>(StringComparer.Ordinal);
        for (var i = 0; i < Allocations; i++)
            allocations[$"ns{i % 40}/svc-{i:D6}"] = new StoredAllocation("main", [$"198.18.{i / 256 % 256}.{i % 256}"]);
        _data = new StateData { Allocations = allocations.ToImmutable() };
        // A journal far larger than the runs make, so that every journal commit is an append.
        _file = new StateFile(Path.Combine(_directory, "state.json")) { MinCompaction = int.MaxValue };
        _file.SaveAsync(_data, CancellationToken.None).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _file.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(Baseline = true, Description = "Snapshot of every allocation")]
    public Task Snapshot() => _file.SaveAsync(_data, CancellationToken.None);

    [Benchmark(Description = "Journal: one changed allocation")]
    public Task Journal()
    {
        var key = $"ns0/changed-{_change++ % 1000}";
        _data = _data with { Allocations = _data.Allocations.SetItem(key, new StoredAllocation("main", ["203.0.113.1"])) };
        return _file.CommitAsync(_data, [key], [], CancellationToken.None);
    }
}
