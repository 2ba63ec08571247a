using System.Collections.Immutable;
using BgpLb.Allocation;

namespace BgpLb.Controller.Tests;

public class AllocationStateTests
{
    private static AllocationState WithHistory(ulong current, ulong oldestKept) =>
        new(current, AllocationResult.Empty,
            [.. Enumerable.Range((int)oldestKept, (int)(current - oldestKept + 1)).Select(r => new RevisionChange((ulong)r, [], []))]);

    [Fact]
    public void Changes_since_a_known_revision_are_exactly_the_later_ones()
    {
        Assert.True(WithHistory(10, 5).TryGetChangesSince(7, out var changes));
        Assert.Equal([8ul, 9ul, 10ul], changes.Select(c => c.Revision));
    }

    [Fact]
    public void The_oldest_resumable_revision_is_the_one_before_the_first_kept_change()
    {
        Assert.True(WithHistory(10, 5).TryGetChangesSince(4, out var changes));
        Assert.Equal(6, changes.Length);
        Assert.False(WithHistory(10, 5).TryGetChangesSince(3, out _));
    }

    [Fact]
    public void An_up_to_date_client_gets_no_changes_and_a_future_revision_is_unknown()
    {
        Assert.True(WithHistory(10, 5).TryGetChangesSince(10, out var none));
        Assert.Empty(none);
        Assert.False(WithHistory(10, 5).TryGetChangesSince(11, out _));
    }

    [Fact]
    public void Without_history_only_the_current_revision_is_resumable()
    {
        var state = new AllocationState(3, AllocationResult.Empty, ImmutableArray<RevisionChange>.Empty);
        Assert.True(state.TryGetChangesSince(3, out _));
        Assert.False(state.TryGetChangesSince(2, out _));
    }
}
