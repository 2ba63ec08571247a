using System.Net;
using BgpLb.Config;
using BgpLb.Speaker.Allocations;
using Microsoft.Extensions.Logging.Abstractions;

namespace BgpLb.Speaker.Tests.Allocations;

public sealed class InProcessAllocationsTests
{
    private const string Pool = """
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: { name: main, namespace: metallb-system }
        spec: { addresses: [203.0.113.0/29] }
        ---

        """;

    internal static string Service(string name, string extra = "", string status = "") => $$"""
        apiVersion: v1
        kind: Service
        metadata: { name: {{name}}, namespace: default{{extra}} }
        spec: { type: LoadBalancer, ports: [{ port: 80 }] }
        {{status}}
        ---

        """;

    internal static BgpLbConfig Config(string yaml)
    {
        var parsed = ManifestParser.Parse("test.yaml", yaml, new ConfigOptions());
        var update = new ConfigCompiler(new ConfigOptions()).Compile(new ResourceSnapshot([.. parsed.Resources], [.. parsed.Errors], []));
        Assert.False(update.HasErrors, string.Join(" | ", update.Errors));
        return update.Config;
    }

    private static Dictionary<string, string> Texts(IReadOnlyDictionary<string, System.Collections.Immutable.ImmutableArray<IPAddress>> addresses) =>
        addresses.ToDictionary(p => p.Key, p => string.Join(",", p.Value));

    [Fact]
    public void Addresses_stay_put_when_a_service_that_sorts_first_is_added()
    {
        var source = new InProcessAllocations(NullLogger<InProcessAllocations>.Instance);

        var first = source.AddressesFor(Config(Pool + Service("m") + Service("n")));
        Assert.Equal(new Dictionary<string, string> { ["default/m"] = "203.0.113.0", ["default/n"] = "203.0.113.1" }, Texts(first));

        // Allocated from scratch, "a" would take .0; the previous result keeps m and n where they are.
        var second = source.AddressesFor(Config(Pool + Service("a") + Service("m") + Service("n")));
        Assert.Equal(new Dictionary<string, string> { ["default/a"] = "203.0.113.2", ["default/m"] = "203.0.113.0", ["default/n"] = "203.0.113.1" }, Texts(second));
        Assert.Equal(0, source.Version);
    }

    [Fact]
    public void Services_carrying_addresses_keep_them_and_unsatisfiable_ones_get_none()
    {
        var source = new InProcessAllocations(NullLogger<InProcessAllocations>.Instance);
        var config = Config(Pool
            + Service("a-new")
            + Service("b-status", status: "status: { loadBalancer: { ingress: [{ ip: 203.0.113.5 }] } }")
            + Service("c-annotated", extra: ", annotations: { metallb.io/loadBalancerIPs: 203.0.113.0 }")
            + Service("d-outside", extra: ", annotations: { metallb.io/loadBalancerIPs: 192.0.2.1 }"));

        var addresses = source.AddressesFor(config);

        Assert.Equal(
            new Dictionary<string, string> { ["default/a-new"] = "203.0.113.1", ["default/b-status"] = "203.0.113.5", ["default/c-annotated"] = "203.0.113.0" },
            Texts(addresses));
    }

    [Fact]
    public void A_configuration_seen_before_gets_its_earlier_answer()
    {
        var source = new InProcessAllocations(NullLogger<InProcessAllocations>.Instance);
        var withB = Config(Pool + Service("b"));
        var withAB = Config(Pool + Service("a") + Service("b"));
        Assert.Equal("203.0.113.0", string.Join(",", source.AddressesFor(withB)["default/b"]));
        var later = source.AddressesFor(withAB);

        // A lagging reconcile loop that still holds the older configuration does not re-allocate it.
        Assert.Same(source.AddressesFor(withB), source.AddressesFor(withB));
        Assert.Same(later, source.AddressesFor(withAB));
    }
}
