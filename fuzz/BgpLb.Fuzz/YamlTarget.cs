using System.Text;
using BgpLb.Config;
using BgpLb.Model;

namespace BgpLb.Fuzz;

/// <summary>
/// Feeds a file's bytes to the manifest reader and the objects it yields to a fresh <see cref="ClusterState"/>, as the
/// configuration directory does (FileStore: the first definition of a key wins). Bad input must end in configuration
/// errors; an exception or allocations beyond <see cref="FuzzTarget.AllocationBudget"/> are findings.
/// </summary>
internal sealed class YamlTarget : FuzzTarget
{
    private const string Origin = "fuzz.yaml";
    private static readonly ConfigOptions Options = new() { WatchFileSystem = false };

    public override string Name => "yaml";

    public override int MaxInputLength => 64 << 10;

    protected override void Run(ReadOnlySpan<byte> input)
    {
        using var file = new MemoryStream(input.ToArray(), writable: false);
        var parsed = ManifestParser.Parse(Origin, file, Options, _ => null);
        if (parsed.Unreadable && parsed.Errors.Count == 0)
            throw new FuzzFindingException("an unreadable file without an error");
        var batch = new ResourceBatch { IsInitial = true };
        batch.Problems[Origin] = [.. parsed.Errors];
        var defined = new HashSet<ResourceKey>();
        foreach (var item in parsed.Objects)
        {
            if (defined.Add(item.Key))
                batch.Changes.Add(new ResourceChange(item.Key, item.Value));
        }
        var state = new ClusterState(Options);
        state.Apply(batch);
        _ = state.Problems;
    }

    /// <summary>The example configurations and manifests of the repository, and the YAML features they do not use.</summary>
    public override IEnumerable<(string Name, byte[] Input)> Seeds()
    {
        var root = RepositoryRoot();
        foreach (var example in Directory.EnumerateDirectories(Path.Combine(root, "examples")).Order(StringComparer.Ordinal))
        {
            foreach (var file in Directory.EnumerateFiles(example, "*.yaml").Order(StringComparer.Ordinal))
                yield return ($"{Path.GetFileName(example)}-{Path.GetFileName(file)}", File.ReadAllBytes(file));
        }
        yield return ("controller-deployment.yaml", File.ReadAllBytes(Path.Combine(root, "config", "controller.yaml")));
        yield return ("anchors-flow-block.yaml", Encoding.UTF8.GetBytes("""
            apiVersion: metallb.io/v1beta1
            kind: IPAddressPool
            metadata: {name: anchored, namespace: metallb-system, labels: &labels {zone: "a", tier: 'web'}}
            spec:
              addresses: [198.51.100.0/28, "2001:db8::/124"]
              autoAssign: true
              serviceAllocation:
                priority: 10
                namespaceSelectors: [{matchLabels: *labels}]
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: web
              namespace: default
              annotations:
                metallb.io/address-pool: anchored
                note: |
                  folded
                  text
            spec: {type: LoadBalancer, ports: [{port: 80, protocol: TCP}]}
            ...
            """));
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(Environment.CurrentDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "BgpLb.sln")))
                return directory.FullName;
        }
        throw new InvalidOperationException("run --write-corpus inside the repository: the YAML seeds are its example files");
    }
}
