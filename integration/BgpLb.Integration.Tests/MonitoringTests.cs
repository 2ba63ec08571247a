using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using BgpLb.Integration.Tests.Harness;
using BgpLb.Integration.Tests.L2;
using BgpLb.Netlab;
using Xunit.Abstractions;
using static BgpLb.Integration.Tests.SpeakerLab;

namespace BgpLb.Integration.Tests;

/// <summary>
/// Every metric the alerts (config/prometheus) and the dashboard (config/grafana) query is exported by a real
/// bgplb-speaker or bgplb-controller: a speaker with an Established BGP session and BFD to BIRD, a controller with a
/// pool and a Service, and an L2 speaker that finds its address held by another host.
/// </summary>
[Collection(LabTestGroup.Name)]
public sealed partial class MonitoringTests(ITestOutputHelper output)
{
    private static readonly string Root = BuiltExecutable.RepositoryRoot();

    /// <summary>Metric names in the alert expressions and the dashboard's queries (ours all start metallb_ or bgplb_).</summary>
    private static SortedSet<string> MonitoredMetrics()
    {
        var rules = File.ReadAllLines(Path.Combine(Root, "config", "prometheus", "prometheus-rule.yaml"))
            .Select(l => l.Trim()).Where(l => l.StartsWith("expr:", StringComparison.Ordinal));
        var dashboard = JsonNode.Parse(File.ReadAllText(Path.Combine(Root, "config", "grafana", "bgplb-dashboard.json")))!;
        var queries = dashboard["panels"]!.AsArray().SelectMany(p => p!["targets"]?.AsArray() ?? []).Select(t => t!["expr"]!.GetValue<string>())
            .Concat(dashboard["templating"]!["list"]!.AsArray().Select(v => v!["definition"]?.GetValue<string>() ?? ""));
        return new(rules.Concat(queries).SelectMany(e => MetricName().Matches(e).Select(m => m.Value)), StringComparer.Ordinal);
    }

    /// <summary>The metric names with at least one sample in a /metrics page.</summary>
    private static IEnumerable<string> SampleNames(string page) =>
        page.Split('\n').Where(l => l.Length > 0 && l[0] != '#').Select(l => l[..l.IndexOfAny(['{', ' '])]);

    [NetnsFact(NeedsSpeaker = true)]
    public async Task Every_metric_the_alerts_and_the_dashboard_query_is_exported_by_the_daemons()
    {
        var wanted = MonitoredMetrics();
        Assert.Contains("metallb_bgp_session_up", wanted);
        Assert.Contains("metallb_allocator_addresses_total", wanted);
        var exported = new SortedSet<string>(StringComparer.Ordinal);

        await using (var lab = await Lab.CreateAsync("mon-bgp", 1, output.WriteLine))
        {
            var node = lab.Nodes[0];
            var router = await Router.StartAsync(RouterKind.Bird, lab, lab.RouterNamespace, "router",
                lab.RouterOptionsFor(SpeakerAs, holdTime: 30, bfd: BfdTimers.Fast));
            var speaker = (await StartSpeakersAsync(lab, n => PeerDocuments(lab, n, SpeakerAs, holdTime: "30s", bfd: true), WebService(lab))).Single();
            await router.WaitForKernelRouteAsync("203.0.113.10/32", SessionTimeout, r => r is not null);
            await router.WaitForBfdUpAsync(node.Address, BfdTimers.Fast, SessionTimeout);

            var controllerConfig = Path.Combine(lab.Directory, "controller-config");
            MetalLbManifests.Write(controllerConfig, "config.yaml",
                [MetalLbManifests.IpAddressPool("pool", "203.0.113.10-203.0.113.19"), MetalLbManifests.Service("web", Service4)]);
            var controller = await ControllerProcess.StartAsync(lab, lab.RouterNamespace, controllerConfig, Path.Combine(lab.Directory, "state.json"), grpcListen: "127.0.0.1:7473");
            await controller.WaitUntilReadyAsync(SessionTimeout);

            exported.UnionWith(SampleNames((await speaker.GetAsync("/metrics")).EnsureSuccess().StandardOutput));
            exported.UnionWith(SampleNames((await controller.GetAsync("/metrics")).EnsureSuccess().StandardOutput));
            lab.Passed();
        }

        await using (var lab = await L2Lab.CreateAsync(speakers: 1, output: output.WriteLine))
        {
            // The client already holds the IPv4 address: a conflict. The IPv6 address is announced (an L2 owner).
            (await Command.RunAsync("ip", "-n", lab.ClientNamespace, "addr", "add", $"{L2Tests.Vip}/32", "dev", "eth0")).EnsureSuccess();
            await lab.WriteConfigAsync(L2Tests.Resources());
            await lab.StartSpeakersAsync();
            var speaker = lab.SpeakerOf(lab.Nodes[0]);
            // The conflicting address is announced by no node: the unannounced gauge says so (reason AddressConflict).
            var page = await Wait.ForAsync("the conflict, the unannounced Service and the IPv6 owner in /metrics", TimeSpan.FromSeconds(15),
                async () => (await speaker.GetAsync("/metrics")).EnsureSuccess().StandardOutput,
                p => p.Contains("bgplb_layer2_address_conflict{", StringComparison.Ordinal) && p.Contains("protocol=\"layer2\"", StringComparison.Ordinal)
                    && p.Contains("bgplb_service_unannounced{", StringComparison.Ordinal),
                p => string.Join('\n', p.Split('\n').Where(l => l.Contains("layer2", StringComparison.Ordinal) || l.Contains("unannounced", StringComparison.Ordinal))));
            exported.UnionWith(SampleNames(page));
            lab.Passed();
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"monitored: {string.Join(", ", wanted)}"));
        Assert.Empty(wanted.Except(exported));
    }

    [GeneratedRegex(@"\b(?:metallb|bgplb)_[a-z0-9_]+")]
    private static partial Regex MetricName();
}
