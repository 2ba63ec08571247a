using System.Collections.Immutable;
using System.Net;
using BenchmarkDotNet.Attributes;
using BgpLb.Config;
using BgpLb.Model;
using BgpLb.Planning;

namespace BgpLb.Benchmarks;

/// <summary>
/// A speaker's planning for N LoadBalancer Services with their EndpointSlices: everything from scratch (a restart, or a
/// change of this node's labels), and what the reconcile loop pays for one Service change and one EndpointSlice flip
/// (ClusterState.Apply of the one-object batch, then NodePlanner.Apply of the changed Service).
/// </summary>
[MemoryDiagnoser]
public class PlannerBenchmarks
{
    private const string Node = "node-a";
    private const string Config = """
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: { name: big }
        spec: { addresses: [198.18.0.0/15] }
        ---
        apiVersion: metallb.io/v1beta2
        kind: BGPPeer
        metadata: { name: tor }
        spec: { myASN: 64513, peerASN: 64512, peerAddress: 192.0.2.1 }
        ---
        apiVersion: metallb.io/v1beta1
        kind: BGPAdvertisement
        metadata: { name: ad }
        spec: { communities: ["64513:100"] }
        ---
        apiVersion: v1
        kind: Node
        metadata: { name: node-a }
        """;

    private ClusterState _state = null!;
    private PlanInputs _inputs = null!;
    private NodePlanner _planner = null!;
    private ServiceInfo[] _serviceVersions = [];
    private EndpointSliceInfo[] _sliceVersions = [];
    private int _serviceFlip;
    private int _sliceFlip;

    [Params(10_000, 100_000)]
    public int Services { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var options = new ConfigOptions();
        _state = new ClusterState(options);
        var batch = new ResourceBatch { IsInitial = true };
        batch.Changes.AddRange(ManifestParser.Parse("bench.yaml", Config, options).Objects.Select(o => new ResourceChange(o.Key, o.Value)));
        for (var i = 0; i < Services; i++)
        {
            var (service, slice) = Objects(i, Address(i), ready: true);
            batch.Changes.Add(new ResourceChange(new ResourceKey("Service", "default", $"s{i}"), service));
            batch.Changes.Add(new ResourceChange(new ResourceKey("EndpointSlice", "default", $"s{i}-1"), slice));
        }
        _state.Apply(batch);
        if (_state.HasErrors)
            throw new InvalidOperationException(string.Join(" | ", _state.Problems));
        _inputs = new PlanInputs(_state.Config, _state.Services, _state.EndpointsOf, _state.Nodes, ImmutableHashSet.Create(Node), AddressesOf);
        _planner = new NodePlanner(Node);
        _planner.Apply(_inputs, contextMayHaveChanged: true, _state.Services.Keys);
        if (_planner.Table.RouteCount != Services)
            throw new InvalidOperationException($"{_planner.Table.RouteCount} routes for {Services} Services");

        // The Service in the middle moves between two addresses; its slice goes between ready and not ready.
        var middle = Services / 2;
        _serviceVersions = [Objects(middle, Address(middle), true).Service, Objects(middle, Address(Services + 1), true).Service];
        _sliceVersions = [Objects(middle, Address(middle), true).Slice, Objects(middle, Address(middle), false).Slice];
    }

    private static IPAddress Address(int i) => new([198, (byte)(18 + (i >> 16)), (byte)(i >> 8), (byte)i]);

    private static (ServiceInfo Service, EndpointSliceInfo Slice) Objects(int i, IPAddress address, bool ready) =>
    (
        new ServiceInfo { Key = $"default/s{i}", Namespace = "default", LocalTrafficPolicy = i % 2 == 0, Ingress = [address] },
        new EndpointSliceInfo($"default/s{i}-1", $"default/s{i}", ready, ready ? [Node] : [])
    );

    /// <summary>As the speaker reads them in Kubernetes mode: the Service's status.</summary>
    private ServiceAddresses? AddressesOf(string service) =>
        _state.Services.TryGetValue(service, out var info) && !info.Ingress.IsEmpty ? new ServiceAddresses(info.Ingress, null) : null;

    [Benchmark]
    public int PlanEverything()
    {
        var planner = new NodePlanner(Node);
        planner.Apply(_inputs, contextMayHaveChanged: true, _state.Services.Keys);
        return planner.Table.RouteCount;
    }

    [Benchmark]
    public int OneServiceChange()
    {
        var service = _serviceVersions[_serviceFlip ^= 1];
        return Pass(new ResourceChange(new ResourceKey("Service", "default", service.Name), service));
    }

    [Benchmark]
    public int OneEndpointSliceFlip()
    {
        var slice = _sliceVersions[_sliceFlip ^= 1];
        return Pass(new ResourceChange(new ResourceKey("EndpointSlice", "default", slice.Key["default/".Length..]), slice));
    }

    /// <summary>One pass of the speaker's reconcile loop for a batch of one object, without logging and sessions.</summary>
    private int Pass(ResourceChange change)
    {
        var batch = new ResourceBatch();
        batch.Changes.Add(change);
        var delta = _state.Apply(batch);
        var changed = new HashSet<string>(delta.Services, StringComparer.Ordinal);
        changed.UnionWith(delta.Endpoints);
        var plan = _planner.Apply(_inputs, delta.ConfigChanged || delta.Nodes.Count > 0, changed);
        return plan.Routes.Count;
    }
}
