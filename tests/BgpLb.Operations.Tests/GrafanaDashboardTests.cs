using System.Text.Json.Nodes;

namespace BgpLb.Operations.Tests;

/// <summary>config/grafana/bgplb-dashboard.json: every query is valid PromQL and the dashboard covers what operators watch.</summary>
public sealed class GrafanaDashboardTests
{
    private static readonly JsonObject Dashboard =
        JsonNode.Parse(File.ReadAllText(Path.Combine(Yaml.RepositoryRoot(), "config", "grafana", "bgplb-dashboard.json")))!.AsObject();

    private static List<JsonObject> Panels() => [.. Dashboard["panels"]!.AsArray().Cast<JsonObject>()];

    private static List<string> Queries() =>
        [.. Panels().SelectMany(p => p["targets"]?.AsArray() ?? []).Select(t => t!["expr"]!.GetValue<string>())];

    [Fact]
    public async Task Every_query_is_valid_promql()
    {
        var promtool = Tool.Find("promtool", "prometheus");
        using var directory = new Tool.TempDirectory();
        // promtool parses expressions in rule files: one recording rule per query, Grafana's variables filled in.
        var rules = new JsonArray([.. Queries().Select((q, i) => (JsonNode)new JsonObject
        {
            ["record"] = $"dashboard:query{i}",
            ["expr"] = q.Replace("$__rate_interval", "2m", StringComparison.Ordinal).Replace("$instance", ".*", StringComparison.Ordinal),
        })]);
        var file = new JsonObject { ["groups"] = new JsonArray(new JsonObject { ["name"] = "dashboard", ["rules"] = rules }) };
        await File.WriteAllTextAsync(Path.Combine(directory.Path, "dashboard.yaml"), file.ToJsonString());

        var check = await Tool.RunAsync(promtool, ["check", "rules", "dashboard.yaml"], directory.Path);

        Assert.True(check.ExitCode == 0, check.Output + check.Error);
        Assert.Contains($"SUCCESS: {Queries().Count} rules found", check.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Panels_have_unique_ids_use_the_datasource_variable_and_cover_what_operators_watch()
    {
        var panels = Panels();
        Assert.Equal(panels.Count, panels.Select(p => p["id"]!.GetValue<int>()).Distinct().Count());
        Assert.All(panels.Where(p => p["type"]!.GetValue<string>() != "row"),
            p => Assert.Equal("${datasource}", p["datasource"]!["uid"]!.GetValue<string>()));

        var queries = Queries();
        Assert.Contains(queries, q => q.StartsWith("metallb_bgp_session_up", StringComparison.Ordinal));
        Assert.Contains(queries, q => q.Contains("metallb_bgp_announced_prefixes_total", StringComparison.Ordinal) && q.Contains("by (instance, peer)", StringComparison.Ordinal));
        Assert.Contains(queries, q => q.Contains("metallb_allocator_addresses_in_use_total", StringComparison.Ordinal) && q.Contains("by (pool)", StringComparison.Ordinal));
        Assert.Contains(queries, q => q.Contains("metallb_speaker_announced{protocol=\"layer2\"", StringComparison.Ordinal));
        Assert.Contains(queries, q => q.StartsWith("metallb_k8s_client_config_stale_bool", StringComparison.Ordinal));
        Assert.Contains(queries, q => q.StartsWith("metallb_bfd_session_up", StringComparison.Ordinal));
    }
}
