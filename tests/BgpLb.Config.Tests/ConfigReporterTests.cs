using Microsoft.Extensions.Logging;
using static BgpLb.Config.Tests.TestConfig;

namespace BgpLb.Config.Tests;

public sealed class ConfigReporterTests : IDisposable
{
    private readonly ConfigDirectory _directory = new();
    private readonly ListLogger<ConfigReporter> _logger = new();
    private readonly ConfigReporter _reporter;

    public ConfigReporterTests() => _reporter = new ConfigReporter(_logger);

    public void Dispose() => _directory.Dispose();

    private void Apply(params (string File, string Yaml)[] files)
    {
        _directory.Apply(files);
        _reporter.Report(_directory.State, _directory.LastDelta!);
    }

    private List<string> Lines(int eventId) => [.. _logger.Entries.Where(e => e.Id.Id == eventId).Select(e => e.Text)];

    private const string Deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n---\n";

    /// <summary>Selects every pool, so that no pool is left unadvertised (a warning of its own).</summary>
    private static readonly string AllPools = Advertisement("all", "{}");

    [Fact]
    public void Each_new_problem_is_logged_once_on_one_line()
    {
        Apply(("a.yaml", Pool("p", "[203.0.113.0/28]") + AllPools));
        Assert.DoesNotContain(_logger.Entries, e => e.Level >= LogLevel.Warning);

        Apply(("a.yaml", Pool("p", "[]") + Deployment + AllPools));
        var error = Assert.Single(_logger.Entries, e => e.Level == LogLevel.Error);
        Assert.Equal(3001, error.Id.Id);
        Assert.Contains($"{_directory.PathOf("a.yaml")}:1: IPAddressPool metallb-system/p: spec.addresses: the pool has no addresses", error.Text, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Text);
        var warning = Assert.Single(_logger.Entries, e => e.Level == LogLevel.Warning);
        Assert.Equal(3002, warning.Id.Id);
        Assert.Contains("Deployment", warning.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Same_problems_again_are_not_logged_again()
    {
        Apply(("a.yaml", Pool("p", "[]") + Deployment + AllPools));
        Assert.Single(Lines(3001));

        // Another object appears: the problems are recomputed but none of them is new.
        Apply(("a.yaml", Pool("p", "[]") + Deployment + AllPools), ("b.yaml", Pool("q", "[198.51.100.0/28]")));
        Assert.Single(Lines(3001));
        Assert.Single(Lines(3002));

        // A new problem next to the old ones: only the new one is logged.
        Apply(("a.yaml", Pool("p", "[]") + Deployment + AllPools), ("b.yaml", Pool("q", "[198.51.100.0/33]")));
        Assert.Equal(2, Lines(3001).Count);
        Assert.Contains("spec.addresses[0]", Lines(3001)[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Problem_that_went_away_and_came_back_is_logged_again()
    {
        Apply(("a.yaml", Deployment + Node("n1")));
        Apply(("a.yaml", Node("n1")));
        Apply(("a.yaml", Deployment + Node("n1")));
        Assert.Equal(2, Lines(3002).Count);
        Assert.Equal(Lines(3002)[0], Lines(3002)[1]);
    }

    [Fact]
    public void Summary_is_logged_when_the_configuration_or_its_problems_change()
    {
        Apply(("a.yaml", Pool("p", "[203.0.113.0/28]")));
        Assert.Single(Lines(3003));
        Assert.Contains("1 pools, 0 peers", Lines(3003)[0], StringComparison.Ordinal);

        // A Service changes nothing of the configuration.
        Apply(("a.yaml", Pool("p", "[203.0.113.0/28]")), ("s.yaml", LoadBalancer("web")));
        Assert.Single(Lines(3003));

        Apply(("a.yaml", Pool("p", "[203.0.113.0/28]") + Peer("r", GoodPeerSpec) + Pool("bad", "[]")), ("s.yaml", LoadBalancer("web")));
        Assert.Equal(2, Lines(3003).Count);
        Assert.Contains("1 pools, 1 peers, 0 BGP advertisements, 0 L2 advertisements, 1 errors", Lines(3003)[1], StringComparison.Ordinal);
    }

    [Fact]
    public void A_pool_that_no_advertisement_selects_is_a_warning_naming_it_logged_once_and_the_configuration_stays_valid()
    {
        Apply(("a.yaml", Pool("p", "[203.0.113.0/28]") + Pool("spare", "[198.51.100.0/28]") + Advertisement("only-p", "ipAddressPools: [p]")));
        var warning = Assert.Single(_directory.State.Problems);
        Assert.Equal((ConfigSeverity.Warning, new ResourceKey("IPAddressPool", Ns, "spare")), (warning.Severity, warning.Resource));
        Assert.Contains("no BGPAdvertisement or L2Advertisement selects pool 'spare'", warning.Message, StringComparison.Ordinal);
        Assert.False(_directory.State.HasErrors);
        Assert.Equal(2, _directory.State.Config.Pools.Length);
        Assert.Single(Lines(3002));

        // Unrelated change: not logged again. Selected by an L2Advertisement's pool selector: the warning goes.
        Apply(("a.yaml", Pool("p", "[203.0.113.0/28]") + Pool("spare", "[198.51.100.0/28]") + Advertisement("only-p", "ipAddressPools: [p]")),
            ("s.yaml", LoadBalancer("web")));
        Assert.Single(Lines(3002));
        Apply(("a.yaml", Pool("p", "[203.0.113.0/28]") + Pool("spare", "[198.51.100.0/28]") + Advertisement("only-p", "ipAddressPools: [p]")
            + Crd("L2Advertisement", "l2", "ipAddressPoolSelectors: [{matchLabels: {pool: spare}}]")));
        Assert.Empty(_directory.State.Problems);
    }
}
