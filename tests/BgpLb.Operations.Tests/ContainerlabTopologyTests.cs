using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace BgpLb.Operations.Tests;

/// <summary>
/// examples/containerlab/*.clab.yml against containerlab's own JSON schema (shared/reference/containerlab, beside the
/// repository; not copied into it), read as JSON by the YAML reader the other operations tests use.
/// </summary>
public sealed class ContainerlabTopologyTests
{
    private static readonly string Examples = Path.Combine(Yaml.RepositoryRoot(), "examples", "containerlab");

    private static readonly Lazy<JsonSchema> Schema = new(() =>
    {
        var path = Path.GetFullPath(Path.Combine(Yaml.RepositoryRoot(), "..", "shared", "reference", "containerlab", "clab.schema.json"));
        return File.Exists(path)
            ? JsonSchema.FromFile(path)
            : throw new FileNotFoundException($"containerlab's schema is expected at {path} (shared/ beside the repository)", path);
    });

    public static TheoryData<string> Topologies() =>
        [.. Directory.EnumerateFiles(Examples, "*.clab.yml").Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(Topologies))]
    public void Topology_file_validates_against_the_containerlab_schema(string file)
    {
        var errors = Validate(Yaml.Documents(Path.Combine(Examples, file)).Single());
        Assert.True(errors.Count == 0, $"{file}:\n{string.Join('\n', errors)}");
    }

    /// <summary>The schema check fails where containerlab would: a misspelt node field, a kind containerlab does not know, no topology.</summary>
    [Theory]
    [InlineData("""{"name": "t", "topology": {"nodes": {"a": {"kind": "linux", "imagee": "alpine:3.20"}}}}""", "imagee")]
    [InlineData("""{"name": "t", "topology": {"nodes": {"a": {"kind": "frr"}}}}""", "/topology/nodes/a/kind")]
    [InlineData("""{"name": "t"}""", "topology")]
    public void The_schema_check_rejects_what_containerlab_rejects(string topology, string expected)
    {
        var errors = Validate(JsonNode.Parse(topology));
        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    private static List<string> Validate(JsonNode? topology)
    {
        var instance = JsonSerializer.SerializeToElement(topology);
        var results = Schema.Value.Evaluate(instance, new EvaluationOptions { OutputFormat = OutputFormat.List });
        return results.IsValid
            ? []
            : [.. (results.Details ?? []).Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Key}: {e.Value}"))];
    }
}
