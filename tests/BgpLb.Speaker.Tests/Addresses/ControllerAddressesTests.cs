using System.Net;
using BgpLb.Allocation.Client;
using BgpLb.Config;
using BgpLb.Planning;
using BgpLb.Speaker.Addresses;
using Microsoft.Extensions.Logging.Abstractions;
using static BgpLb.Speaker.Tests.Addresses.FakeAllocationServer;

namespace BgpLb.Speaker.Tests.Addresses;

/// <summary>
/// ControllerAddresses following an allocation service over real gRPC (<see cref="FakeAllocationServer"/>, which the
/// test scripts): snapshot, deltas, lost streams, a restarted controller.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "xunit disposes it through IAsyncLifetime.DisposeAsync.")]
public sealed class ControllerAddressesTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = FakeAllocationServer.Timeout;

    private readonly WakeSignal _wake = new();
    private readonly ClusterState _state = new(new ConfigOptions());
    private FakeAllocationServer _server = null!;
    private ControllerAddresses? _source;

    public async Task InitializeAsync() => _server = await StartAsync();

    public async Task DisposeAsync()
    {
        if (_source is not null)
        {
            await _source.StopAsync(CancellationToken.None).WaitAsync(Timeout);
            _source.Dispose();
        }
        await _server.DisposeAsync();
    }

    private async Task<ControllerAddresses> StartSourceAsync()
    {
        var watcher = new AllocationWatcher(new ControllerConnection(_server.Uri), NullLogger<AllocationWatcher>.Instance, TimeProvider.System,
            new AllocationWatcherOptions { InitialBackoff = TimeSpan.FromMilliseconds(20), MaxBackoff = TimeSpan.FromMilliseconds(200) });
        _source = new ControllerAddresses(watcher, _server.Uri, _wake, NullLogger<ControllerAddresses>.Instance);
        await _source.StartAsync(CancellationToken.None);
        return _source;
    }

    /// <summary>Waits for the source to have taken in the next message (it wakes the reconcile loop after each).</summary>
    private async Task NextMessageTakenAsync()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await _wake.WaitAsync(timeout.Token);
    }

    /// <summary>What the reconcile loop learns from the source on its next pass.</summary>
    private HashSet<string> TakeChanged(ControllerAddresses source)
    {
        var changed = new HashSet<string>(StringComparer.Ordinal);
        source.Update(_state, new ClusterDelta(), changed);
        return changed;
    }

    private static string? Text(ServiceAddresses? addresses) =>
        addresses is null ? null : $"{string.Join(",", addresses.Addresses)} from {addresses.Pool}";

    [Fact]
    public async Task Before_the_first_snapshot_nothing_is_known_then_exactly_its_allocations()
    {
        var source = await StartSourceAsync();
        var call = await _server.NextWatchAsync();

        // Connected, and nothing received yet: a fresh client asks for a snapshot and knows nothing.
        Assert.Equal((0ul, 0ul), (call.Epoch, call.Revision));
        Assert.False(source.IsKnown);
        Assert.Null(source.AddressesOf("default/a"));
        Assert.Empty(TakeChanged(source));

        await call.SendAsync(Snapshot(7, 1,
            Allocated("default/a", "main", "203.0.113.1"),
            Allocated("default/b", "main", "203.0.113.2", "2001:db8::2"),
            Failed("default/c")));
        await NextMessageTakenAsync();

        Assert.True(source.IsKnown);
        Assert.Equal(["default/a", "default/b"], TakeChanged(source).Order(StringComparer.Ordinal));
        Assert.Empty(TakeChanged(source)); // taken once
        Assert.Equal("203.0.113.1 from main", Text(source.AddressesOf("default/a")));
        Assert.Equal("203.0.113.2,2001:db8::2 from main", Text(source.AddressesOf("default/b")));
        Assert.Null(source.AddressesOf("default/c")); // the controller could not allocate it
    }

    [Fact]
    public async Task Deltas_change_exactly_the_services_they_name()
    {
        var source = await StartSourceAsync();
        var call = await _server.NextWatchAsync();
        await call.SendAsync(Snapshot(7, 1,
            Allocated("default/a", "main", "203.0.113.1"),
            Allocated("default/b", "main", "203.0.113.2"),
            Allocated("default/c", "main", "203.0.113.3"),
            Allocated("default/keep", "main", "203.0.113.4")));
        await NextMessageTakenAsync();
        TakeChanged(source);

        // a is released, b moves, c loses its address, d is new; keep is not mentioned.
        await call.SendAsync(Changes(7, 2,
            [Allocated("default/b", "main", "203.0.113.9"), Failed("default/c"), Allocated("default/d", "other", "198.51.100.4")],
            "default/a"));
        await NextMessageTakenAsync();

        Assert.Equal(["default/a", "default/b", "default/c", "default/d"], TakeChanged(source).Order(StringComparer.Ordinal));
        Assert.Null(source.AddressesOf("default/a"));
        Assert.Equal("203.0.113.9 from main", Text(source.AddressesOf("default/b")));
        Assert.Null(source.AddressesOf("default/c"));
        Assert.Equal("198.51.100.4 from other", Text(source.AddressesOf("default/d")));
        Assert.Equal("203.0.113.4 from main", Text(source.AddressesOf("default/keep")));

        // An entry repeated unchanged, and the removal of a key it never had, change nothing.
        await call.SendAsync(Changes(7, 3, [Allocated("default/d", "other", "198.51.100.4")], "default/never"));
        await NextMessageTakenAsync();
        Assert.Empty(TakeChanged(source));
    }

    [Fact]
    public async Task Losing_the_controller_keeps_the_addresses_and_the_watch_resumes_where_it_left_off()
    {
        var source = await StartSourceAsync();
        var call = await _server.NextWatchAsync();
        await call.SendAsync(Snapshot(7, 3, Allocated("default/a", "main", "203.0.113.1"), Allocated("default/b", "main", "203.0.113.2")));
        await NextMessageTakenAsync();
        TakeChanged(source);

        // The stream ends: the client comes back asking for what it missed since epoch 7, revision 3.
        call.End();
        var resumed = await _server.NextWatchAsync();
        Assert.Equal((7ul, 3ul), (resumed.Epoch, resumed.Revision));
        AssertStillKnown(source);

        // The call fails, then the controller goes away altogether and comes back on the same port.
        resumed.Fail();
        var failedOnce = await _server.NextWatchAsync();
        Assert.Equal((7ul, 3ul), (failedOnce.Epoch, failedOnce.Revision));
        var port = _server.Port;
        await _server.DisposeAsync();
        _server = await StartAsync(port);
        var afterRestart = await _server.NextWatchAsync();
        Assert.Equal((7ul, 3ul), (afterRestart.Epoch, afterRestart.Revision));
        AssertStillKnown(source);

        // The missed change arrives as a delta and applies on top of what was kept.
        await afterRestart.SendAsync(Changes(7, 4, [Allocated("default/c", "main", "203.0.113.3")]));
        await NextMessageTakenAsync();
        Assert.Equal(["default/c"], TakeChanged(source));
        Assert.Equal("203.0.113.1 from main", Text(source.AddressesOf("default/a")));
        Assert.Equal("203.0.113.3 from main", Text(source.AddressesOf("default/c")));

        void AssertStillKnown(ControllerAddresses addresses)
        {
            Assert.True(addresses.IsKnown);
            Assert.Empty(TakeChanged(addresses));
            Assert.Equal("203.0.113.1 from main", Text(addresses.AddressesOf("default/a")));
            Assert.Equal("203.0.113.2 from main", Text(addresses.AddressesOf("default/b")));
        }
    }

    [Fact]
    public async Task A_snapshot_after_a_reconnect_removes_what_vanished()
    {
        var source = await StartSourceAsync();
        var call = await _server.NextWatchAsync();
        await call.SendAsync(Snapshot(7, 3,
            Allocated("default/a", "main", "203.0.113.1"),
            Allocated("default/b", "main", "203.0.113.2"),
            Allocated("default/c", "main", "203.0.113.3")));
        await NextMessageTakenAsync();
        TakeChanged(source);
        call.End();

        // A restarted controller (new epoch) answers with a snapshot: b is gone, c lost its address, d is new.
        var next = await _server.NextWatchAsync();
        await next.SendAsync(Snapshot(8, 1,
            Allocated("default/a", "main", "203.0.113.1"),
            Failed("default/c"),
            Allocated("default/d", "main", "203.0.113.4")));
        await NextMessageTakenAsync();

        Assert.Equal(["default/b", "default/c", "default/d"], TakeChanged(source).Order(StringComparer.Ordinal));
        Assert.Equal("203.0.113.1 from main", Text(source.AddressesOf("default/a")));
        Assert.Null(source.AddressesOf("default/b"));
        Assert.Null(source.AddressesOf("default/c"));
        Assert.Equal("203.0.113.4 from main", Text(source.AddressesOf("default/d")));

        // The client now resumes from the new epoch.
        next.End();
        var resumed = await _server.NextWatchAsync();
        Assert.Equal((8ul, 1ul), (resumed.Epoch, resumed.Revision));
    }
}
