using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using BgpLb.Integration.Tests.Harness;
using BgpLb.Netlab;
using Xunit.Abstractions;

namespace BgpLb.Integration.Tests.L2;

/// <summary>
/// L2 mode end to end: real bgplb-speaker processes answering real arping/ndisc6 clients across a Linux bridge.
/// </summary>
[Collection(LabTestGroup.Name)]
public sealed class L2Tests(ITestOutputHelper output)
{
    internal const string Vip = "203.0.113.10";
    private const string Vip6 = "2001:db8::10";

    internal static string Resources(string l2Spec = "{}") => $$"""
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
    private static List<L2Node> ElectionOrder(IEnumerable<L2Node> nodes) =>
        [.. nodes.OrderBy(s => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{s.NodeName}#{Vip}"))), StringComparer.Ordinal)];

    private static readonly TimeSpan FailoverPoll = TimeSpan.FromMilliseconds(20);

    private static string Show(IReadOnlyList<string> macs) => "[" + string.Join(", ", macs) + "]";

    private void WriteLogs(L2Lab lab)
    {
        foreach (var speaker in lab.Speakers)
            output.WriteLine($"--- {speaker.NodeName} ({lab.Nodes.Single(n => n.NodeName == speaker.NodeName).Mac})\n{speaker.ReadLog()}");
    }

    /// <summary>The nodes whose speaker's /status lists <paramref name="address"/> among the addresses it answers for.</summary>
    private static async Task<List<string>> NodesAnsweringAsync(L2Lab lab, string address)
    {
        var nodes = new List<string>();
        foreach (var node in lab.Nodes)
        {
            var status = System.Text.Json.Nodes.JsonNode.Parse((await lab.SpeakerOf(node).GetAsync("/status")).EnsureSuccess().StandardOutput)!;
            if (status["l2"]!["answering"]!.AsArray().Any(a => a!.GetValue<string>() == address))
                nodes.Add(node.NodeName);
        }
        return nodes;
    }

    [NetnsFact(NeedsSpeaker = true)]
    public async Task Elected_owner_answers_arp_and_ndp_and_a_killed_owner_is_replaced()
    {
        await using var lab = await L2Lab.CreateAsync(speakers: 3, output: output.WriteLine);
        try
        {
            await lab.WriteConfigAsync(Resources());
            await lab.StartSpeakersAsync();
            var order = ElectionOrder(lab.Nodes);
            var (owner, next) = (order[0], order[1]);

            var macs = await Wait.ForAsync("an ARP answer for " + Vip, TimeSpan.FromSeconds(15),
                () => lab.ArpingAsync(L2Lab.ClientRole, "eth0", Vip), m => m.Count > 0, Show);
            Assert.Equal([owner.Mac], macs.Distinct());
            Assert.Equal(owner.Mac, await lab.NdiscAsync(L2Lab.ClientRole, "eth0", Vip6));
            // The speakers agree; on a loaded machine one may have taken the address for a moment while a heartbeat was late.
            await Wait.ForAsync("only " + owner.NodeName + " answering in /status", TimeSpan.FromSeconds(15),
                () => NodesAnsweringAsync(lab, Vip), nodes => nodes.SequenceEqual([owner.NodeName]), nodes => string.Join(", ", nodes));
            // It says when its last gratuitous ARP went out (recorded just after the frames, hence the wait).
            await Wait.ForAsync("the owner's last gratuitous ARP in /status", TimeSpan.FromSeconds(15),
                async () => System.Text.Json.Nodes.JsonNode.Parse((await lab.SpeakerOf(owner).GetAsync("/status")).EnsureSuccess().StandardOutput)!["l2"]!["gratuitousSentAt"]?[Vip],
                sentAt => sentAt is not null, sentAt => sentAt?.ToJsonString() ?? "none");

            // The client's kernel learns the owner, then the owner dies; the next node's gratuitous ARP must move the entry.
            await lab.ResolveFromClientAsync(Vip);
            Assert.Equal(owner.Mac, await Wait.ForAsync("neighbour entry", TimeSpan.FromSeconds(3), () => lab.ClientNeighbourAsync(Vip), m => m is not null));
            // Past the kernel's neighbour lock time (1 s, counted from the update just observed), as in a steady state.
            // Not an absence check and not a bound: a delay only ever lasts longer, so load cannot make it too short.
            await Task.Delay(TimeSpan.FromSeconds(1.2));
            var clock = Stopwatch.StartNew();
            await lab.SpeakerOf(owner).KillAsync();
            await Wait.ForAsync("neighbour entry moved to " + next.NodeName, TimeSpan.FromSeconds(5),
                () => lab.ClientNeighbourAsync(Vip), m => m == next.Mac, pollInterval: FailoverPoll);
            var failover = clock.Elapsed;
            output.WriteLine($"failover {owner.NodeName} -> {next.NodeName}: client neighbour entry moved after {failover.TotalSeconds.ToString("F3", CultureInfo.InvariantCulture)} s");

            Assert.Equal([next.Mac], (await lab.ArpingAsync(L2Lab.ClientRole, "eth0", Vip)).Distinct());
            Assert.Equal(next.Mac, await Wait.ForAsync("NDP answer from " + next.NodeName, TimeSpan.FromSeconds(2),
                () => lab.NdiscAsync(L2Lab.ClientRole, "eth0", Vip6), m => m == next.Mac));
            var metrics = (await lab.SpeakerOf(next).GetAsync("/metrics")).EnsureSuccess().StandardOutput;
            Assert.Contains("metallb_layer2_gratuitous_sent{ip=\"203.0.113.10\"}", metrics, StringComparison.Ordinal);
            Assert.Contains("metallb_layer2_responses_sent{ip=\"203.0.113.10\"}", metrics, StringComparison.Ordinal);
            Assert.Contains("metallb_speaker_announced{ip=\"203.0.113.10\",node=\"" + next.NodeName + "\",protocol=\"layer2\",service=\"default/web\"} 1", metrics, StringComparison.Ordinal);
            lab.Passed();
        }
        catch
        {
            WriteLogs(lab);
            throw;
        }
    }

    [NetnsFact(NeedsSpeaker = true)]
    public async Task A_gracefully_stopped_owner_releases_and_the_next_node_takes_over()
    {
        await using var lab = await L2Lab.CreateAsync(speakers: 2, output: output.WriteLine);
        try
        {
            await lab.WriteConfigAsync(Resources());
            await lab.StartSpeakersAsync();
            var order = ElectionOrder(lab.Nodes);
            var (owner, next) = (order[0], order[1]);
            await Wait.ForAsync("an ARP answer from " + owner.NodeName, TimeSpan.FromSeconds(15),
                () => lab.ArpingAsync(L2Lab.ClientRole, "eth0", Vip), m => m.Contains(owner.Mac), Show);
            await lab.ResolveFromClientAsync(Vip);
            await Wait.ForAsync("neighbour entry", TimeSpan.FromSeconds(3), () => lab.ClientNeighbourAsync(Vip), m => m == owner.Mac);
            await Task.Delay(TimeSpan.FromSeconds(1.2)); // past the neighbour lock time, as above

            var clock = Stopwatch.StartNew();
            Assert.Equal(0, await lab.SpeakerOf(owner).TerminateAsync(TimeSpan.FromSeconds(10)));
            await Wait.ForAsync("neighbour entry moved to " + next.NodeName, TimeSpan.FromSeconds(3),
                () => lab.ClientNeighbourAsync(Vip), m => m == next.Mac, pollInterval: FailoverPoll);
            output.WriteLine($"graceful handover: {clock.Elapsed.TotalSeconds.ToString("F3", CultureInfo.InvariantCulture)} s");
            Assert.Contains($"Released {Vip}", lab.SpeakerOf(owner).ReadLog(), StringComparison.Ordinal);
            var nextLog = lab.SpeakerOf(next).ReadLog();
            Assert.Contains("Speaker node-", nextLog, StringComparison.Ordinal);
            Assert.Contains(" left", nextLog, StringComparison.Ordinal);
            lab.Passed();
        }
        catch
        {
            WriteLogs(lab);
            throw;
        }
    }

    [NetnsFact(NeedsSpeaker = true)]
    public async Task An_interface_restriction_answers_on_that_interface_only()
    {
        await using var lab = await L2Lab.CreateAsync(speakers: 1, secondSegment: true, output: output.WriteLine);
        var node = lab.Nodes[0];
        try
        {
            await lab.WriteConfigAsync(Resources("{ interfaces: [eth1] }"));
            await lab.StartSpeakersAsync();
            var macs = await Wait.ForAsync("an ARP answer on eth1", TimeSpan.FromSeconds(15),
                () => lab.ArpingAsync(L2Lab.ClientRole, "eth1", Vip), m => m.Count > 0, Show);
            Assert.Equal([node.Mac1!], macs.Distinct());
            Assert.Empty(await lab.ArpingAsync(L2Lab.ClientRole, "eth0", Vip, count: 3));
            Assert.Null(await lab.NdiscAsync(L2Lab.ClientRole, "eth0", Vip6));
            Assert.Equal(node.Mac1, await lab.NdiscAsync(L2Lab.ClientRole, "eth1", Vip6));
            lab.Passed();
        }
        catch
        {
            WriteLogs(lab);
            throw;
        }
    }

    [NetnsFact(NeedsSpeaker = true)]
    public async Task An_address_already_held_by_another_host_is_reported_as_a_conflict_and_not_answered()
    {
        await using var lab = await L2Lab.CreateAsync(speakers: 1, output: output.WriteLine);
        var node = lab.Nodes[0];
        try
        {
            await lab.AddHostAsync("observer", 2);
            (await Command.RunAsync("ip", "-n", lab.ClientNamespace, "addr", "add", $"{Vip}/32", "dev", "eth0")).EnsureSuccess();
            var clientMac = await L2Lab.MacOfAsync(lab.ClientNamespace, "eth0");
            await lab.WriteConfigAsync(Resources());
            await lab.StartSpeakersAsync();
            var speaker = lab.SpeakerOf(node);

            await Wait.ForAsync("the conflict in the speaker log", TimeSpan.FromSeconds(15), () => Task.FromResult(speaker.ReadLog()),
                log => log.Contains($"Address conflict: {Vip} is already used by {clientMac}", StringComparison.Ordinal), _ => "no conflict logged");
            var answers = await lab.ArpingAsync("observer", "eth0", Vip, count: 3);
            Assert.NotEmpty(answers);
            Assert.All(answers, mac => Assert.Equal(clientMac, mac));
            var metrics = (await speaker.GetAsync("/metrics")).EnsureSuccess().StandardOutput;
            Assert.Contains("bgplb_layer2_address_conflict{ip=\"203.0.113.10\"} 1", metrics, StringComparison.Ordinal);
            Assert.Contains("bgplb_service_unannounced{reason=\"AddressConflict\",service=\"default/web\"} 1", metrics, StringComparison.Ordinal);
            // /status names the conflict, the other host's MAC and that the address is not announced.
            var status = System.Text.Json.Nodes.JsonNode.Parse((await speaker.GetAsync("/status")).EnsureSuccess().StandardOutput)!;
            var conflict = status["l2"]!["conflicts"]!.AsArray().Single()!;
            Assert.Equal((Vip, clientMac), (conflict["address"]!.GetValue<string>(), conflict["otherMac"]!.GetValue<string>()));
            var address = status["services"]!.AsArray().SelectMany(s => s!["addresses"]!.AsArray()).Single(a => a!["address"]!.GetValue<string>() == Vip)!;
            Assert.Equal(("AddressConflict", false), (address["l2"]!["reason"]!.GetValue<string>(), address["l2"]!["announced"]!.GetValue<bool>()));
            // The IPv6 address has no other holder: it is announced normally.
            Assert.Equal(node.Mac, await Wait.ForAsync("NDP answer for " + Vip6, TimeSpan.FromSeconds(5),
                () => lab.NdiscAsync("observer", "eth0", Vip6), m => m is not null));

            // bgplb explain names the conflict and the other host; once that host lets the address go, the speaker's next
            // probe finds it free, answers, and explain holds.
            Task<CommandResult> ExplainAsync() =>
                BgplbCli.RunInNamespaceAsync(node.Namespace, "explain", "default/web", "--config", lab.ConfigDirectory, "--speaker", "http://127.0.0.1:7474");
            var conflicted = await ExplainAsync();
            output.WriteLine(conflicted.StandardOutput);
            Assert.True(conflicted.ExitCode == 1, conflicted.StandardOutput + conflicted.StandardError);
            Assert.Contains("FAILED at step 4 (nodes)", conflicted.StandardOutput, StringComparison.Ordinal);
            Assert.Contains("reason: AddressConflict", conflicted.StandardOutput, StringComparison.Ordinal);
            Assert.Contains($"no node announces {Vip}: {node.NodeName}: host {clientMac} also answers for the address on eth0", conflicted.StandardOutput, StringComparison.Ordinal);

            (await Command.RunAsync("ip", "-n", lab.ClientNamespace, "addr", "del", $"{Vip}/32", "dev", "eth0")).EnsureSuccess();
            var resolved = await Wait.ForAsync("explain default/web to hold", TimeSpan.FromSeconds(30), ExplainAsync, r => r.ExitCode == 0,
                r => r.StandardOutput + r.StandardError);
            output.WriteLine(resolved.StandardOutput);
            Assert.Equal(node.Mac, (await lab.ArpingAsync("observer", "eth0", Vip, count: 1)).Single());
            lab.Passed();
        }
        catch
        {
            WriteLogs(lab);
            throw;
        }
    }
}
