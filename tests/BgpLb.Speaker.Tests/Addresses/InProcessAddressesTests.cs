using System.Text.Json.Nodes;
using BgpLb.Config;
using BgpLb.Planning;
using BgpLb.Speaker.Addresses;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using static BgpLb.Kubernetes.Testing.KubeObjects;

namespace BgpLb.Speaker.Tests.Addresses;

public sealed class InProcessAddressesTests
{
    private readonly ClusterState _state = new(new ConfigOptions());
    private readonly FakeLogger<InProcessAddresses> _logger = new();
    private readonly InProcessAddresses _source;

    public InProcessAddressesTests() => _source = new InProcessAddresses(_logger);

    /// <summary>Applies a batch and returns the Services the source says got other addresses.</summary>
    private HashSet<string> Apply(ResourceBatch batch)
    {
        var delta = _state.ApplyValid(batch);
        var changed = new HashSet<string>(StringComparer.Ordinal);
        _source.Update(_state, delta, changed);
        return changed;
    }

    private string? Text(string service) => _source.AddressesOf(service) is { } a ? $"{string.Join(",", a.Addresses)} from {a.Pool}" : null;

    private static JsonObject Annotated(string name, string addresses)
    {
        var service = Service("default", name);
        service["metadata"]!["annotations"] = new JsonObject { ["metallb.io/loadBalancerIPs"] = addresses };
        return service;
    }

    [Fact]
    public void Addresses_never_move_on_unrelated_changes()
    {
        Assert.Equal(["default/m", "default/n"], Apply(Batches.Initial(Pool("main", "203.0.113.0/29"), Service("default", "m"), Service("default", "n"))).Order(StringComparer.Ordinal));
        Assert.Equal("203.0.113.0 from main", Text("default/m"));
        Assert.Equal("203.0.113.1 from main", Text("default/n"));

        // Allocated from scratch, "a" would take .0; m and n keep what they have.
        Assert.Equal(["default/a"], Apply(Batches.Changed(Service("default", "a"))));
        Assert.Equal("203.0.113.2 from main", Text("default/a"));
        Assert.Equal("203.0.113.0 from main", Text("default/m"));
        Assert.Equal("203.0.113.1 from main", Text("default/n"));

        // Endpoints, Nodes and a new pool (which would sort first) move nothing.
        Assert.Empty(Apply(Batches.Changed(EndpointSlice("default", "m", "node-1", "10.0.0.1"), Node("node-1"))));
        Assert.Empty(Apply(Batches.Changed(Pool("aaa-first", "198.51.100.0/29"))));
        Assert.Equal("203.0.113.2 from main", Text("default/a"));
        Assert.Equal("203.0.113.0 from main", Text("default/m"));
        Assert.Equal("203.0.113.1 from main", Text("default/n"));

        // A Service that goes releases its address and only its own.
        Assert.Equal(["default/n"], Apply(Batches.Removed("Service", "default", "n")));
        Assert.Null(Text("default/n"));
        Assert.Equal("203.0.113.0 from main", Text("default/m"));
    }

    [Fact]
    public void Services_keep_their_status_addresses_and_requested_ones_are_honoured()
    {
        var changed = Apply(Batches.Initial(Pool("main", "203.0.113.0/29"),
            Service("default", "a-new"),
            Service("default", "b-status", "203.0.113.5"),
            Annotated("c-annotated", "203.0.113.0"),
            Annotated("d-outside", "192.0.2.1")));

        Assert.Equal("203.0.113.1 from main", Text("default/a-new"));
        Assert.Equal("203.0.113.5 from main", Text("default/b-status"));
        Assert.Equal("203.0.113.0 from main", Text("default/c-annotated"));
        Assert.Null(Text("default/d-outside"));
        Assert.Contains("default/d-outside", changed); // it has an answer now: no address
        var refused = Assert.Single(_logger.Collector.GetSnapshot(), r => r.Id.Id == 3302);
        Assert.Equal(LogLevel.Warning, refused.Level);
        Assert.Contains("default/d-outside", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bulk_change_is_one_summary_line_and_a_small_one_a_line_per_service()
    {
        var services = Enumerable.Range(0, 150).Select(i => Service("bulk", $"svc-{i:D3}")).ToArray();
        Assert.Equal(150, Apply(Batches.Initial([Pool("main", "203.0.113.0/24"), .. services])).Count);

        var logs = _logger.Collector.GetSnapshot();
        var summary = Assert.Single(logs, r => r.Id.Id == 3308);
        Assert.Equal(LogLevel.Information, summary.Level);
        Assert.StartsWith("150 allocations changed (150 allocated, 0 without address, 0 released)", summary.Message, StringComparison.Ordinal);
        Assert.Equal(150, logs.Count(r => r.Id.Id == 3301));
        Assert.All(logs.Where(r => r.Id.Id == 3301), r => Assert.Equal(LogLevel.Debug, r.Level));

        _logger.Collector.Clear();
        Assert.Equal(["default/one"], Apply(Batches.Changed(Service("default", "one"))));
        var line = Assert.Single(_logger.Collector.GetSnapshot());
        Assert.Equal((3301, LogLevel.Information), (line.Id.Id, line.Level));
        Assert.Contains("default/one", line.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Addresses_are_always_known_and_a_pool_change_reallocates_what_it_touches()
    {
        Assert.True(_source.IsKnown);
        Apply(Batches.Initial(Pool("main", "203.0.113.0/29"), Service("default", "a"), Service("default", "b")));

        // The pool shrinks to one address: a keeps it, b has nowhere to go.
        Assert.Equal(["default/b"], Apply(Batches.Changed(Pool("main", "203.0.113.0/32"))));
        Assert.Equal("203.0.113.0 from main", Text("default/a"));
        Assert.Null(Text("default/b"));
    }
}
