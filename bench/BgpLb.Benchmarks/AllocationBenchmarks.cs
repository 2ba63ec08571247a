using System.Collections.Immutable;
using System.Net;
using BenchmarkDotNet.Attributes;
using BgpLb.Allocation;
using BgpLb.Config;
using k8s.Models;

namespace BgpLb.Benchmarks;

/// <summary>The controller's full allocation pass over 10,000 LoadBalancer Services (target: under 1 s).</summary>
[MemoryDiagnoser]
public class AllocatorBenchmarks
{
    private BgpLbConfig _config = BgpLbConfig.Empty;
    private ImmutableDictionary<string, ImmutableArray<IPAddress>> _previous = ImmutableDictionary<string, ImmutableArray<IPAddress>>.Empty;

    [Params(10_000)]
    public int Services { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var restricted = new AddressPool
        {
            Name = "team",
            Cidrs = Cidrs("203.0.113.0/24"),
            ServiceAllocation = new ServiceAllocation { Priority = 1, Namespaces = ["ns0"] },
        };
        _config = new BgpLbConfig
        {
            Pools = [new AddressPool { Name = "main", Cidrs = [.. Cidrs("198.18.0.0/18"), .. Cidrs("2001:db8::/112")] }, restricted],
            Services = [.. Enumerable.Range(0, Services).Select(Service)],
        };
        _previous = Allocator.Allocate(_config, ImmutableDictionary<string, ImmutableArray<IPAddress>>.Empty).Addresses;
    }

    private static ImmutableArray<IPNetwork> Cidrs(string text) =>
        AddressRanges.TryParse(text, out var networks, out var error) ? [.. networks] : throw new ArgumentException(error);

    private static V1Service Service(int i) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = $"svc-{i:D5}",
            NamespaceProperty = $"ns{i % 40}",
            // Every tenth Service shares its address with a neighbour on another port.
            Annotations = i % 10 < 2 ? new Dictionary<string, string> { ["metallb.io/allow-shared-ip"] = $"pair-{i / 10}" } : null,
        },
        Spec = new V1ServiceSpec
        {
            Type = "LoadBalancer",
            IpFamilyPolicy = i % 7 == 0 ? "PreferDualStack" : null,
            Ports = [new V1ServicePort { Port = 80 + i % 10, Protocol = "TCP" }],
        },
    };

    [Benchmark(Description = "Allocate 10k Services from scratch")]
    public int AllocateFromScratch() =>
        Allocator.Allocate(_config, ImmutableDictionary<string, ImmutableArray<IPAddress>>.Empty).Entries.Count;

    [Benchmark(Description = "Re-allocate 10k Services with previous allocations")]
    public int ReallocateWithPrevious() => Allocator.Allocate(_config, _previous).Entries.Count;
}
