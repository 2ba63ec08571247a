using BgpLb.Config;
using Microsoft.Extensions.Logging.Testing;
using static BgpLb.Kubernetes.Testing.KubeObjects;

namespace BgpLb.Speaker.Tests;

/// <summary>A Service of another class is skipped with one log line, and again only when its class changes.</summary>
public sealed class ForeignClassLogTests
{
    private readonly ClusterState _state = new(new ConfigOptions());
    private readonly FakeLogger _logger = new();

    private static System.Text.Json.Nodes.JsonObject Classed(string name, string? lbClass)
    {
        var service = Service("default", name);
        if (lbClass is not null)
            service["spec"]!["loadBalancerClass"] = lbClass;
        return service;
    }

    [Fact]
    public void Skipped_Services_are_logged_once_per_class()
    {
        var log = new ForeignClassLog("example.com/lb", _logger);
        _state.Apply(Batches.Initial(Classed("plain", null), Classed("mine", "example.com/lb")));
        log.Observe(_state, ["default/plain", "default/mine"]);
        log.Observe(_state, ["default/plain"]);
        Assert.Equal(["Skipping Service default/plain: its loadBalancerClass is (none), this daemon handles example.com/lb (--lb-class)"],
            _logger.Collector.GetSnapshot().Select(r => r.Message));

        _state.Apply(Batches.Changed(Classed("plain", "other.io/lb")));
        log.Observe(_state, ["default/plain"]);
        Assert.Equal("Skipping Service default/plain: its loadBalancerClass is other.io/lb, this daemon handles example.com/lb (--lb-class)",
            _logger.Collector.LatestRecord.Message);
        Assert.Equal(2, _logger.Collector.Count);
    }
}
