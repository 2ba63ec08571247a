using System.Collections.Immutable;
using BgpLb.Allocation;

namespace BgpLb.Controller.Tests;

public sealed class StateFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bgplb-ctl-state-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string StatePath => Path.Combine(_dir, "state.json");

    private static StateData Sample() => new()
    {
        Allocations = ImmutableSortedDictionary.Create<string, StoredAllocation>(StringComparer.Ordinal)
            .Add("default/web", new StoredAllocation("main", ["203.0.113.1", "2001:db8::1"])),
        External = ImmutableSortedDictionary.Create<string, ExternalRequest>(StringComparer.Ordinal)
            .Add("tool", new ExternalRequest { Policy = FamilyPolicy.PreferDualStack, Families = ["IPv6"], Pool = "main", Ports = [new ServicePort("UDP", 53)] }),
    };

    [Fact]
    public async Task A_saved_state_loads_back_identically_and_leaves_no_temp_file()
    {
        var file = new StateFile(StatePath);
        await file.SaveAsync(Sample(), CancellationToken.None);

        var loaded = file.Load(out var discarded);
        Assert.False(discarded);
        Assert.False(File.Exists(file.TempPath));
        Assert.Equal(["203.0.113.1", "2001:db8::1"], loaded.Allocations["default/web"].Addresses.ToArray());
        Assert.True(Sample().External["tool"].SameAs(loaded.External["tool"]));
    }

    [Fact]
    public void A_missing_file_is_an_empty_state()
    {
        var loaded = new StateFile(StatePath).Load(out _);
        Assert.Empty(loaded.Allocations);
        Assert.Empty(loaded.External);
    }

    [Fact]
    public async Task A_temp_file_left_by_a_crash_is_discarded_and_the_old_state_survives()
    {
        var file = new StateFile(StatePath);
        await file.SaveAsync(Sample(), CancellationToken.None);
        await File.WriteAllTextAsync(file.TempPath, "{\"version\": 1, \"allocations\": {\"default/web\": {\"pool\": \"ma"); // cut short mid-write

        var loaded = file.Load(out var discarded);
        Assert.True(discarded);
        Assert.False(File.Exists(file.TempPath));
        Assert.Equal(["203.0.113.1", "2001:db8::1"], loaded.Allocations["default/web"].Addresses.ToArray());
    }

    [Theory]
    [InlineData("{\"version\": 1, \"allocations\": {\"default/web\": {\"pool\": \"ma", "corrupt")]
    [InlineData("", "corrupt")]
    [InlineData("null", "holds null")]
    [InlineData("{\"version\": 2}", "unsupported version 2")]
    [InlineData("{\"version\": 1, \"allocations\": {\"default/web\": {\"pool\": \"main\", \"addresses\": [\"203.0.113.999\"]}}}", "malformed addresses")]
    [InlineData("{\"version\": 1, \"allocations\": {\"default/web\": {\"pool\": \"main\", \"addresses\": []}}}", "malformed addresses")]
    [InlineData("{\"version\": 1, \"external\": {\"a/b\": {}}}", "external request 'a/b'")]
    [InlineData("{\"version\": 1, \"surprise\": true}", "corrupt")]
    public async Task A_corrupt_state_file_is_reported_and_left_untouched(string content, string reason)
    {
        await File.WriteAllTextAsync(StatePath, content);
        var e = Assert.Throws<StateFileException>(() => new StateFile(StatePath).Load(out _));
        Assert.Contains(StatePath, e.Message, StringComparison.Ordinal);
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        Assert.Equal(content, await File.ReadAllTextAsync(StatePath));
    }
}
