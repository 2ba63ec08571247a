using System.Collections.Immutable;
using System.Net;
using BenchmarkDotNet.Attributes;
using BgpLb.Allocation;
using BgpLb.Model;

namespace BgpLb.Benchmarks;

/// <summary>
/// The controller's allocation over 10,000 and 100,000 LoadBalancer Services: the whole recompute (what every change
/// cost before <see cref="AllocationTable"/>) against one change to the table (target: 10 µs at 100,000).
/// </summary>
[MemoryDiagnoser]
public class AllocatorBenchmarks
{
    private static readonly IReadOnlyDictionary<string, ImmutableArray<IPAddress>> Nothing = ImmutableDictionary<string, ImmutableArray<IPAddress>>.Empty;

    private ImmutableArray<AddressPool> _pools = [];
    private List<AllocationRequest> _requests = [];
    private IReadOnlyDictionary<string, ImmutableArray<IPAddress>> _previous = Nothing;
    private AllocationTable _table = new([]);
    private AllocationBatch _add = new();
    private AllocationBatch _remove = new();

    [Params(10_000, 100_000)]
    public int Services { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var team = new AddressPool
        {
            Name = "team",
            Cidrs = Cidrs("203.0.113.0/24"),
            ServiceAllocation = new ServiceAllocation { Priority = 1, Namespaces = ["ns0"] },
        };
        _pools = [new AddressPool { Name = "main", Cidrs = [.. Cidrs("198.18.0.0/15"), .. Cidrs("2001:db8::/112")] }, team];
        _requests = [.. Enumerable.Range(0, Services).Select(Request)];
        _previous = Allocator.Allocate(_pools, _requests, Nothing).Addresses;
        _table = new AllocationTable(_pools);
        _table.Apply(new AllocationBatch { Upserted = _requests });
        var added = Request(Services);
        _add = new AllocationBatch { Upserted = [added] };
        _remove = new AllocationBatch { Removed = [added.Key] };
    }

    private static ImmutableArray<IPNetwork> Cidrs(string text) =>
        AddressRanges.TryParse(text, out var networks, out var error) ? [.. networks] : throw new ArgumentException(error);

    private static AllocationRequest Request(int i) => AllocationRequest.ForService(new ServiceInfo
    {
        Key = $"ns{i % 40}/svc-{i:D6}",
        Namespace = $"ns{i % 40}",
        // Every tenth Service shares its address with a neighbour on another port.
        SharingKey = i % 10 < 2 ? $"pair-{i / 10}" : null,
        Policy = i % 7 == 0 ? FamilyPolicy.PreferDualStack : FamilyPolicy.SingleStack,
        Families = i % 7 == 0 ? ServiceFamilies.IPv4IPv6 : ServiceFamilies.IPv4,
        Ports = [new ServicePort("TCP", 80 + i % 10)],
    }, namespaceLabels: null);

    [Benchmark(Description = "Allocate from scratch")]
    public int AllocateFromScratch() => Allocator.Allocate(_pools, _requests, Nothing).Entries.Count;

    [Benchmark(Description = "Re-allocate with previous allocations")]
    public int ReallocateWithPrevious() => Allocator.Allocate(_pools, _requests, _previous).Entries.Count;

    [Benchmark(Description = "Table: one Service added or removed", OperationsPerInvoke = 2)]
    public int AddAndRemoveOne() => _table.Apply(_add).Changed.Count + _table.Apply(_remove).Removed.Count;
}
