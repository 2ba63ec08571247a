using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using BgpLb.Kubernetes.Testing;
using CsCheck;
using k8s.Models;
using static BgpLb.Allocation.Tests.Build;

namespace BgpLb.Allocation.Tests;

/// <summary>
/// The table against its definition: after every batch it equals <see cref="Allocator.Allocate"/> run on the batch's
/// pools and requests with the previous step's addresses as previous allocations.
/// </summary>
public class AllocationTablePropertyTests
{
    private const int Iterations = 20_000;
    private const int Variants = 256;

    // 17 keys, 8 IPv4 /30 blocks and 3 IPv6 /126 blocks: small enough that sharing, exhaustion, requested-address
    // conflicts and retries happen in most cases.
    private static readonly string[] Keys = [.. Enumerable.Range(0, 14).Select(i => $"ns{i % 3}/s{i}"), "ext0", "ext1", "ext2"];
    private static readonly string[] V4 = [.. Enumerable.Range(0, 32).Select(i => $"203.0.113.{i}")];
    private static readonly string[] V6 = [.. Enumerable.Range(0, 12).Select(i => $"2001:db8::{i / 4:x}{i % 4:x2}")];
    private static readonly string[] Everywhere = [.. V4, .. V6];
    private static readonly string[] Blocks = [.. Enumerable.Range(0, 8).Select(b => $"203.0.113.{b * 4}/30")];

    private static readonly Gen<PoolSpec> GenPoolSpec =
        Gen.Select(Gen.Int[0, 7], Gen.Int[0, 7], Gen.Int[0, 5], Gen.Int[0, 9], Gen.Int[0, 4], Gen.Select(Gen.Int[0, 7], Gen.Int[0, 2]))
        .Select((first, second, shape, autoAssign, avoidBuggy, allocation) =>
            new PoolSpec(first, second, shape, autoAssign > 0, avoidBuggy == 0, allocation.Item1, allocation.Item2));

    private static readonly Gen<PoolSpec[]> GenPools = GenPoolSpec.Array[2, 3];

    // A request is one of a few hundred variants per key, so that each is projected from its V1Service only once.
    private static readonly Gen<BatchSpec> GenBatch =
        Gen.Select(Gen.Select(Gen.Int[0, Keys.Length - 1], Gen.Int[0, Variants - 1]).Array[0, 8], Gen.Int[0, Keys.Length - 1].Array[0, 2],
            Gen.Int[0, 11], Gen.Select(Gen.Int[0, 7], Gen.Int[0, 2], GenPools), Gen.Int[0, 9])
        .Select((upserts, removals, poolRoll, pools, mode) => new BatchSpec(upserts, removals,
            poolRoll < 2 ? new PoolEdit(pools.Item1, pools.Item2, pools.Item3) : null,
            mode switch { 8 => Mode.Commit, 9 => Mode.RollBack, _ => Mode.Apply }));

    private static readonly Gen<(int Key, int[] Addresses)[]> GenPrevious =
        Gen.Select(Gen.Int[0, Keys.Length - 1], Gen.Int[0, Everywhere.Length - 1].Array[1, 2]).Array[0, 6];

    private static readonly ConcurrentDictionary<(int Key, int Variant), AllocationRequest> Requests = new();

    private static readonly Coverage Seen = new();

    [Fact]
    public void After_every_batch_the_table_equals_the_step_by_step_recompute()
    {
        Gen.Select(GenPools, GenPrevious, GenBatch.Array[1, 14]).Sample((poolSpecs, previousSpec, batches) =>
        {
            var pools = ToPools(poolSpecs);
            var model = new Model(pools, previousSpec
                .GroupBy(p => Keys[p.Key]).ToImmutableDictionary(g => g.Key, g => g.First().Addresses.Select(a => IPAddress.Parse(Everywhere[a])).ToImmutableArray()));
            var table = new AllocationTable(pools, model.Previous);
            for (var i = 0; i < batches.Length; i++)
            {
                try
                {
                    model = Check(table, model, batches[i]);
                }
                catch (Xunit.Sdk.XunitException e)
                {
                    throw new Xunit.Sdk.XunitException($"batch {i}: {e.Message}");
                }
            }
        }, iter: Iterations, print: Describe);

        Seen.AssertExercised();
    }

    /// <summary>The requests, pools and last result of the step-by-step recompute.</summary>
    private sealed record Model(ImmutableArray<AddressPool> Pools, IReadOnlyDictionary<string, ImmutableArray<IPAddress>> Previous)
    {
        public ImmutableDictionary<string, AllocationRequest> Requests { get; init; } = ImmutableDictionary.Create<string, AllocationRequest>(StringComparer.Ordinal);
        public AllocationResult? Last { get; init; }
    }

    private static Model Check(AllocationTable table, Model model, BatchSpec spec)
    {
        var batch = ToBatch(spec, model.Pools);
        var last = model.Last ?? AllocationResult.Empty with { Pools = table.Pools };
        var requests = model.Requests.RemoveRange(batch.Removed).SetItems(batch.Upserted.Select(r => KeyValuePair.Create(r.Key, r)));
        var pools = batch.Pools ?? model.Pools;
        var expected = Allocator.Allocate(pools, [.. requests.Values], model.Previous);
        if (spec.Mode == Mode.RollBack)
        {
            using (var trial = table.ApplyTentatively(batch))
            {
                AssertTable(expected, table);
                AssertChanges(last, expected, trial.Changes);
            }
            AssertTable(last, table);
            return model;
        }
        AllocationChanges changes;
        if (spec.Mode == Mode.Commit)
        {
            using var trial = table.ApplyTentatively(batch);
            trial.Commit();
            changes = trial.Changes;
        }
        else
        {
            changes = table.Apply(batch);
        }
        AssertTable(expected, table);
        AssertChanges(last, expected, changes);
        Seen.Record(last, expected, batch);
        var addresses = expected.Entries.Values.Where(e => e.IsAllocated).ToDictionary(e => e.Key, e => e.Addresses, StringComparer.Ordinal);
        return new Model(pools, addresses) { Requests = requests, Last = expected };
    }

    private static void AssertTable(AllocationResult expected, AllocationTable table)
    {
        if (table.Count != expected.Entries.Count || expected.Entries.Values.Any(e => !e.Equals(table[e.Key])))
            Assert.Equal(expected.Entries.Values.Select(Show), table.Entries.OrderBy(e => e.Key, StringComparer.Ordinal).Select(Show));
        Assert.Equal(expected.Pools.AsEnumerable(), table.Pools.AsEnumerable());
        var allocated = expected.Entries.Values.Where(e => e.IsAllocated).ToList();
        Assert.Equal(allocated.Count, table.Addresses.Count);
        Assert.All(allocated, e => Assert.True(table.Addresses.TryGetValue(e.Key, out var addresses) && addresses.SequenceEqual(e.Addresses)));
    }

    private static void AssertChanges(AllocationResult before, AllocationResult after, AllocationChanges changes)
    {
        var changed = after.Entries.Values.Where(e => !before.Entries.TryGetValue(e.Key, out var old) || !old.Equals(e)).ToList();
        if (changed.Count != changes.Changed.Count || changed.Any(e => !changes.Changed.Contains(e)))
            Assert.Equal(changed.Select(Show), changes.Changed.OrderBy(e => e.Key, StringComparer.Ordinal).Select(Show));
        Assert.Equal(before.Entries.Keys.Where(k => !after.Entries.ContainsKey(k)), changes.Removed.Order(StringComparer.Ordinal));
    }

    private static string Show(AllocationEntry e) => $"{e.Key} {e.Pool} [{string.Join(", ", e.Addresses)}] {e.Failure} {e.Reason}";

    private static AllocationBatch ToBatch(BatchSpec spec, ImmutableArray<AddressPool> pools) => new()
    {
        Upserted = [.. spec.Upserts.Select(u => Request(u.Key, u.Variant))],
        Removed = [.. spec.Removals.Select(r => Keys[r])],
        Pools = spec.Pools is { } edit ? Edit(pools, edit) : null,
    };

    private static ImmutableArray<AddressPool> Edit(ImmutableArray<AddressPool> pools, PoolEdit edit)
    {
        switch (edit.Kind)
        {
            case 0 or 1:
                return ToPools(edit.Fresh);
            case 2 when pools.Length > 0:
                return pools.RemoveAt(edit.Index % pools.Length);
            case 3 or 4 or 5 when pools.Length > 0:
                var at = edit.Index % pools.Length;
                var free = Blocks.Except(pools.RemoveAt(at).SelectMany(p => p.Cidrs.Select(c => c.ToString()))).ToList();
                return pools.SetItem(at, ToPool(edit.Fresh[0], int.Parse(pools[at].Name[1..], CultureInfo.InvariantCulture), free));
            default:
                return [.. pools.Reverse()];
        }
    }

    private static ImmutableArray<AddressPool> ToPools(PoolSpec[] specs)
    {
        var free = Blocks.ToList();
        return [.. specs.Select((spec, i) => ToPool(spec, i, free))];
    }

    /// <summary>Pool <paramref name="index"/> (named p0..p2, so that regenerated pools replace pools of the same name) from blocks still free.</summary>
    private static AddressPool ToPool(PoolSpec spec, int index, List<string> free)
    {
        var cidrs = new List<string>();
        foreach (var pick in spec.Shape % 3 == 2 ? [spec.First, spec.Second] : new[] { spec.First })
        {
            cidrs.Add(free[pick % free.Count]);
            free.Remove(cidrs[^1]);
        }
        if (spec.Shape >= 3)
            cidrs.Add($"2001:db8::{index:x}00/126");
        static LabelSelector Selector(string key, string value) =>
            LabelSelector.TryCreate(new LabelSelectorSpec { MatchLabels = new Dictionary<string, string> { [key] = value } }, out var s, out _) ? s : throw new InvalidOperationException();
        return Pool($"p{index}", [.. cidrs]) with
        {
            AutoAssign = spec.AutoAssign,
            AvoidBuggyIPs = spec.AvoidBuggyIPs,
            ServiceAllocation = spec.Allocation switch
            {
                < 4 => null,
                4 => new ServiceAllocation { Priority = spec.Priority, Namespaces = ["ns0"] },
                5 => new ServiceAllocation { Priority = spec.Priority, NamespaceSelectors = [Selector("team", "a")] },
                6 => new ServiceAllocation { Priority = spec.Priority, ServiceSelectors = [Selector("tier", "a")] },
                _ => new ServiceAllocation { Priority = spec.Priority },
            },
        };
    }

    private static AllocationRequest Request(int key, int variant) => Requests.GetOrAdd((key, variant), k => Create(Keys[k.Key], SpecOf(k.Key, k.Variant)));

    private static RequestSpec SpecOf(int key, int variant)
    {
        var random = new Random(key * Variants + variant);
        return new RequestSpec(random.Next(6), random.Next(8), random.Next(3), random.Next(15), random.Next(Everywhere.Length), random.Next(Everywhere.Length),
            random.Next(16), random.Next(5), random.Next(6), random.Next(6), random.Next(3), random.Next(3), random.Next(40) == 0);
    }

    private static readonly string[] Policies = ["SingleStack", "PreferDualStack", "RequireDualStack"];

    private static AllocationRequest Create(string key, RequestSpec spec)
    {
        var policy = spec.Policy switch { 0 or 1 => 0, 2 or 3 or 4 => 1, _ => 2 };
        var primaryIsV6 = spec.Families is 5 or 6;
        var requested = spec.Requested switch
        {
            < 9 => [],
            9 or 10 => new[] { primaryIsV6 ? V6[spec.First % V6.Length] : V4[spec.First % V4.Length] },
            11 or 12 => [V4[spec.First % V4.Length], V6[spec.Second % V6.Length]],
            13 => [Everywhere[spec.First]],
            _ => [Everywhere[spec.First], "203.0.113.300"],
        };
        string? pool = spec.Pool switch { 0 => "p0", 1 => "p1", 2 => "p3", _ => null };
        string? sharing = spec.Sharing switch { 1 => "k1", 2 => "k2", _ => null };
        ServicePort[] ports = spec.Ports switch
        {
            0 => [new("TCP", 80)],
            1 => [new("TCP", 81)],
            2 => [new("UDP", 80)],
            3 => [new("TCP", 80), new("TCP", 82)],
            _ => [new("TCP", 82)],
        };
        if (!key.Contains('/', StringComparison.Ordinal))
        {
            var primary = primaryIsV6 ? System.Net.Sockets.AddressFamily.InterNetworkV6 : System.Net.Sockets.AddressFamily.InterNetwork;
            return AllocationRequest.External(key, (FamilyPolicy)policy, [primary], pool,
                [.. requested.Where(a => IPAddress.TryParse(a, out _)).Select(IPAddress.Parse)], sharing, [.. ports]);
        }

        var annotations = new Dictionary<string, string>();
        if (requested.Length > 0)
            annotations[MetalLbNames.LoadBalancerIPsAnnotation] = string.Join(",", requested);
        if (pool is not null)
            annotations[MetalLbNames.AddressPoolAnnotation] = pool;
        if (sharing is not null)
            annotations[MetalLbNames.AllowSharedIPAnnotation] = sharing;
        var ns = key[..key.IndexOf('/', StringComparison.Ordinal)];
        var labels = spec.Labels switch { 0 => new Dictionary<string, string> { ["tier"] = "a" }, 1 => new Dictionary<string, string> { ["tier"] = "b" }, _ => null };
        IList<string>? families = spec.Families switch { < 5 => null, 5 => ["IPv6"], 6 => ["IPv6", "IPv4"], _ => ["IPv4", "IPv6"] };
        var service = Service(key[(ns.Length + 1)..], ns, annotations, labels, Policies[policy], families);
        service.Spec.Ports = [.. ports.Select(p => new V1ServicePort { Port = p.Port, Protocol = p.Protocol })];
        if (spec.Backend > 3)
        {
            service.Spec.ExternalTrafficPolicy = "Local";
            service.Spec.Selector = new Dictionary<string, string> { ["app"] = spec.Backend == 4 ? "x" : "y" };
        }
        if (spec.Problem)
            service.Spec.LoadBalancerIP = "203.0.113.1";
        var status = spec.Status switch
        {
            0 => [V4[spec.Second % V4.Length]],
            1 => [V6[spec.First % V6.Length]],
            2 => [V4[(spec.First + 1) % V4.Length], V6[spec.Second % V6.Length]],
            _ => Array.Empty<string>(),
        };
        if (status.Length > 0)
            service.WithIngress(status);
        var namespaceLabels = spec.NamespaceLabels switch { 0 => new Dictionary<string, string> { ["team"] = "a" }, 1 => new Dictionary<string, string> { ["team"] = "b" }, _ => null };
        return AllocationRequest.ForService(Projected.Service(service), namespaceLabels);
    }

    private static string Describe((PoolSpec[] Pools, (int Key, int[] Addresses)[] Previous, BatchSpec[] Batches) input)
    {
        var lines = new List<string>
        {
            "pools: " + string.Join("; ", ToPools(input.Pools).Select(Show)),
            "previous: " + string.Join("; ", input.Previous.Select(p => $"{Keys[p.Key]}={string.Join(",", p.Addresses.Select(a => Everywhere[a]))}")),
        };
        var pools = ToPools(input.Pools);
        foreach (var spec in input.Batches)
        {
            var batch = ToBatch(spec, pools);
            pools = batch.Pools ?? pools;
            lines.Add($"batch ({spec.Mode}):");
            if (batch.Pools is { } changed)
                lines.Add("  pools: " + string.Join("; ", changed.Select(Show)));
            lines.AddRange(batch.Upserted.Select(r => "  upsert " + Show(r)));
            lines.AddRange(batch.Removed.Select(k => "  remove " + k));
        }
        return string.Join(Environment.NewLine, lines);
    }

    private static string Show(AddressPool p) =>
        $"{p.Name} {string.Join(",", p.Cidrs)}{(p.AutoAssign ? "" : " manual")}{(p.AvoidBuggyIPs ? " avoidBuggy" : "")}"
        + (p.ServiceAllocation is { } a ? $" allocation(prio {a.Priority}, ns [{string.Join(",", a.Namespaces)}], nsSel [{string.Join(",", a.NamespaceSelectors)}], svcSel [{string.Join(",", a.ServiceSelectors)}])" : "");

    private static string Show(AllocationRequest r) =>
        $"{r.Key} {r.Policy} [{string.Join(",", r.Families)}] req [{string.Join(",", r.RequestedAddresses)}] pool {r.Pool} share {r.SharingKey} backend '{r.BackendKey}' "
        + $"ports [{string.Join(",", r.Ports)}] status [{string.Join(",", r.CurrentAddresses)}] labels [{string.Join(",", r.Labels ?? new Dictionary<string, string>())}] "
        + $"nsLabels [{string.Join(",", r.NamespaceLabels ?? new Dictionary<string, string>())}] problem {r.Problem}";

    public readonly record struct PoolSpec(int First, int Second, int Shape, bool AutoAssign, bool AvoidBuggyIPs, int Allocation, int Priority);

    private readonly record struct RequestSpec(int Policy, int Families, int Sharing, int Requested, int First, int Second, int Pool, int Ports,
        int Backend, int Status, int Labels, int NamespaceLabels, bool Problem);

    public enum Mode { Apply, Commit, RollBack }

    public sealed record PoolEdit(int Kind, int Index, PoolSpec[] Fresh);

    public sealed record BatchSpec((int Key, int Variant)[] Upserts, int[] Removals, PoolEdit? Pools, Mode Mode);

    /// <summary>Counts what the generated cases exercised, so that a generator that stopped reaching a rule fails.</summary>
    private sealed class Coverage
    {
        private long _shared, _exhausted, _inUse, _dualStack, _retried, _gainedFamily, _moved, _poolChanges;

        public void Record(AllocationResult before, AllocationResult after, AllocationBatch batch)
        {
            var upserted = batch.Upserted.Select(r => r.Key).ToHashSet();
            var holders = after.Entries.Values.SelectMany(e => e.Addresses).GroupBy(a => a).Count(g => g.Count() > 1);
            Interlocked.Add(ref _shared, holders);
            Interlocked.Add(ref _exhausted, after.Entries.Values.Count(e => e.Failure == AllocationFailure.PoolExhausted));
            Interlocked.Add(ref _inUse, after.Entries.Values.Count(e => e.Failure == AllocationFailure.AddressInUse));
            Interlocked.Add(ref _dualStack, after.Entries.Values.Count(e => e.Addresses.Length == 2));
            foreach (var entry in after.Entries.Values.Where(e => !upserted.Contains(e.Key) && before.Entries.ContainsKey(e.Key)))
            {
                var old = before.Entries[entry.Key];
                if (!old.IsAllocated && entry.IsAllocated)
                    Interlocked.Increment(ref _retried);
                if (old.IsAllocated && entry.Addresses.Length > old.Addresses.Length && old.Addresses.All(entry.Addresses.Contains))
                    Interlocked.Increment(ref _gainedFamily);
                if (old.IsAllocated && !old.Addresses.All(entry.Addresses.Contains))
                    Interlocked.Increment(ref _moved);
            }
            if (batch.Pools is not null)
                Interlocked.Increment(ref _poolChanges);
        }

        public void AssertExercised()
        {
            var seen = $"shared addresses {_shared}, exhausted {_exhausted}, in use {_inUse}, dual-stack {_dualStack}, served later without a change of their own {_retried}, "
                + $"gained their missing family {_gainedFamily}, lost an address without a change of their own {_moved}, pool changes {_poolChanges}";
            Assert.True(_shared > Iterations && _exhausted > Iterations / 2 && _inUse > Iterations / 4 && _dualStack > Iterations && _retried > Iterations / 4
                && _gainedFamily > Iterations / 20 && _moved > Iterations / 2 && _poolChanges > Iterations / 2, seen);
        }
    }
}
