using System.Collections.Immutable;
using System.Net;
using System.Threading.Channels;
using BgpLb.Config;
using BgpLb.Speaker.Allocations;

namespace BgpLb.Speaker.Tests.Allocations;

public sealed class AllocatedConfigTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>An allocation source whose answer and version the test sets.</summary>
    private sealed class ManualAllocations : IAllocationSource
    {
        private volatile IReadOnlyDictionary<string, ImmutableArray<IPAddress>>? _addresses;
        private readonly ChangeSignal _changes = new();

        public long Version => _changes.Version;

        public IReadOnlyDictionary<string, ImmutableArray<IPAddress>>? AddressesFor(BgpLbConfig config) => _addresses;

        public Task WaitForChangeAsync(long version, CancellationToken cancellationToken) => _changes.WaitForChangeAsync(version, cancellationToken);

        public void Publish(string service, string address)
        {
            _addresses = new Dictionary<string, ImmutableArray<IPAddress>> { [service] = [IPAddress.Parse(address)] };
            _changes.Signal();
        }
    }

    private static ConfigUpdate Update(string poolName) => new ConfigCompiler(new ConfigOptions()).Compile(new ResourceSnapshot(
        [.. ManifestParser.Parse("t.yaml", $"apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {{ name: {poolName} }}\nspec: {{ addresses: [203.0.113.0/29] }}\n", new ConfigOptions()).Resources],
        [], []));

    [Fact]
    public async Task Recomputes_on_config_changes_and_on_allocation_changes_but_not_before_allocations_are_known()
    {
        var configs = Channel.CreateUnbounded<ConfigUpdate>();
        var allocations = new ManualAllocations();
        using var cancel = new CancellationTokenSource(Timeout);
        await using var inputs = AllocatedConfig.WatchAsync(configs.Reader.ReadAllAsync(cancel.Token), allocations, cancel.Token).GetAsyncEnumerator(cancel.Token);

        configs.Writer.TryWrite(Update("first"));
        var next = inputs.MoveNextAsync().AsTask();
        await Task.Delay(200);
        Assert.False(next.IsCompleted, "nothing may be planned before the allocations are known");

        allocations.Publish("default/web", "203.0.113.1");
        Assert.True(await next.WaitAsync(Timeout));
        Assert.Equal(("first", "203.0.113.1"), (inputs.Current.Update.Config.Pools.Single().Name, inputs.Current.Addresses["default/web"].Single().ToString()));

        configs.Writer.TryWrite(Update("second"));
        Assert.True(await inputs.MoveNextAsync().AsTask().WaitAsync(Timeout));
        Assert.Equal(("second", "203.0.113.1"), (inputs.Current.Update.Config.Pools.Single().Name, inputs.Current.Addresses["default/web"].Single().ToString()));

        allocations.Publish("default/web", "203.0.113.2");
        Assert.True(await inputs.MoveNextAsync().AsTask().WaitAsync(Timeout));
        Assert.Equal(("second", "203.0.113.2"), (inputs.Current.Update.Config.Pools.Single().Name, inputs.Current.Addresses["default/web"].Single().ToString()));
    }

    [Fact]
    public async Task A_failing_configuration_source_fails_the_loop_and_an_ended_one_ends_it()
    {
        using var cancel = new CancellationTokenSource(Timeout);
        var failing = Channel.CreateUnbounded<ConfigUpdate>();
        failing.Writer.TryComplete(new IOException("source broke"));
        var error = await Assert.ThrowsAsync<IOException>(async () =>
        {
            await foreach (var _ in AllocatedConfig.WatchAsync(failing.Reader.ReadAllAsync(cancel.Token), new ManualAllocations(), cancel.Token))
            {
            }
        });
        Assert.Equal("source broke", error.Message);

        var ended = Channel.CreateUnbounded<ConfigUpdate>();
        ended.Writer.TryComplete();
        var count = 0;
        await foreach (var _ in AllocatedConfig.WatchAsync(ended.Reader.ReadAllAsync(cancel.Token), new ManualAllocations(), cancel.Token))
            count++;
        Assert.Equal(0, count);
    }
}
