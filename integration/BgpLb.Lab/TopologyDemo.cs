using System.Text.Json.Nodes;

namespace BgpLb.Netlab;

/// <summary>
/// <c>bgplb-lab demo-topology FILE</c> (<c>./demo.sh --topology FILE</c>): a containerlab topology run in namespaces
/// (<see cref="TopologyLab"/>). Shows each router's BGP table and kernel routes once every BGP route goes through all the
/// speakers linked to it, and each speaker's L2 answers; with --keep stays up until Ctrl+C. Torn down on exit.
/// </summary>
internal static class TopologyDemo
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(string file, bool keep, CancellationToken stop)
    {
        ClabTopology topology;
        try
        {
            topology = ClabTopology.Read(file);
        }
        catch (ClabTopologyException e)
        {
            await Console.Error.WriteLineAsync($"bgplb-lab demo-topology: {e.Message}");
            return 2;
        }

        Console.WriteLine($"== topology {topology.Name} ({topology.File}): {topology.Nodes.Count} nodes, {topology.Links.Count} links, in network namespaces");
        try
        {
            await using var lab = await TopologyLab.StartAsync(topology, line => Console.WriteLine("   " + line));
            await ShowAsync(lab).WaitAsync(stop);
            if (keep)
            {
                Console.WriteLine($"== lab is up (ip netns list | grep bgplb-{topology.TestName}-); Ctrl+C tears it down");
                try
                {
                    await Task.Delay(System.Threading.Timeout.Infinite, stop);
                }
                catch (OperationCanceledException)
                {
                }
            }

            Console.WriteLine("== tearing down: SIGTERM to the speakers (Cease to every peer), then every process killed by PID and the namespaces deleted");
            foreach (var (name, speaker) in lab.Speakers)
            {
                Console.WriteLine($"   {name}: {speaker} exited with {await speaker.TerminateAsync(TimeSpan.FromSeconds(10))}");
            }

            lab.Passed();
            return 0;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            Console.WriteLine("== interrupted: every process killed, namespaces deleted");
            return 130;
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or ProcessExitedException)
        {
            // The lab is torn down by then; its files stay (the path is printed above) with every process's log.
            await Console.Error.WriteLineAsync($"bgplb-lab demo-topology: {e.Message}");
            return 1;
        }
    }

    private static async Task ShowAsync(TopologyLab lab)
    {
        foreach (var (name, speaker) in lab.Speakers)
        {
            await speaker.WaitUntilReadyAsync(Timeout);
            Console.WriteLine($"== {name}: bgplb-speaker ready (/readyz)");
        }

        foreach (var (name, router) in lab.Routers)
        {
            var routes = await lab.WaitForEcmpRoutesAsync(name, Timeout);
            Console.WriteLine($"== {name} ({router.Kind}): every BGP route goes through the {(await lab.SpeakerNextHopsOfAsync(name)).Count} speakers linked to it");
            Console.WriteLine(router switch
            {
                FrrRouter frr => $"== {name}: vtysh -c 'show ip route bgp'\n" + await frr.VtyshAsync("show ip route bgp"),
                BirdRouter bird => $"== {name}: birdc show route\n" + await bird.BirdcAsync("show", "route"),
                _ => string.Empty,
            });
            Console.WriteLine($"== {name}: kernel table ({lab.NamespaceOf(name)}), BGP routes");
            foreach (var route in routes)
            {
                Console.WriteLine($"   {route}");
            }
        }

        if (lab.Speakers.Count == 0)
        {
            return;
        }

        // L2: once some speaker answers, every plain host on a bridge asks for each answered address.
        var answered = await Wait.ForAsync("a speaker answering ARP for an address (L2), or L2 off everywhere", Timeout, () => L2AnswersAsync(lab),
            answers => answers.Count == 0 || answers.Values.Any(a => a.Count > 0));
        foreach (var (name, addresses) in answered)
        {
            Console.WriteLine($"== {name}: answers ARP/NDP for [{string.Join(", ", addresses)}] (MAC {string.Join(", ", await Task.WhenAll(BridgeInterfaces(lab, name).Select(i => lab.MacOfAsync(name, i))))})");
        }

        foreach (var host in lab.Topology.Nodes.Where(n => n.Role == ClabRole.Host))
        {
            foreach (var device in BridgeInterfaces(lab, host.Name))
            {
                foreach (var address in answered.Values.SelectMany(a => a).Distinct())
                {
                    var arping = await Command.InNamespaceAsync(lab.NamespaceOf(host.Name), "arping", "-c", "1", "-W", "1", "-i", device, address);
                    Console.WriteLine($"== {host.Name}: arping -i {device} {address}\n{arping.StandardOutput.Trim()}");
                }
            }
        }
    }

    /// <summary>The addresses each L2-enabled speaker answers for, from its /status; empty when no speaker runs L2.</summary>
    private static async Task<IReadOnlyDictionary<string, IReadOnlyList<string>>> L2AnswersAsync(TopologyLab lab)
    {
        var answers = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var (name, speaker) in lab.Speakers)
        {
            var l2 = JsonNode.Parse((await speaker.GetAsync("/status")).EnsureSuccess().StandardOutput)?["l2"];
            if (l2?["enabled"]?.GetValue<bool>() == true)
            {
                answers[name] = [.. l2["answering"]!.AsArray().Select(a => a!.GetValue<string>())];
            }
        }

        return answers;
    }

    /// <summary>A node's interfaces on links to a bridge.</summary>
    private static IEnumerable<string> BridgeInterfaces(TopologyLab lab, string node) =>
        lab.Topology.LinksOf(node).Where(l => lab.Topology.Node(l.Far.Node).Role == ClabRole.Bridge).Select(l => l.Near.Interface);
}
