extern alias speaker;

using System.Collections.Immutable;
using System.Net;
using System.Text;
using BenchmarkDotNet.Attributes;
using BgpLb.Allocation;
using BgpLb.Config;
using speaker::BgpLb.Speaker.Bgp;

namespace BgpLb.Benchmarks;

/// <summary>
/// One speaker reconcile: the BGP plan of a node for N LoadBalancer Services with their EndpointSlices
/// (what every configuration change costs before the differences reach the sessions).
/// </summary>
[MemoryDiagnoser]
public class PlannerBenchmarks
{
    private BgpLbConfig _config = BgpLbConfig.Empty;
    private ImmutableDictionary<string, ImmutableArray<IPAddress>> _addresses = ImmutableDictionary<string, ImmutableArray<IPAddress>>.Empty;

    [Params(10_000)]
    public int Services { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var yaml = new StringBuilder("""
            apiVersion: metallb.io/v1beta1
            kind: IPAddressPool
            metadata: { name: big }
            spec: { addresses: [198.19.0.0/16] }
            ---
            apiVersion: metallb.io/v1beta2
            kind: BGPPeer
            metadata: { name: tor }
            spec: { myASN: 64513, peerASN: 64512, peerAddress: 198.18.0.1 }
            ---
            apiVersion: metallb.io/v1beta1
            kind: BGPAdvertisement
            metadata: { name: ad }
            spec: { communities: ["64513:100"] }
            ---
            apiVersion: v1
            kind: Node
            metadata: { name: node-a }
            ---

            """);
        for (var i = 0; i < Services; i++)
        {
            yaml.Append($$"""
                apiVersion: v1
                kind: Service
                metadata: { name: s{{i}}, namespace: default }
                spec: { type: LoadBalancer, externalTrafficPolicy: {{(i % 2 == 0 ? "Local" : "Cluster")}} }
                status: { loadBalancer: { ingress: [{ ip: 198.19.{{i / 256}}.{{i % 256}} }] } }
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: { name: s{{i}}-1, namespace: default, labels: { kubernetes.io/service-name: s{{i}} } }
                addressType: IPv4
                endpoints: [{ addresses: [10.0.0.1], nodeName: node-a, conditions: { ready: true } }]
                ---

                """);
        }
        var options = new ConfigOptions();
        var parsed = ManifestParser.Parse("bench.yaml", yaml.ToString(), options);
        _config = new ConfigCompiler(options).Compile(new ResourceSnapshot([.. parsed.Resources], [.. parsed.Errors], [])).Config;
        _addresses = _config.Services.ToImmutableDictionary(ServiceRequests.KeyOf, s => ServiceHelpers.ExistingAddresses(s).ToImmutableArray());
    }

    [Benchmark]
    public int PlanNode() => BgpAnnouncementPlanner.Plan(_config, "node-a", _addresses).Peers[0].Routes.Count;
}
