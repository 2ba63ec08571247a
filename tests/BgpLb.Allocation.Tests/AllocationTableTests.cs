using System.Collections.Immutable;
using System.Net;
using k8s.Models;
using static BgpLb.Allocation.Tests.Build;

namespace BgpLb.Allocation.Tests;

public class AllocationTableTests
{
    [Fact]
    public void A_failed_request_is_served_when_an_address_frees()
    {
        var steps = new Steps([Pool("a", "203.0.113.0/32")]);
        steps.Apply(Upsert(Service("s1"), Service("s2")));
        Assert.Equal(AllocationFailure.PoolExhausted, steps.Table["default/s2"]!.Failure);

        var changes = steps.Apply(new AllocationBatch { Removed = ["default/s1"] });

        Assert.Equal(["203.0.113.0"], steps.AddressesOf("default/s2"));
        Assert.Equal(["default/s2"], changes.Changed.Select(e => e.Key));
        Assert.Equal(["default/s1"], changes.Removed);
    }

    [Fact]
    public void A_PreferDualStack_holder_gains_its_missing_family_when_one_frees()
    {
        var steps = new Steps([Pool("a", "203.0.113.0/30", "2001:db8::/128")]);
        steps.Apply(Upsert(Service("a6", families: ["IPv6"]), Service("dual", policy: "PreferDualStack")));
        Assert.Equal(["203.0.113.0"], steps.AddressesOf("default/dual"));

        var changes = steps.Apply(new AllocationBatch { Removed = ["default/a6"] });

        Assert.Equal(["203.0.113.0", "2001:db8::"], steps.AddressesOf("default/dual"));
        Assert.Equal(["default/dual"], changes.Changed.Select(e => e.Key));
    }

    [Fact]
    public void An_existing_holder_keeps_its_address_against_a_newcomers_stale_status()
    {
        var steps = new Steps([Pool("a", "203.0.113.0/30")]);
        steps.Apply(Upsert(Service("z")));

        var changes = steps.Apply(Upsert(Service("a").WithIngress("203.0.113.0")));

        Assert.Equal(["203.0.113.0"], steps.AddressesOf("default/z"));
        Assert.Equal(["203.0.113.1"], steps.AddressesOf("default/a"));
        Assert.Equal(["default/a"], changes.Changed.Select(e => e.Key));
    }

    [Fact]
    public void A_failed_request_takes_the_address_its_status_shows_once_the_holder_leaves()
    {
        // A pool without autoAssign: only the status (or a request) can place a Service in it.
        var steps = new Steps([Pool("m", "203.0.113.0/30") with { AutoAssign = false }]);
        steps.Apply(Upsert(Service("h", annotations: Requesting("203.0.113.0"))));
        steps.Apply(Upsert(Service("n").WithIngress("203.0.113.0")));
        Assert.Equal(AllocationFailure.NoPoolAvailable, steps.Table["default/n"]!.Failure);

        steps.Apply(new AllocationBatch { Removed = ["default/h"] });

        Assert.Equal(["203.0.113.0"], steps.AddressesOf("default/n"));
    }

    [Fact]
    public void A_holder_that_loses_its_addresses_tries_those_of_its_status_one_step_later()
    {
        // As in the whole recompute: a holder that fails to keep what it held is served as a new request, and only
        // in the next step, as a request without addresses, falls back on its status.
        var steps = new Steps([Pool("a", "203.0.113.0/30"), Pool("m", "2001:db8::/126") with { AutoAssign = false }]);
        steps.Apply(Upsert(Service("s")));

        steps.Apply(Upsert(Service("s", families: ["IPv6"]).WithIngress("2001:db8::2")));
        Assert.Equal(AllocationFailure.FamilyMismatch, steps.Table["default/s"]!.Failure);

        var changes = steps.Apply(new AllocationBatch());
        Assert.Equal(["2001:db8::2"], steps.AddressesOf("default/s"));
        Assert.Equal(["default/s"], changes.Changed.Select(e => e.Key));
    }

    [Fact]
    public void A_sharing_group_splits_when_one_member_changes_its_sharing_key()
    {
        var steps = new Steps([Pool("a", "203.0.113.0/30")]);
        steps.Apply(Upsert(Service("a", annotations: Sharing("k"), ports: 80), Service("b", annotations: Sharing("k"), ports: 81)));
        Assert.Equal(steps.AddressesOf("default/a"), steps.AddressesOf("default/b"));

        // "a" sorts first: it keeps the address with its new key, and "b", unchanged, can no longer share it.
        var changes = steps.Apply(Upsert(Service("a", annotations: Sharing("other"), ports: 80)));

        Assert.Equal(["203.0.113.0"], steps.AddressesOf("default/a"));
        Assert.Equal(["203.0.113.1"], steps.AddressesOf("default/b"));
        Assert.Equal(["default/b"], changes.Changed.Select(e => e.Key));
    }

    [Fact]
    public void Removing_a_pool_moves_its_holders_to_another_pool_or_says_why_not()
    {
        var steps = new Steps([Pool("a", "203.0.113.0/32"), Pool("b", "198.51.100.0/31")]);
        steps.Apply(Upsert(Service("s1"), Service("s2"), Service("s3")));
        Assert.Equal("a", steps.Table["default/s1"]!.Pool);

        var changes = steps.Apply(new AllocationBatch { Pools = [Pool("b", "198.51.100.0/31")] });

        Assert.Equal(["198.51.100.0"], steps.AddressesOf("default/s2"));
        Assert.Equal(["198.51.100.1"], steps.AddressesOf("default/s3"));
        Assert.Equal(AllocationFailure.PoolExhausted, steps.Table["default/s1"]!.Failure);
        Assert.Equal(["default/s1"], changes.Changed.Select(e => e.Key));
        Assert.Equal(["b"], steps.Table.Pools.Select(p => p.Pool));
    }

    [Fact]
    public void A_failed_external_allocation_leaves_the_table_exactly_as_it_was()
    {
        var steps = new Steps([Pool("a", "203.0.113.0/30")]);
        steps.Apply(Upsert(Service("s", annotations: Sharing("k"), ports: 80), Service("t", ports: 80)));
        steps.Apply(Upsert(Service("waiting", annotations: Requesting("203.0.113.0"))));
        steps.Apply(Upsert(AllocationRequest.External("tool", sharingKey: "k", ports: [new ServicePort("TCP", 81)])));
        Assert.Equal(steps.AddressesOf("default/s"), steps.AddressesOf("tool"));
        var before = steps.Table.Entries.OrderBy(e => e.Key, StringComparer.Ordinal).ToList();

        // Asking for the address "t" holds releases the shared one on the way; the failure takes that back too.
        var request = AllocationRequest.External("tool", requestedAddresses: [IPAddress.Parse(steps.AddressesOf("default/t")[0])]);
        AllocationEntry entry;
        using (var trial = steps.Table.ApplyTentatively(Upsert(request)))
        {
            entry = steps.Table["tool"]!;
            Assert.NotEmpty(trial.Changes.Changed);
        }

        Assert.Equal(AllocationFailure.AddressInUse, entry.Failure);
        Assert.Contains("in use by default/t", entry.Reason, StringComparison.Ordinal);
        Assert.Equal(before, steps.Table.Entries.OrderBy(e => e.Key, StringComparer.Ordinal));
        Assert.Equal(steps.Expected.Pools.AsEnumerable(), steps.Table.Pools.AsEnumerable());
        // What the table waits on was taken back as well: the next change still gives the whole recompute's answer.
        steps.Apply(new AllocationBatch { Removed = ["default/s", "tool"] });
        Assert.Equal(["203.0.113.0"], steps.AddressesOf("default/waiting"));
    }

    [Fact]
    public void A_committed_trial_keeps_its_changes_and_the_table_refuses_changes_while_a_trial_is_open()
    {
        var table = new AllocationTable([Pool("a", "203.0.113.0/30")]);
        using var trial = table.ApplyTentatively(Upsert(AllocationRequest.External("tool")));
        Assert.Throws<InvalidOperationException>(() => table.Apply(new AllocationBatch()));
        trial.Commit();
        Assert.Throws<InvalidOperationException>(trial.Commit);
        Assert.True(table["tool"]!.IsAllocated);
        table.Apply(new AllocationBatch { Removed = ["tool"] });
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public void An_address_in_use_reason_names_the_first_holder_placed_then_the_first_by_key()
    {
        var steps = new Steps([Pool("a", "203.0.113.0/30")]);
        steps.Apply(Upsert(Service("z", annotations: Sharing("k"), ports: 80)));

        // "a" joins "z" from its status (placed after "z"); "r" then asks for their address without sharing.
        steps.Apply(Upsert(Service("a", annotations: Sharing("k"), ports: 81).WithIngress("203.0.113.0"), Service("r", annotations: Requesting("203.0.113.0"))));
        Assert.Contains("in use by default/z", steps.Table["default/r"]!.Reason, StringComparison.Ordinal);

        // One step later both hold it from the previous step, in key order: nothing about "r" changed but its reason.
        var changes = steps.Apply(new AllocationBatch());
        Assert.Contains("in use by default/a", steps.Table["default/r"]!.Reason, StringComparison.Ordinal);
        Assert.Equal(["default/r"], changes.Changed.Select(e => e.Key));
    }

    [Fact]
    public void A_placement_on_one_requested_address_changes_the_reason_of_a_request_served_later_in_the_same_step()
    {
        var steps = new Steps([Pool("a", "203.0.113.0/30", "2001:db8::/126")]);
        steps.Apply(Upsert(Service("x", families: ["IPv6"], annotations: Requesting("2001:db8::1"))));
        steps.Apply(Upsert(Service("f", policy: "RequireDualStack", annotations: Requesting("203.0.113.1,2001:db8::1"))));
        Assert.Contains("2001:db8::1 is in use by default/x", steps.Table["default/f"]!.Reason, StringComparison.Ordinal);

        steps.Apply(Upsert(Service("e", annotations: Requesting("203.0.113.1"))));

        Assert.Contains("203.0.113.1 is in use by default/e", steps.Table["default/f"]!.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_released_address_below_the_cursor_is_handed_out_first_even_in_an_ipv6_64()
    {
        var steps = new Steps([Pool("v6", "2001:db8::/64")]);
        steps.Apply(Upsert(Service("s1", families: ["IPv6"]), Service("s2", families: ["IPv6"]), Service("s3", families: ["IPv6"])));
        steps.Apply(new AllocationBatch { Removed = ["default/s2"] });

        steps.Apply(Upsert(Service("s4", families: ["IPv6"]), Service("s5", families: ["IPv6"])));

        Assert.Equal(["2001:db8::1"], steps.AddressesOf("default/s4"));
        Assert.Equal(["2001:db8::3"], steps.AddressesOf("default/s5"));
    }

    [Fact]
    public void The_first_batch_keeps_the_addresses_of_the_previous_allocations()
    {
        var previous = ImmutableDictionary<string, ImmutableArray<IPAddress>>.Empty.Add("default/z", [IPAddress.Parse("203.0.113.2")]);
        var steps = new Steps([Pool("a", "203.0.113.0/30")], previous);

        steps.Apply(Upsert(Service("a").WithIngress("203.0.113.2"), Service("z")));

        Assert.Equal(["203.0.113.2"], steps.AddressesOf("default/z"));
        Assert.Equal(["203.0.113.0"], steps.AddressesOf("default/a"));
        Assert.Equal(2, steps.Table.Addresses.Count);
    }

    private static AllocationBatch Upsert(params V1Service[] services) => new() { Upserted = [.. services.Select(Request)] };

    private static AllocationBatch Upsert(AllocationRequest request) => new() { Upserted = [request] };

    /// <summary>A table and the step-by-step recompute it must equal, compared after every batch.</summary>
    private sealed class Steps(ImmutableArray<AddressPool> pools, IReadOnlyDictionary<string, ImmutableArray<IPAddress>>? previous = null)
    {
        private ImmutableArray<AddressPool> _pools = pools;
        private IReadOnlyDictionary<string, ImmutableArray<IPAddress>> _previous = previous ?? ImmutableDictionary<string, ImmutableArray<IPAddress>>.Empty;
        private ImmutableDictionary<string, AllocationRequest> _requests = ImmutableDictionary.Create<string, AllocationRequest>(StringComparer.Ordinal);

        public AllocationTable Table { get; } = new(pools, previous);

        public AllocationResult Expected { get; private set; } = AllocationResult.Empty;

        public AllocationChanges Apply(AllocationBatch batch)
        {
            var changes = Table.Apply(batch);
            _pools = batch.Pools ?? _pools;
            _requests = _requests.RemoveRange(batch.Removed).SetItems(batch.Upserted.Select(r => KeyValuePair.Create(r.Key, r)));
            Expected = Allocator.Allocate(_pools, [.. _requests.Values], _previous);
            _previous = Expected.Addresses;
            Assert.Equal(Expected.Entries.Values, Table.Entries.OrderBy(e => e.Key, StringComparer.Ordinal));
            Assert.Equal(Expected.Pools.AsEnumerable(), Table.Pools.AsEnumerable());
            return changes;
        }

        public string[] AddressesOf(string key) => [.. Table.Addresses[key].Select(a => a.ToString())];
    }
}
