using System.Collections.Immutable;
using System.Net;
using CsCheck;
using k8s.Models;
using static BgpLb.Allocation.Tests.Build;

namespace BgpLb.Allocation.Tests;

public class AllocatorPropertyTests
{
    /// <summary>Up to three pools carved from distinct /29 blocks of 203.0.113.0/24 plus small IPv6 blocks, with random options.</summary>
    private static readonly Gen<AddressPool[]> GenPools =
        Gen.Select(Gen.Shuffle(Enumerable.Range(0, 32).ToArray()), Gen.Int[1, 3],
            Gen.Select(Gen.Int[1, 2], Gen.Bool, Gen.Int[0, 9], Gen.Bool, Gen.Int[0, 2], Gen.Int[0, 2]).Array[3])
        .Select((blocks, count, options) => Enumerable.Range(0, count).Select(i =>
        {
            var (cidrs, withV6, autoAssignRoll, avoidBuggy, restriction, priority) = options[i];
            var addresses = Enumerable.Range(0, cidrs).Select(c => $"203.0.113.{blocks[i * 2 + c] * 8}/29").ToList();
            if (withV6)
                addresses.Add($"2001:db8::{i:x}00/126");
            return Pool($"p{i}", [.. addresses]) with
            {
                AutoAssign = autoAssignRoll > 0,
                AvoidBuggyIPs = avoidBuggy,
                ServiceAllocation = restriction switch
                {
                    0 => null,
                    1 => new ServiceAllocation { Priority = priority, Namespaces = ["ns0"] },
                    _ => new ServiceAllocation { Priority = priority },
                },
            };
        }).ToArray());

    private static readonly string[] Policies = ["SingleStack", "PreferDualStack", "RequireDualStack"];

    private static readonly Gen<V1Service[]> GenServices =
        Gen.Select(Gen.Int[0, 2], Gen.Int[0, 3], Gen.Int[0, 4], Gen.Int[0, 2], Gen.Int[0, 40], Gen.Int[0, 3], Gen.Int[0, 5])
        .Array[0, 40]
        .Select(specs => specs.Select((spec, i) =>
        {
            var (ns, policy, family, sharing, requested, pool, port) = spec;
            var annotations = new Dictionary<string, string>();
            if (sharing > 0)
                annotations[MetalLbNames.AllowSharedIPAnnotation] = $"key{sharing}";
            if (requested < 5)
                annotations[MetalLbNames.LoadBalancerIPsAnnotation] = $"203.0.113.{requested * 8 + requested}";
            if (pool < 1)
                annotations[MetalLbNames.AddressPoolAnnotation] = $"p{pool}";
            return Service($"s{i:D2}", $"ns{ns}", annotations, policy: Policies[Math.Min(policy, 2)],
                families: family == 0 ? ["IPv6"] : null, ports: 80 + port);
        }).ToArray());

    private static readonly ImmutableDictionary<string, ImmutableArray<IPAddress>> Nothing = ImmutableDictionary<string, ImmutableArray<IPAddress>>.Empty;

    [Fact]
    public void No_two_services_hold_one_address_unless_they_may_share_it()
    {
        Gen.Select(GenPools, GenServices).Sample((pools, services) =>
        {
            var result = Allocate(ConfigOf(pools, services), Nothing);
            var requests = ConfigOf(pools, services).Requests.ToDictionary(r => r.Key);
            foreach (var group in result.Entries.Values.SelectMany(e => e.Addresses.Select(a => (Address: a, e.Key))).GroupBy(x => x.Address))
            {
                var holders = group.Select(x => requests[x.Key]).ToList();
                for (var i = 0; i < holders.Count; i++)
                {
                    for (var j = i + 1; j < holders.Count; j++)
                    {
                        Assert.NotNull(holders[i].SharingKey);
                        Assert.Equal(holders[i].SharingKey, holders[j].SharingKey);
                        Assert.Equal(holders[i].BackendKey, holders[j].BackendKey);
                        Assert.Empty(holders[i].Ports.Intersect(holders[j].Ports));
                    }
                }
            }
        });
    }

    [Fact]
    public void Every_address_lies_in_its_pool_that_admits_the_service_and_has_the_right_family()
    {
        Gen.Select(GenPools, GenServices).Sample((pools, services) =>
        {
            var result = Allocate(ConfigOf(pools, services), Nothing);
            var requests = ConfigOf(pools, services).Requests.ToDictionary(r => r.Key);
            foreach (var entry in result.Entries.Values.Where(e => e.IsAllocated))
            {
                var pool = pools.Single(p => p.Name == entry.Pool);
                var request = requests[entry.Key];
                Assert.True(pool.AutoAssign || request.Pool is not null || !request.RequestedAddresses.IsEmpty, $"{entry} from a pool without autoAssign");
                Assert.True(pool.ServiceAllocation?.Namespaces is not { IsEmpty: false } namespaces || namespaces.Contains(request.Namespace));
                Assert.Equal(entry.Addresses.Length, entry.Addresses.Select(a => a.AddressFamily).Distinct().Count());
                foreach (var address in entry.Addresses)
                {
                    Assert.Contains(pool.Cidrs, c => c.Contains(address));
                    Assert.Contains(address.AddressFamily, request.Families);
                    if (pool.AvoidBuggyIPs && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
                        Assert.DoesNotContain(address.GetAddressBytes()[3], new byte[] { 0, 255 });
                }
            }
        });
    }

    [Fact]
    public void Allocation_is_deterministic_whatever_the_input_order()
    {
        Gen.Select(GenPools, GenServices, Gen.Int).Sample((pools, services, seed) =>
        {
            var first = Allocate(ConfigOf(pools, services), Nothing);
            var shuffled = services.OrderBy(_ => Random.Shared.Next()).ToArray();
            var second = Allocate(ConfigOf(pools, shuffled), Nothing);
            Assert.Equal(first.Entries, second.Entries);
            Assert.Equal(first.Pools.AsEnumerable(), second.Pools.AsEnumerable());
        });
    }

    /// <summary>
    /// Every entry with its reason, except which holder an AddressInUse reason names: the first conflicting holder in
    /// placement order, and holders kept from a previous run come first in key order (AllocationSpace; the table tests
    /// show the same reason renaming its holder one step later with nothing changed).
    /// </summary>
    private static string[] Outcomes(AllocationResult result) =>
        [.. result.Entries.Values.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => e.Failure == AllocationFailure.AddressInUse
            ? System.Text.RegularExpressions.Regex.Replace(e.ToString(), @"(in use by|shared by|already used by) \S+", "$1 (a holder)")
            : e.ToString())];

    [Fact]
    public void Rerunning_with_the_previous_result_changes_nothing()
    {
        Gen.Select(GenPools, GenServices).Sample((pools, services) =>
        {
            var first = Allocate(ConfigOf(pools, services), Nothing);
            var second = Allocate(ConfigOf(pools, services), first.Addresses);
            Assert.Equal(Outcomes(first), Outcomes(second));
            // A restart that only has the Services' status (no state file) keeps every address too.
            var withStatus = services.Select(s => first.Entries.TryGetValue(Key(s), out var e) && e.IsAllocated
                ? Clone(s).WithIngress([.. e.Addresses.Select(a => a.ToString())]) : s).ToArray();
            var third = Allocate(ConfigOf(pools, withStatus), Nothing);
            Assert.Equal(Outcomes(first), Outcomes(third));
        });
    }

    [Fact]
    public void Shrinking_a_pool_moves_only_services_whose_address_left_it()
    {
        Gen.Select(GenPools, GenServices).Where((pools, _) => pools.Any(p => p.Cidrs.Length > 1)).Sample((pools, services) =>
        {
            var before = Allocate(ConfigOf(pools, services), Nothing);
            var shrunk = pools.Select(p => p.Cidrs.Length > 1 ? p with { Cidrs = p.Cidrs.AsImmutableArray().RemoveAt(0) } : p).ToArray();
            var after = Allocate(ConfigOf(shrunk, services), before.Addresses);
            foreach (var entry in before.Entries.Values.Where(e => e.IsAllocated))
            {
                var pool = shrunk.Single(p => p.Name == entry.Pool);
                if (entry.Addresses.All(a => pool.Cidrs.Any(c => c.Contains(a))))
                {
                    // Kept; a PreferDualStack Service may gain its missing family from an address that another Service left.
                    Assert.Equal(entry.Pool, after.Entries[entry.Key].Pool);
                    Assert.Empty(entry.Addresses.Except(after.Entries[entry.Key].Addresses));
                }
                else
                    Assert.DoesNotContain(after.Entries[entry.Key].Addresses, a => !shrunk.Any(p => p.Cidrs.Any(c => c.Contains(a))));
            }
        });
    }

    private static V1Service Clone(V1Service service) =>
        k8s.KubernetesJson.Deserialize<V1Service>(k8s.KubernetesJson.Serialize(service));
}
