using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Xunit.Abstractions;

namespace BgpLb.Integration.Tests.L2;

/// <summary>
/// L2 mode end to end: real bgplb-speaker processes answering real arping/ndisc6 clients across a Linux bridge.
/// Same non-parallel collection as the other netns labs (the name is the lab collection's).
/// </summary>
[Collection("netns lab")]
public sealed class L2Tests(ITestOutputHelper output)
{
    private const string Vip = "203.0.113.10";
    private const string Vip6 = "2001:db8::10";

    private static string Resources(string l2Spec = "{}") => $$"""
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: { name: l2, namespace: metallb-system }
        spec: { addresses: [203.0.113.0/24, "2001:db8::/120"] }
        ---
        apiVersion: metallb.io/v1beta1
        kind: L2Advertisement
        metadata: { name: l2, namespace: metallb-system }
        spec: {{l2Spec}}
        ---
        apiVersion: v1
        kind: Service
        metadata: { name: web, namespace: default }
        spec:
          type: LoadBalancer
          ipFamilyPolicy: PreferDualStack
          clusterIPs: [10.96.0.10, "fd00::10"]
          ports: [{ port: 80, protocol: TCP }]
        status: { loadBalancer: { ingress: [{ ip: {{Vip}} }, { ip: "{{Vip6}}" }] } }
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: { name: web-1, namespace: default, labels: { kubernetes.io/service-name: web } }
        addressType: IPv4
        endpoints: [{ addresses: [10.0.0.1], nodeName: node-1, conditions: { ready: true } }]

        """;

    /// <summary>MetalLB's order for equal scores, computed independently: sha256(node#ip) ascending.</summary>
    private static List<SpeakerNode> ElectionOrder(IEnumerable<SpeakerNode> speakers) =>
        [.. speakers.OrderBy(s => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{s.NodeName}#{Vip}"))), StringComparer.Ordinal)];

    [L2NetnsFact]
    public async Task Elected_owner_answers_arp_and_ndp_and_a_killed_owner_is_replaced_within_two_seconds()
    {
        await using var lab = await L2Lab.CreateAsync(speakers: 3);
        try
        {
            await lab.WriteConfigAsync(Resources());
            lab.StartSpeakers();
            var order = ElectionOrder(lab.Speakers);
            var (owner, next) = (order[0], order[1]);

            var macs = await L2Wait.UntilAsync(() => L2Lab.ArpingAsync(L2Lab.ClientNamespace, "eth0", Vip), m => m.Count > 0,
                TimeSpan.FromSeconds(15), "an ARP answer for " + Vip);
            Assert.Equal([owner.Mac], macs.Distinct());
            Assert.Equal(owner.Mac, await L2Lab.NdiscAsync(L2Lab.ClientNamespace, "eth0", Vip6));
            Assert.All(lab.Speakers, s => Assert.Equal(s == owner, s.Log.Contains($"this node owns {Vip}", StringComparison.Ordinal)));

            // The client's kernel learns the owner, then the owner dies; the next node's gratuitous ARP must move the entry.
            await L2Lab.ResolveFromClientAsync(Vip);
            Assert.Equal(owner.Mac, await L2Wait.UntilAsync(() => L2Lab.ClientNeighbourAsync(Vip), m => m is not null, TimeSpan.FromSeconds(3), "neighbour entry"));
            await Task.Delay(TimeSpan.FromSeconds(1.2)); // past the kernel's neighbour lock time (1 s), as in a steady state
            var clock = Stopwatch.StartNew();
            await owner.KillAsync();
            await L2Wait.UntilAsync(() => L2Lab.ClientNeighbourAsync(Vip), m => m == next.Mac, TimeSpan.FromSeconds(5), "neighbour entry moved to " + next.NodeName);
            var failover = clock.Elapsed;
            output.WriteLine($"failover {owner.NodeName} -> {next.NodeName}: client neighbour entry moved after {failover.TotalSeconds.ToString("F3", CultureInfo.InvariantCulture)} s");
            Assert.True(failover < TimeSpan.FromSeconds(2), $"failover took {failover}");

            Assert.Equal([next.Mac], (await L2Lab.ArpingAsync(L2Lab.ClientNamespace, "eth0", Vip)).Distinct());
            Assert.Equal(next.Mac, await L2Wait.UntilAsync(() => L2Lab.NdiscAsync(L2Lab.ClientNamespace, "eth0", Vip6), m => m == next.Mac,
                TimeSpan.FromSeconds(2), "NDP answer from " + next.NodeName));
            var metrics = await next.MetricsAsync();
            Assert.Contains("metallb_layer2_gratuitous_sent{ip=\"203.0.113.10\"}", metrics, StringComparison.Ordinal);
            Assert.Contains("metallb_layer2_responses_sent{ip=\"203.0.113.10\"}", metrics, StringComparison.Ordinal);
            Assert.Contains("metallb_speaker_announced{ip=\"203.0.113.10\",node=\"" + next.NodeName + "\",protocol=\"layer2\",service=\"default/web\"} 1", metrics, StringComparison.Ordinal);
        }
        catch
        {
            foreach (var speaker in lab.Speakers)
                output.WriteLine($"--- {speaker.NodeName} ({speaker.Mac})\n{speaker.Log}");
            throw;
        }
    }

    [L2NetnsFact]
    public async Task A_gracefully_stopped_owner_releases_and_the_next_node_takes_over_at_once()
    {
        await using var lab = await L2Lab.CreateAsync(speakers: 2);
        try
        {
            await lab.WriteConfigAsync(Resources());
            lab.StartSpeakers();
            var order = ElectionOrder(lab.Speakers);
            var (owner, next) = (order[0], order[1]);
            await L2Wait.UntilAsync(() => L2Lab.ArpingAsync(L2Lab.ClientNamespace, "eth0", Vip), m => m.Contains(owner.Mac),
                TimeSpan.FromSeconds(15), "an ARP answer from " + owner.NodeName);
            await L2Lab.ResolveFromClientAsync(Vip);
            await L2Wait.UntilAsync(() => L2Lab.ClientNeighbourAsync(Vip), m => m == owner.Mac, TimeSpan.FromSeconds(3), "neighbour entry");
            await Task.Delay(TimeSpan.FromSeconds(1.2));

            var clock = Stopwatch.StartNew();
            Assert.Equal(0, await owner.TerminateAsync());
            await L2Wait.UntilAsync(() => L2Lab.ClientNeighbourAsync(Vip), m => m == next.Mac, TimeSpan.FromSeconds(3), "neighbour entry moved to " + next.NodeName);
            output.WriteLine($"graceful handover: {clock.Elapsed.TotalSeconds.ToString("F3", CultureInfo.InvariantCulture)} s");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"handover after a leave took {clock.Elapsed}");
            Assert.Contains($"Released {Vip}", owner.Log, StringComparison.Ordinal);
            Assert.Contains("Speaker node-", next.Log, StringComparison.Ordinal);
            Assert.Contains(" left", next.Log, StringComparison.Ordinal);
        }
        catch
        {
            foreach (var speaker in lab.Speakers)
                output.WriteLine($"--- {speaker.NodeName} ({speaker.Mac})\n{speaker.Log}");
            throw;
        }
    }

    [L2NetnsFact]
    public async Task An_interface_restriction_answers_on_that_interface_only()
    {
        await using var lab = await L2Lab.CreateAsync(speakers: 1, secondSegment: true);
        var speaker = lab.Speakers[0];
        try
        {
            await lab.WriteConfigAsync(Resources("{ interfaces: [eth1] }"));
            lab.StartSpeakers();
            var macs = await L2Wait.UntilAsync(() => L2Lab.ArpingAsync(L2Lab.ClientNamespace, "eth1", Vip), m => m.Count > 0,
                TimeSpan.FromSeconds(15), "an ARP answer on eth1");
            Assert.Equal([speaker.Mac1!], macs.Distinct());
            Assert.Empty(await L2Lab.ArpingAsync(L2Lab.ClientNamespace, "eth0", Vip, count: 3));
            Assert.Null(await L2Lab.NdiscAsync(L2Lab.ClientNamespace, "eth0", Vip6));
            Assert.Equal(speaker.Mac1, await L2Lab.NdiscAsync(L2Lab.ClientNamespace, "eth1", Vip6));
        }
        catch
        {
            output.WriteLine(speaker.Log);
            throw;
        }
    }

    [L2NetnsFact]
    public async Task An_address_already_held_by_another_host_is_reported_as_a_conflict_and_not_answered()
    {
        await using var lab = await L2Lab.CreateAsync(speakers: 1);
        var speaker = lab.Speakers[0];
        try
        {
            await lab.AddObserverAsync("observer", 2);
            await L2Lab.Ip($"-n {L2Lab.ClientNamespace} addr add {Vip}/32 dev eth0");
            var clientMac = (await L2Lab.Run("ip", $"netns exec {L2Lab.ClientNamespace} cat /sys/class/net/eth0/address")).Output.Trim();
            await lab.WriteConfigAsync(Resources());
            lab.StartSpeakers();

            await L2Wait.UntilAsync(() => Task.FromResult(speaker.Log), log => log.Contains($"Address conflict: {Vip} is already used by {clientMac}", StringComparison.Ordinal),
                TimeSpan.FromSeconds(15), "the conflict in the speaker log");
            var answers = await L2Lab.ArpingAsync($"{L2Lab.Prefix}-observer", "eth0", Vip, count: 3);
            Assert.NotEmpty(answers);
            Assert.All(answers, mac => Assert.Equal(clientMac, mac));
            Assert.Contains("bgplb_layer2_address_conflict{ip=\"203.0.113.10\"} 1", await speaker.MetricsAsync(), StringComparison.Ordinal);
            // The IPv6 address has no other holder: it is announced normally.
            Assert.Equal(speaker.Mac, await L2Wait.UntilAsync(() => L2Lab.NdiscAsync($"{L2Lab.Prefix}-observer", "eth0", Vip6), m => m is not null,
                TimeSpan.FromSeconds(5), "NDP answer for " + Vip6));
        }
        catch
        {
            output.WriteLine(speaker.Log);
            throw;
        }
    }
}
