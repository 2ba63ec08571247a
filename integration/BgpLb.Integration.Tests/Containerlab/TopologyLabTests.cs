using System.Text.Json.Nodes;
using BgpLb.Integration.Tests.Harness;
using BgpLb.Netlab;
using Xunit.Abstractions;

namespace BgpLb.Integration.Tests.Containerlab;

/// <summary>
/// Every topology in examples/containerlab run as <c>./demo.sh --topology</c> runs it (<see cref="TopologyLab"/>): real
/// FRR, BIRD and bgplb-speaker processes with the files the topology binds, checked through the routers' kernel tables
/// and the client's ARP.
/// </summary>
[Collection(LabTestGroup.Name)]
public sealed class TopologyLabTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static readonly string Examples = Path.Combine(BuiltExecutable.RepositoryRoot(), "examples", "containerlab");

    /// <summary>A topology added to examples/containerlab needs its test here.</summary>
    [Fact]
    public void Every_shipped_topology_is_run_here() =>
        Assert.Equal(["bgp-ecmp.clab.yml", "l2.clab.yml"], Directory.EnumerateFiles(Examples, "*.clab.yml").Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal));

    [NetnsFact(NeedsSpeaker = true)]
    public async Task Bgp_ecmp_topology_gives_both_tors_each_service_address_with_a_next_hop_through_each_of_the_three_speakers()
    {
        await using var lab = await TopologyLab.StartAsync(ClabTopology.Read(Path.Combine(Examples, "bgp-ecmp.clab.yml")), output.WriteLine);
        Assert.Equal([RouterKind.Frr, RouterKind.Bird], lab.Routers.Values.Select(r => r.Kind));
        Assert.Equal(3, lab.Speakers.Count);

        foreach (var tor in (string[])["tor1", "tor2"])
        {
            var nextHops = await lab.SpeakerNextHopsOfAsync(tor);
            Assert.Equal(3, nextHops.Count);
            var routes = await lab.WaitForEcmpRoutesAsync(tor, Timeout, "203.0.113.1/32", "203.0.113.2/32");
            foreach (var prefix in (string[])["203.0.113.1/32", "203.0.113.2/32"])
            {
                var route = Assert.Single(routes, r => r.Destination == prefix);
                Assert.Equal(nextHops.Select(a => a.ToString()).Order(StringComparer.Ordinal), route.Gateways.Select(a => a.ToString()).Order(StringComparer.Ordinal));
                output.WriteLine($"{tor}: {route}");
            }
        }

        lab.Passed();
    }

    [NetnsFact(NeedsSpeaker = true)]
    public async Task L2_topology_answers_the_clients_arp_for_the_service_address_with_the_owners_mac()
    {
        const string address = "203.0.113.10";
        await using var lab = await TopologyLab.StartAsync(ClabTopology.Read(Path.Combine(Examples, "l2.clab.yml")), output.WriteLine);

        var owner = await Wait.ForAsync($"one speaker answering for {address}", Timeout, async () =>
        {
            var owners = new List<string>();
            foreach (var (node, speaker) in lab.Speakers)
            {
                var status = JsonNode.Parse((await speaker.GetAsync("/status")).EnsureSuccess().StandardOutput)!;
                if (status["l2"]!["answering"]!.AsArray().Any(a => a!.GetValue<string>() == address))
                {
                    owners.Add(node);
                }
            }

            return owners;
        }, owners => owners.Count == 1);
        var ownerMac = await lab.MacOfAsync(owner[0], "eth1");

        var arping = (await Command.InNamespaceAsync(lab.NamespaceOf("client"), "arping", "-c", "2", "-W", "0.5", "-i", "eth1", address)).StandardOutput;
        output.WriteLine(arping);
        Assert.Contains($"from {ownerMac} ", arping, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch(@"from (?!" + ownerMac + ")", arping.ToLowerInvariant());

        await Command.InNamespaceAsync(lab.NamespaceOf("client"), "bash", "-c", $"echo > /dev/udp/{address}/9");
        var neighbour = await Wait.ForAsync($"the client's neighbour entry for {address}", Timeout,
            async () => (await Command.RunAsync("ip", "-n", lab.NamespaceOf("client"), "neigh", "show", address, "dev", "eth1")).EnsureSuccess().StandardOutput.Trim(),
            line => line.Contains("lladdr", StringComparison.Ordinal));
        Assert.Contains($"lladdr {ownerMac} ", neighbour, StringComparison.Ordinal);
        lab.Passed();
    }
}
