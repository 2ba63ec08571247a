using System.Net;
using BgpLb.Config;
using Microsoft.Extensions.Logging.Abstractions;

namespace BgpLb.Controller.Tests;

/// <summary>What the owner publishes while its state file cannot be written: nothing that is not saved.</summary>
public sealed class AllocationOwnerSaveTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("bgplb-owner-save-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task A_change_that_cannot_be_saved_is_held_back_until_it_is_saved()
    {
        var config = Directory.CreateDirectory(Path.Combine(_root, "config")).FullName;
        File.WriteAllText(Path.Combine(config, "a.yaml"), ControllerFixture.Pool("pool", "203.0.113.10-203.0.113.19") + ControllerFixture.Service("web"));
        var stateDirectory = Path.Combine(_root, "state"); // not there yet: every save fails
        var statePath = Path.Combine(stateDirectory, "state.json");
        using var owner = new AllocationOwner(new StateFile(statePath), StateData.Empty, Options(), NullLogger<AllocationOwner>.Instance);
        var (state, delta) = await LoadAsync(config);

        await owner.ApplyAsync(state, delta, StatusDecides.Never, CancellationToken.None);

        Assert.Contains($"cannot save {statePath}", owner.SaveError, StringComparison.Ordinal);
        Assert.Equal(0UL, owner.Current.Revision);
        Assert.Empty(owner.Current.Result.Entries);

        // A retry while it still fails publishes nothing either.
        await owner.ApplyAsync(state, new ClusterDelta(), StatusDecides.Never, CancellationToken.None);
        Assert.NotNull(owner.SaveError);
        Assert.Empty(owner.Current.Result.Entries);

        Directory.CreateDirectory(stateDirectory);
        await owner.ApplyAsync(state, new ClusterDelta(), StatusDecides.Never, CancellationToken.None);

        Assert.Null(owner.SaveError);
        var change = Assert.Single(owner.Current.History);
        var entry = Assert.Single(change.Upserted);
        Assert.Equal(("default/web", IPAddress.Parse("203.0.113.10")), (entry.Key, Assert.Single(entry.Addresses)));
        Assert.Equal("203.0.113.10", Assert.Single(new StateFile(statePath).Load(out _).Allocations["default/web"].Addresses));
    }

    [Fact]
    public async Task An_external_allocation_that_cannot_be_saved_fails_and_leaves_nothing_behind()
    {
        var config = Directory.CreateDirectory(Path.Combine(_root, "config")).FullName;
        File.WriteAllText(Path.Combine(config, "a.yaml"), ControllerFixture.Pool("pool", "203.0.113.10-203.0.113.19"));
        var statePath = Path.Combine(_root, "state", "state.json");
        using var owner = new AllocationOwner(new StateFile(statePath), StateData.Empty, Options(), NullLogger<AllocationOwner>.Instance);
        var (state, delta) = await LoadAsync(config);
        await owner.ApplyAsync(state, delta, StatusDecides.Never, CancellationToken.None);

        await Assert.ThrowsAnyAsync<IOException>(() => owner.AllocateAsync("ext", new ExternalRequest(), CancellationToken.None));

        Assert.Empty(owner.Current.Result.Entries);
        Assert.Null(owner.SaveError); // the caller was told; no cluster change waits
        Directory.CreateDirectory(Path.GetDirectoryName(statePath)!);
        var entry = await owner.AllocateAsync("ext", new ExternalRequest(), CancellationToken.None);
        Assert.Equal(IPAddress.Parse("203.0.113.10"), Assert.Single(entry.Addresses));
    }

    private static ControllerOptions Options() => new()
    {
        GrpcListen = new IPEndPoint(IPAddress.Loopback, 0),
        MetricsListen = new IPEndPoint(IPAddress.Loopback, 0),
    };

    /// <summary>The directory as the controller reads it at start: the first batch of a FileStore applied to a ClusterState.</summary>
    private static async Task<(ClusterState State, ClusterDelta Delta)> LoadAsync(string directory)
    {
        var options = new ConfigOptions { WatchFileSystem = false };
        var store = new FileStore(directory, options, TimeProvider.System, NullLogger<FileStore>.Instance);
        using var cancel = new CancellationTokenSource();
        await using var batches = store.WatchAsync(cancel.Token).GetAsyncEnumerator(cancel.Token);
        Assert.True(await batches.MoveNextAsync());
        var state = new ClusterState(options);
        var delta = state.Apply(batches.Current);
        await cancel.CancelAsync();
        return (state, delta);
    }
}
