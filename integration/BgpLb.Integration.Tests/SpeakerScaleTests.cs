using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using BgpLb.Integration.Tests.Harness;
using BgpLb.Netlab;
using Xunit.Abstractions;
using static BgpLb.Integration.Tests.SpeakerLab;

namespace BgpLb.Integration.Tests;

[Collection(LabTestGroup.Name)]
public sealed class SpeakerScaleTests(ITestOutputHelper output)
{
    private const int ServiceCount = 10_000;

    /// <summary>
    /// 10,000 Cluster Services from 198.18.128.0/18 (inside the benchmarking range, clear of the lab links) reach BIRD;
    /// logs the time from Established to all routes present and the speaker's resident memory.
    /// </summary>
    [NetnsFact]
    public async Task Ten_thousand_services_converge_on_bird()
    {
        await using var lab = await Lab.CreateAsync("spk-scale", 1, output.WriteLine);
        var node = lab.Nodes[0];
        var router = (BirdRouter)await StartRouterAsync(RouterKind.Bird, lab, SpeakerAs, holdTime: 9);
        var directory = ConfigDirectory(lab, node);
        MetalLbManifests.Write(directory, "peers.yaml",
        [
            MetalLbManifests.Node("node1", node.Address),
            MetalLbManifests.IpAddressPool("scale", "198.18.128.0/18"),
            MetalLbManifests.BgpPeer("router", SpeakerAs, RouterAs, node.RouterAddress, holdTime: "9s"),
            MetalLbManifests.BgpAdvertisement("adv", ["scale"]),
        ]);
        File.WriteAllText(Path.Combine(directory, "services.yaml"), Services(ServiceCount));

        var stopwatch = Stopwatch.StartNew();
        var speaker = await SpeakerProcess.StartAsync(lab, node, "node1", directory, logLevel: "information");
        await router.WaitForEstablishedAsync(node.Address, TimeSpan.FromSeconds(60));
        var established = stopwatch.Elapsed;
        var protocol = BirdRouter.ProtocolName(node.Address);
        await Wait.ForAsync(
            $"{ServiceCount} routes from the speaker", TimeSpan.FromSeconds(60),
            async () => BirdOutput.ParseRouteCount(await router.BirdcAsync("show", "route", "protocol", protocol, "count")),
            count => count == ServiceCount);
        var converged = stopwatch.Elapsed - established;
        var residentMiB = ResidentKiB(speaker.Process.Pid) / 1024.0;
        lab.Log(string.Create(CultureInfo.InvariantCulture,
            $"{ServiceCount} Services: Established {established.TotalSeconds:F2} s after start, all routes {converged.TotalSeconds:F2} s after Established, " +
            $"speaker RSS {residentMiB:F0} MiB, CPU {speaker.Process.CpuSeconds():F2} s"));

        var sample = (await router.GetRoutesAsync()).Single(r => r.Prefix == "198.18.167.15/32"); // the last Service
        Assert.Equal([node.Address], sample.NextHops);
        lab.Passed();
    }

    /// <summary>Service i on 198.18.128.0 + i with a ready endpoint on node1, in flow style to keep the file small.</summary>
    private static string Services(int count)
    {
        const string Template = """
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: svc-#, namespace: default}
            spec: {type: LoadBalancer, selector: {app: svc-#}, ports: [{port: 80, targetPort: 8080, protocol: TCP}]}
            status: {loadBalancer: {ingress: [{ip: ADDRESS}]}}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: svc-#-node1, namespace: default, labels: {kubernetes.io/service-name: svc-#}}
            addressType: IPv4
            endpoints: [{addresses: [10.0.0.1], conditions: {ready: true}, nodeName: node1}]
            ports: [{port: 8080, protocol: TCP}]

            """;
        var yaml = new StringBuilder();
        var first = BitConverter.ToUInt32(IPAddress.Parse("198.18.128.0").GetAddressBytes().Reverse().ToArray());
        for (var i = 0; i < count; i++)
        {
            var address = new IPAddress(BitConverter.GetBytes(first + (uint)i).Reverse().ToArray());
            yaml.Append(Template.Replace("#", i.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
                .Replace("ADDRESS", address.ToString(), StringComparison.Ordinal));
        }

        return yaml.ToString();
    }
}
