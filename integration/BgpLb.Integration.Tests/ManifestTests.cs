using BgpLb.Netlab;
using System.Net;
using System.Text.Json;
using BgpLb.Integration.Tests.Harness;

namespace BgpLb.Integration.Tests;

/// <summary>The speaker config directory a scenario writes must be valid YAML with the fields the speaker reads.</summary>
public sealed class ManifestTests
{
    [Fact]
    public async Task Manifests_are_yaml_documents_with_the_metallb_fields()
    {
        var directory = Directory.CreateTempSubdirectory("bgplb-manifests-").FullName;
        try
        {
            var file = MetalLbManifests.Write(directory, "lab.yaml",
            [
                MetalLbManifests.Node("node1", IPAddress.Parse("198.18.0.2")),
                MetalLbManifests.IpAddressPool("pool", "203.0.113.0/24", "2001:db8:100::/120"),
                MetalLbManifests.BgpPeer("router", 64513, 64512, IPAddress.Parse("198.18.0.1"), holdTime: "3s", password: "lab secret"),
                MetalLbManifests.BgpAdvertisement("adv", ["pool"], communities: ["64513:100", "large:64513:1:2"], localPref: 150),
                MetalLbManifests.Service("web", IPAddress.Parse("203.0.113.10"), externalTrafficPolicy: "Local"),
                MetalLbManifests.EndpointSlice("web", "node1", IPAddress.Parse("10.0.0.5"), ready: false),
            ]);

            var result = (await Command.RunAsync("python3", "-c", "import sys, json, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))", file)).EnsureSuccess();
            using var json = JsonDocument.Parse(result.StandardOutput);
            var documents = json.RootElement.EnumerateArray().ToList();

            Assert.Equal(["Node", "IPAddressPool", "BGPPeer", "BGPAdvertisement", "Service", "EndpointSlice"], documents.Select(d => d.GetProperty("kind").GetString()));
            Assert.Equal("198.18.0.2", documents[0].GetProperty("status").GetProperty("addresses")[0].GetProperty("address").GetString());
            Assert.Equal(["203.0.113.0/24", "2001:db8:100::/120"], documents[1].GetProperty("spec").GetProperty("addresses").EnumerateArray().Select(a => a.GetString()));
            var peer = documents[2].GetProperty("spec");
            Assert.Equal(64513, peer.GetProperty("myASN").GetInt32());
            Assert.Equal("3s", peer.GetProperty("holdTime").GetString());
            Assert.Equal("lab secret", peer.GetProperty("password").GetString());
            Assert.Equal("metallb-system", documents[2].GetProperty("metadata").GetProperty("namespace").GetString());
            Assert.Equal(["64513:100", "large:64513:1:2"], documents[3].GetProperty("spec").GetProperty("communities").EnumerateArray().Select(c => c.GetString()));
            Assert.Equal(150, documents[3].GetProperty("spec").GetProperty("localPref").GetInt32());
            Assert.Equal("203.0.113.10", documents[4].GetProperty("status").GetProperty("loadBalancer").GetProperty("ingress")[0].GetProperty("ip").GetString());
            Assert.Equal("Local", documents[4].GetProperty("spec").GetProperty("externalTrafficPolicy").GetString());
            var endpoint = documents[5].GetProperty("endpoints")[0];
            Assert.False(endpoint.GetProperty("conditions").GetProperty("ready").GetBoolean());
            Assert.Equal("web", documents[5].GetProperty("metadata").GetProperty("labels").GetProperty("kubernetes.io/service-name").GetString());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
