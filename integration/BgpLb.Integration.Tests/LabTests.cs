using BgpLb.Netlab;
using System.Globalization;
using System.Net;
using BgpLb.Integration.Tests.Harness;
using Xunit.Abstractions;

namespace BgpLb.Integration.Tests;

/// <summary>The harness's own guarantees: real PIDs, complete teardown, narrow leftover sweep.</summary>
[Collection(LabTestGroup.Name)]
public sealed class LabTests(ITestOutputHelper output)
{
    [NetnsFact]
    public async Task Process_pid_is_the_daemon_itself_not_the_ip_wrapper()
    {
        await using var lab = await Lab.CreateAsync("pid", 0, output.WriteLine);
        var router = await Router.StartAsync(RouterKind.Bird, lab, lab.RouterNamespace, "router", new RouterOptions(IPAddress.Parse("198.18.255.1"), []));
        var process = router.BgpProcess;

        Assert.Equal("/usr/sbin/bird", process.Executable());
        var parent = File.ReadLines($"/proc/{process.Pid}/status").Single(l => l.StartsWith("PPid:", StringComparison.Ordinal)).Split('\t')[1];
        Assert.Equal(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), parent);
        Assert.Contains("ready", await ((BirdRouter)router).BirdcAsync("show", "status"), StringComparison.Ordinal);
        lab.Passed();
    }

    [NetnsFact]
    public async Task Teardown_kills_every_daemon_and_deletes_every_namespace()
    {
        var lab = await Lab.CreateAsync("teardown", 2, output.WriteLine);
        var routerId = IPAddress.Parse("198.18.255.1");
        await Router.StartAsync(RouterKind.Bird, lab, lab.RouterNamespace, "router", new RouterOptions(routerId, []));
        await Router.StartAsync(RouterKind.Frr, lab, lab.Nodes[0].Namespace, "frr", new RouterOptions(routerId, []));
        await Router.StartAsync(RouterKind.Gobgp, lab, lab.Nodes[1].Namespace, "gobgp", new RouterOptions(routerId, []));
        var pids = lab.Processes.Select(p => p.Pid).ToList();
        var namespaces = lab.Namespaces.ToList();
        Assert.Equal(4, pids.Count);
        Assert.Equal(3, namespaces.Count);
        Assert.All(pids, pid => Assert.True(Directory.Exists($"/proc/{pid}")));

        lab.Passed();
        await lab.DisposeAsync();

        Assert.All(pids, pid => Assert.False(Directory.Exists($"/proc/{pid}"), $"pid {pid} survived teardown"));
        Assert.Empty((await Lab.ListNamespacesAsync()).Intersect(namespaces));
        Assert.False(Directory.Exists(FrrRouter.RunDirectory(lab.Nodes[0].Namespace)));
        Assert.False(Directory.Exists(lab.Directory));
    }

    [NetnsFact]
    public async Task A_daemon_failing_at_start_is_reported_with_its_log_and_the_lab_still_tears_down()
    {
        var lab = await Lab.CreateAsync("badstart", 1, output.WriteLine);
        var config = lab.WriteFile("broken.bird.conf", "protocol bgp {\n");

        var failure = await Assert.ThrowsAsync<ProcessExitedException>(async () =>
        {
            var bird = await lab.StartProcessAsync(lab.RouterNamespace, "broken", "bird", "-f", "-c", config, "-s", Path.Combine(lab.Directory, "broken.ctl"));
            await bird.WaitUntilReadyAsync("never ready", TimeSpan.FromSeconds(20), () => Task.FromResult(false));
        });
        // The message carries BIRD's own complaint, e.g. "broken.bird.conf:2:1 syntax error".
        Assert.Contains("broken.bird.conf:", failure.Message, StringComparison.Ordinal);

        var namespaces = lab.Namespaces.ToList();
        lab.Passed();
        await lab.DisposeAsync();
        Assert.Empty((await Lab.ListNamespacesAsync()).Intersect(namespaces));
    }

    [NetnsFact]
    public async Task Sweep_removes_leftovers_of_this_test_from_this_run_or_a_dead_one_only()
    {
        var deadRun = Enumerable.Range(0, 1000).Select(i => 0x3fffff - i).First(pid => !Directory.Exists($"/proc/{pid}")).ToString("x", CultureInfo.InvariantCulture);
        const string liveRun = "1"; // init never ends
        string[] leftovers = [Lab.NamespaceName("sweep", "r"), Lab.NamespaceName("sweep", "n3"), $"bgplb-sweep-{deadRun}-r"];
        string[] others = [$"bgplb-sweep-{liveRun}-r", Lab.NamespaceName("sweep-extra", "r"), Lab.NamespaceName("sweepx", "r"), Lab.NamespaceName("sweep", "other")];
        try
        {
            foreach (var name in leftovers.Concat(others))
            {
                (await Command.RunAsync("ip", "netns", "add", name)).EnsureSuccess();
            }

            await Lab.SweepLeftoversAsync("sweep");

            var remaining = await Lab.ListNamespacesAsync();
            Assert.Empty(remaining.Intersect(leftovers));
            Assert.Equal(others.Order(), remaining.Intersect(others).Order());
        }
        finally
        {
            foreach (var name in (await Lab.ListNamespacesAsync()).Intersect(leftovers.Concat(others)))
            {
                await Command.RunAsync("ip", "netns", "del", name);
            }
        }
    }

    [NetnsFact]
    public async Task Nodes_reach_the_router_over_both_address_families_and_carry_extra_addresses()
    {
        await using var lab = await Lab.CreateAsync("links", 2, output.WriteLine);
        var node = lab.Nodes[1];
        await Lab.AddAddressAsync(node, "203.0.113.77/32");

        Assert.Equal(IPAddress.Parse("198.18.0.6"), node.Address);
        Assert.Equal(IPAddress.Parse("2001:db8:ffff:2::1"), node.RouterAddress6);
        // ARP and neighbour discovery answered across the veth pair prove both links are up and addressed.
        (await Command.InNamespaceAsync(lab.RouterNamespace, "arping", "-c", "1", "-w", "2", "-i", node.RouterInterface, node.Address.ToString())).EnsureSuccess();
        (await Command.InNamespaceAsync(lab.RouterNamespace, "ndisc6", "-1", "-w", "2000", node.Address6.ToString(), node.RouterInterface)).EnsureSuccess();
        // And the other node's address is not on this link: the probe must be able to fail.
        Assert.False((await Command.InNamespaceAsync(lab.RouterNamespace, "arping", "-c", "1", "-w", "1", "-i", node.RouterInterface, lab.Nodes[0].Address.ToString())).Succeeded);
        var addresses = (await Command.RunAsync("ip", "-n", node.Namespace, "-4", "-o", "addr", "show", "dev", "lo")).EnsureSuccess().StandardOutput;
        Assert.Contains("203.0.113.77/32", addresses, StringComparison.Ordinal);
        lab.Passed();
    }

    [Fact]
    public async Task Lab_rejects_test_names_that_would_break_namespace_or_sweep_patterns()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Lab.CreateAsync("Upper", 1));
        await Assert.ThrowsAsync<ArgumentException>(() => Lab.CreateAsync("has space", 1));
        await Assert.ThrowsAsync<ArgumentException>(() => Lab.CreateAsync(new string('a', 25), 1));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Lab.CreateAsync("ok", 61));
    }
}
