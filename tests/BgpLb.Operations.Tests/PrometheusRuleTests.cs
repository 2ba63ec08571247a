using System.Text.Json.Nodes;

namespace BgpLb.Operations.Tests;

/// <summary>config/prometheus/prometheus-rule.yaml: its rule groups pass promtool's checks and unit tests, one test per alert.</summary>
public sealed class PrometheusRuleTests
{
    private static readonly string Monitoring = Path.Combine(Yaml.RepositoryRoot(), "config", "prometheus");

    public static JsonObject RuleSpec() =>
        (JsonObject)((JsonObject)Yaml.Documents(Path.Combine(Monitoring, "prometheus-rule.yaml")).Single()!)["spec"]!;

    public static List<JsonObject> Rules() =>
        [.. RuleSpec()["groups"]!.AsArray().SelectMany(g => g!["rules"]!.AsArray()).Cast<JsonObject>()];

    private static List<string> TestFiles() => [.. Directory.EnumerateFiles(Path.Combine(Monitoring, "tests"), "*.test.yaml").Order(StringComparer.Ordinal)];

    [Fact]
    public async Task Rule_groups_pass_promtool_check_and_unit_tests()
    {
        var promtool = Tool.Find("promtool", "prometheus");
        using var directory = new Tool.TempDirectory();
        // The PrometheusRule's spec is a Prometheus rule file ({groups: [...]}); JSON is YAML.
        await File.WriteAllTextAsync(Path.Combine(directory.Path, "rules.yaml"), RuleSpec().ToJsonString());
        var tests = TestFiles();
        Assert.NotEmpty(tests);
        foreach (var test in tests)
            File.Copy(test, Path.Combine(directory.Path, Path.GetFileName(test)));

        var check = await Tool.RunAsync(promtool, ["check", "rules", "rules.yaml"], directory.Path);
        Assert.True(check.ExitCode == 0, check.Output + check.Error);
        Assert.Contains($"SUCCESS: {Rules().Count} rules found", check.Output, StringComparison.Ordinal);

        var run = await Tool.RunAsync(promtool, ["test", "rules", .. tests.Select(Path.GetFileName)!], directory.Path);
        Assert.True(run.ExitCode == 0, run.Output + run.Error);
    }

    [Fact]
    public void Every_alert_has_a_promtool_test_that_expects_it_to_fire()
    {
        var firing = TestFiles().SelectMany(f => Yaml.Documents(f)).SelectMany(d => d!["tests"]!.AsArray())
            .SelectMany(t => t!["alert_rule_test"]?.AsArray() ?? [])
            .Where(a => a!["exp_alerts"]!.AsArray().Count > 0)
            .Select(a => a!["alertname"]!.GetValue<string>()).ToHashSet(StringComparer.Ordinal);
        var alerts = Rules().Select(r => r["alert"]!.GetValue<string>()).ToList();
        Assert.Equal(
            ["BgpLbBgpSessionDown", "BgpLbBfdSessionDown", "BgpLbBfdSessionFlapping", "BgpLbConfigStale", "BgpLbConfigNotLoaded",
             "BgpLbAddressPoolNearlyExhausted", "BgpLbAddressPoolExhausted", "BgpLbServiceUnannounced", "BgpLbLayer2AddressConflict"],
            alerts);
        Assert.All(alerts, a => Assert.True(firing.Contains(a), $"no promtool test expects {a} to fire"));
    }
}
