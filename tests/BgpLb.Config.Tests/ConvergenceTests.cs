using System.Text;
using CsCheck;

namespace BgpLb.Config.Tests;

/// <summary>
/// The incremental path (one <see cref="FileStore"/> rescanning after every step, its batches applied to one
/// <see cref="ClusterState"/>) ends in the same state as a fresh FileStore and ClusterState reading the directory as it is
/// now: the same Services, endpoint summaries, Nodes, Namespaces, compiled configuration and problems (as text sets).
/// </summary>
/// <remarks>
/// Where "last good" history legitimately differs, the generator does not go (rather than comparing modulo it), so that
/// everything else is compared exactly:
/// <list type="bullet">
/// <item>Every object is of one class in all its versions: always valid (read and compiled in any combination: pools
/// never overlap, peers and advertisements never collide, no references that can dangle into an error), always
/// rejected by validation, or always unreadable (a type error or unknown field). So no edit turns a good version into
/// a bad one, which would keep the good one incrementally but not from scratch.</item>
/// <item>A file gets a YAML syntax error only if it did not exist (or was already broken) at the previous rescan, so no
/// syntax error hides objects that a fresh reader would not see.</item>
/// <item>A key defined in several files is taken from the file that defined it first, from scratch the first in name
/// order. A definition is therefore only added in a file that sorts after every other file defining the key (at the
/// previous rescan and now), which keeps both rules the same.</item>
/// </list>
/// Within these limits a step makes one to three edits (add, edit, move or remove a document; remove, break or rewrite
/// a file unchanged) before the rescan, including invalid objects, keyless documents and duplicates within and across
/// files (half of the additions repeat an object that is already there).
/// </remarks>
public class ConvergenceTests
{
    private static readonly string[] Files = ["a.yaml", "b.yaml", "c.yml", "d.yaml"];

    private static readonly string[] BrokenContents = ["kind: [broken\n", "apiVersion: v1\nkind: Node\nmetadata:\n  name: a\n  name: b\n"];

    private enum Class
    {
        /// <summary>
        /// Read and compiled without errors, alone and with any version of the other valid entries (by design: disjoint
        /// addresses, distinct peers and communities, no localPref, no aliases or Secrets; checked against version 0 of
        /// all the others, and any conflict left would show up as a difference in the property test).
        /// </summary>
        Valid,
        /// <summary>Read, but rejected by validation.</summary>
        Rejected,
        /// <summary>Named, but cannot be read (a type error or an unknown field).</summary>
        Unreadable,
        /// <summary>Defines no object (an unsupported kind, no name).</summary>
        Keyless,
    }

    /// <summary>One object (or keyless document) and the versions it can take; all of one class.</summary>
    private sealed record Entry(ResourceKey? Key, Class Class, string[] Versions);

    private static string Service(string name, string ns, string spec, string metadata = "", string status = "") =>
        $"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {ns}{metadata}}}\nspec: {spec}\n" + (status.Length == 0 ? "" : $"status: {status}\n");

    private static string Slice(string name, string labels, string endpoints) =>
        $"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: {name}, namespace: default, labels: {labels}}}\naddressType: IPv4\nendpoints: {endpoints}\n";

    private static string Node(string name, string labels, string status = "{}") =>
        $"apiVersion: v1\nkind: Node\nmetadata: {{name: {name}, labels: {labels}}}\nstatus: {status}\n";

    private static string Crd(string kind, string name, string spec, string version = "v1beta1", string labels = "{}") =>
        $"apiVersion: metallb.io/{version}\nkind: {kind}\nmetadata: {{name: {name}, namespace: metallb-system, labels: {labels}}}\nspec: {spec}\n";

    private static readonly Entry[] Universe =
    [
        // Always valid.
        new(new ResourceKey("Service", "default", "web"), Class.Valid,
        [
            Service("web", "default", "{type: LoadBalancer, ports: [{port: 80}]}", ", annotations: {metallb.io/loadBalancerIPs: 203.0.113.1}"),
            Service("web", "default", "{type: LoadBalancer, externalTrafficPolicy: Local, selector: {app: web}}", status: "{loadBalancer: {ingress: [{ip: 203.0.113.1}]}}"),
            Service("web", "default", "{type: ClusterIP}"),
            Service("web", "default", "{type: LoadBalancer, loadBalancerIP: 203.0.113.3}", ", annotations: {metallb.io/loadBalancerIPs: 203.0.113.1}"),
            Service("web", "default", "{type: LoadBalancer, loadBalancerClass: other}", ", labels: {tier: front}"),
        ]),
        new(new ResourceKey("Service", "default", "api"), Class.Valid,
        [
            Service("api", "default", "{type: LoadBalancer, ports: [{port: 443}]}", status: "{loadBalancer: {ingress: [{ip: 203.0.113.2}]}}"),
            Service("api", "default", "{type: LoadBalancer, ipFamilies: [IPv6], ipFamilyPolicy: PreferDualStack}"),
            Service("api", "default", "{type: ClusterIP}", ", annotations: {metallb.io/ip-allocated-from-pool: p4}"),
        ]),
        new(new ResourceKey("Service", "team", "web"), Class.Valid,
        [
            Service("web", "team", "{type: LoadBalancer}"),
            Service("web", "team", "{type: LoadBalancer}", ", annotations: {metallb.io/address-pool: p6}"),
        ]),
        new(new ResourceKey("EndpointSlice", "default", "web-1"), Class.Valid,
        [
            Slice("web-1", "{kubernetes.io/service-name: web}", "[{nodeName: node-a}]"),
            Slice("web-1", "{kubernetes.io/service-name: web}", "[{nodeName: node-a, conditions: {ready: false}}]"),
            Slice("web-1", "{kubernetes.io/service-name: web}", "[{nodeName: node-b}, {nodeName: node-a, conditions: {ready: false, serving: true}}]"),
            Slice("web-1", "{kubernetes.io/service-name: web}", "[]"),
        ]),
        new(new ResourceKey("EndpointSlice", "default", "web-2"), Class.Valid,
        [
            Slice("web-2", "{kubernetes.io/service-name: web}", "[{nodeName: node-c}]"),
            Slice("web-2", "{kubernetes.io/service-name: web}", "[{nodeName: node-a}]"),
        ]),
        new(new ResourceKey("EndpointSlice", "default", "api-1"), Class.Valid,
        [
            Slice("api-1", "{kubernetes.io/service-name: api}", "[{nodeName: node-b}]"),
            Slice("api-1", "{kubernetes.io/service-name: web}", "[{nodeName: node-b}]"),
            Slice("api-1", "{}", "[{nodeName: node-b}]"),
        ]),
        new(new ResourceKey("Node", "", "node-a"), Class.Valid,
        [
            Node("node-a", "{zone: a}", "{addresses: [{type: InternalIP, address: 198.18.0.2}]}"),
            Node("node-a", "{zone: b, node.kubernetes.io/exclude-from-external-load-balancers: ''}"),
            Node("node-a", "{zone: a}", "{conditions: [{type: NetworkUnavailable, status: 'True'}]}"),
        ]),
        new(new ResourceKey("Node", "", "node-b"), Class.Valid,
        [
            Node("node-b", "{zone: b}", "{addresses: [{type: InternalIP, address: 198.18.0.6}]}"),
            Node("node-b", "{zone: a}"),
        ]),
        new(new ResourceKey("Namespace", "", "team"), Class.Valid,
        [
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: team, labels: {team: a}}\n",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: team, labels: {team: b}}\n",
        ]),
        new(new ResourceKey("IPAddressPool", "metallb-system", "p4"), Class.Valid,
        [
            Crd("IPAddressPool", "p4", "{addresses: [203.0.113.0/28]}", labels: "{pool: p4}"),
            Crd("IPAddressPool", "p4", "{addresses: [203.0.113.16/28, 203.0.113.32-203.0.113.40]}", labels: "{pool: p4}"),
            Crd("IPAddressPool", "p4", "{addresses: [203.0.113.0/28], autoAssign: false}"),
        ]),
        new(new ResourceKey("IPAddressPool", "metallb-system", "p6"), Class.Valid,
        [
            Crd("IPAddressPool", "p6", "{addresses: ['2001:db8:1::/120']}", labels: "{pool: p6}"),
            Crd("IPAddressPool", "p6", "{addresses: ['2001:db8:1::/124'], serviceAllocation: {priority: 1, namespaces: [team]}}"),
        ]),
        new(new ResourceKey("BGPPeer", "metallb-system", "r1"), Class.Valid,
        [
            Crd("BGPPeer", "r1", "{myASN: 64513, peerASN: 64512, peerAddress: 198.18.0.1}", "v1beta2"),
            Crd("BGPPeer", "r1", "{myASN: 64513, peerASN: 64512, peerAddress: 198.18.0.1, holdTime: 9s}", "v1beta2"),
            Crd("BGPPeer", "r1", "{myASN: 64513, dynamicASN: external, peerAddress: 198.18.0.1, nodeSelectors: [{matchLabels: {zone: a}}]}", "v1beta2"),
        ]),
        new(new ResourceKey("BGPPeer", "metallb-system", "r2"), Class.Valid,
        [
            Crd("BGPPeer", "r2", "{myASN: 64513, peerASN: 64512, peerAddress: 198.18.0.5}", "v1beta2"),
            Crd("BGPPeer", "r2", "{myASN: 64513, peerASN: 64512, peerAddress: 198.18.0.5, nodeSelectors: [{matchExpressions: [{key: zone, operator: in, values: [b]}]}]}"),
        ]),
        new(new ResourceKey("BGPAdvertisement", "metallb-system", "ad1"), Class.Valid,
        [
            Crd("BGPAdvertisement", "ad1", "{communities: ['64513:1'], ipAddressPools: [p4]}"),
            Crd("BGPAdvertisement", "ad1", "{communities: ['64513:1', '64513:100'], peers: [r1]}"),
            Crd("BGPAdvertisement", "ad1", "{communities: ['64513:1'], ipAddressPools: [p4, bad-pool]}"),
            Crd("BGPAdvertisement", "ad1", "{communities: ['64513:1'], ipAddressPoolSelectors: [{matchLabels: {pool: p6}}]}"),
        ]),
        new(new ResourceKey("BGPAdvertisement", "metallb-system", "ad2"), Class.Valid,
        [
            Crd("BGPAdvertisement", "ad2", "{communities: ['64513:2']}"),
            Crd("BGPAdvertisement", "ad2", "{communities: ['64513:2'], nodeSelectors: [{matchLabels: {zone: a}}]}"),
        ]),
        new(new ResourceKey("L2Advertisement", "metallb-system", "l2"), Class.Valid,
        [
            Crd("L2Advertisement", "l2", "{ipAddressPools: [p4]}"),
            Crd("L2Advertisement", "l2", "{interfaces: [eth0], nodeSelectors: [{matchLabels: {zone: b}}]}"),
        ]),

        // Always rejected by validation.
        new(new ResourceKey("IPAddressPool", "metallb-system", "bad-pool"), Class.Rejected,
        [
            Crd("IPAddressPool", "bad-pool", "{addresses: []}"),
            Crd("IPAddressPool", "bad-pool", "{addresses: [203.0.113.0/33]}"),
        ]),
        new(new ResourceKey("BGPPeer", "metallb-system", "bad-peer"), Class.Rejected,
        [
            Crd("BGPPeer", "bad-peer", "{peerASN: 64512, peerAddress: 198.18.0.9}", "v1beta2"),
            Crd("BGPPeer", "bad-peer", "{myASN: 64513, peerASN: 64512, peerAddress: 198.18.0.9, holdTime: 2s}", "v1beta2"),
        ]),
        new(new ResourceKey("BGPAdvertisement", "metallb-system", "bad-ad"), Class.Rejected,
        [
            Crd("BGPAdvertisement", "bad-ad", "{aggregationLength: 0}"),
            Crd("BGPAdvertisement", "bad-ad", "{communities: ['65536:1']}"),
        ]),

        // Always unreadable.
        new(new ResourceKey("IPAddressPool", "metallb-system", "unreadable-pool"), Class.Unreadable,
        [
            Crd("IPAddressPool", "unreadable-pool", "{adresses: [198.51.100.0/28]}"),
            Crd("IPAddressPool", "unreadable-pool", "{addresses: 198.51.100.0/28}"),
        ]),
        new(new ResourceKey("Service", "default", "bad-svc"), Class.Unreadable,
        [
            Service("bad-svc", "default", "{type: LoadBalancer, ports: [{port: http}]}"),
            Service("bad-svc", "default", "{type: [LoadBalancer]}"),
        ]),
        new(new ResourceKey("Node", "", "bad-node"), Class.Unreadable, [Node("bad-node", "{zone: [a]}"), Node("bad-node", "{}", "{conditions: yes}")]),
        new(new ResourceKey("EndpointSlice", "default", "bad-slice"), Class.Unreadable, [Slice("bad-slice", "{kubernetes.io/service-name: web}", "3")]),

        // Keyless: a warning and an error.
        new(null, Class.Keyless, ["apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n", "apiVersion: v1\nkind: Service\nmetadata: {namespace: x}\n"]),
    ];

    private static readonly string[] ServiceKeys = ["default/web", "default/api", "team/web", "default/bad-svc"];

    /// <summary>A file as the model holds it: documents (entry, version), or a syntax error.</summary>
    private sealed class FileModel
    {
        public List<(int Entry, int Version)> Documents { get; } = [];
        public string? Broken { get; set; }

        public string Text() => Broken ?? string.Concat(Documents.Select((d, i) => (i == 0 ? "" : "---\n") + Universe[d.Entry].Versions[d.Version]));
    }

    /// <summary>Applies one edit (five numbers chosen by the generator) to the model, or nothing when it is not allowed.</summary>
    private static string? Edit(SortedDictionary<string, FileModel> files, IReadOnlyDictionary<string, FileModel> atRescan, int[] e)
    {
        var existing = files.Keys.ToList();
        var editable = files.Where(f => f.Value.Broken is null && f.Value.Documents.Count > 0).Select(f => f.Key).ToList();
        switch (e[0] % 8)
        {
            case 0 or 1:
            {
                // Half of the additions repeat an object some file already has, so that duplicates are common.
                var present = files.Values.SelectMany(f => f.Documents).Select(d => d.Entry).Distinct().Order().ToList();
                var file = Files[e[1] % Files.Length];
                var entry = e[0] % 8 == 1 && present.Count > 0 ? present[e[2] % present.Count] : e[2] % Universe.Length;
                var key = Universe[entry].Key;
                bool Defines(IReadOnlyDictionary<string, FileModel> state, string name) =>
                    state.TryGetValue(name, out var model) && model.Broken is null && model.Documents.Any(d => Universe[d.Entry].Key == key);
                if (key is not null && Files.Any(other => string.CompareOrdinal(other, file) > 0 && (Defines(atRescan, other) || Defines(files, other))))
                    return null;
                if (!files.TryGetValue(file, out var model) || model.Broken is not null)
                    files[file] = model = new FileModel();
                var position = e[4] % (model.Documents.Count + 1);
                var version = e[3] % Universe[entry].Versions.Length;
                model.Documents.Insert(position, (entry, version));
                return $"add {key} v{version} to {file} at {position}";
            }
            case 2 when editable.Count > 0:
            {
                var file = editable[e[1] % editable.Count];
                var documents = files[file].Documents;
                var index = e[2] % documents.Count;
                var version = e[3] % Universe[documents[index].Entry].Versions.Length;
                documents[index] = (documents[index].Entry, version);
                return $"edit {Universe[documents[index].Entry].Key} in {file} to v{version}";
            }
            case 3 when editable.Count > 0:
            {
                var file = editable[e[1] % editable.Count];
                var index = e[2] % files[file].Documents.Count;
                files[file].Documents.RemoveAt(index);
                return $"remove document {index} of {file}";
            }
            case 4 when existing.Count > 0:
            {
                var file = existing[e[1] % existing.Count];
                files.Remove(file);
                return $"remove {file}";
            }
            case 5:
            {
                var file = Files[e[1] % Files.Length];
                if (atRescan.TryGetValue(file, out var before) && before.Broken is null)
                    return null;
                files[file] = new FileModel { Broken = BrokenContents[e[2] % BrokenContents.Length] };
                return $"break {file}";
            }
            case 6 when existing.Count > 0:
                return $"rewrite {existing[e[1] % existing.Count]}";
            case 7 when editable.Count > 0:
            {
                var file = editable[e[1] % editable.Count];
                var documents = files[file].Documents;
                var index = e[2] % documents.Count;
                var document = documents[index];
                documents.RemoveAt(index);
                documents.Insert(e[3] % (documents.Count + 1), document);
                return $"move {Universe[document.Entry].Key} in {file}";
            }
            default:
                return null;
        }
    }

    private static SortedDictionary<string, FileModel> Copy(SortedDictionary<string, FileModel> files)
    {
        var copy = new SortedDictionary<string, FileModel>(StringComparer.Ordinal);
        foreach (var (name, model) in files)
        {
            var clone = new FileModel { Broken = model.Broken };
            clone.Documents.AddRange(model.Documents);
            copy[name] = clone;
        }
        return copy;
    }

    /// <summary>Everything the state exposes, in a form that compares by value.</summary>
    private static string Describe(ClusterState state)
    {
        var text = new StringBuilder();
        foreach (var (key, service) in state.Services.OrderBy(s => s.Key, StringComparer.Ordinal))
            text.AppendLine($"service {key}: {service}");
        foreach (var key in ServiceKeys)
            text.AppendLine($"endpoints {key}: {state.EndpointsOf(key)}");
        foreach (var (name, node) in state.Nodes.OrderBy(n => n.Key, StringComparer.Ordinal))
            text.AppendLine($"node {name}: {node}");
        foreach (var (name, ns) in state.Namespaces.OrderBy(n => n.Key, StringComparer.Ordinal))
            text.AppendLine($"namespace {name}: {ns}");
        foreach (var problem in state.Problems.Select(p => p.ToString()).Distinct().Order(StringComparer.Ordinal))
            text.AppendLine($"problem {problem}");
        return text.ToString();
    }

    private static void AssertSameState(ClusterState expected, ClusterState actual, List<string> log)
    {
        var context = string.Join("\n", log);
        Assert.True(Describe(expected) == Describe(actual), $"after:\n{context}\nfrom scratch:\n{Describe(expected)}\nincrementally:\n{Describe(actual)}");
        Assert.True(expected.Config == actual.Config, $"after:\n{context}\ncompiled configurations differ");
        Assert.True(expected.Services.Count == actual.Services.Count && expected.Services.All(s => actual.Services.TryGetValue(s.Key, out var other) && other == s.Value), context);
        Assert.True(expected.Nodes.All(n => actual.Nodes.TryGetValue(n.Key, out var other) && other == n.Value), context);
    }

    private static void Run(int[][][] steps)
    {
        using var directory = new ConfigDirectory();
        var files = new SortedDictionary<string, FileModel>(StringComparer.Ordinal);
        var log = new List<string>();
        directory.Rescan();
        foreach (var step in steps)
        {
            var atRescan = Copy(files);
            var rewrites = new HashSet<string>(StringComparer.Ordinal);
            foreach (var edit in step)
            {
                var done = Edit(files, atRescan, edit);
                if (done is null)
                    continue;
                log.Add(done);
                if (done.StartsWith("rewrite ", StringComparison.Ordinal))
                    rewrites.Add(done["rewrite ".Length..]);
            }
            foreach (var name in Files)
            {
                var now = files.GetValueOrDefault(name)?.Text();
                var before = atRescan.GetValueOrDefault(name)?.Text();
                if (now is null && before is not null)
                    directory.Delete(name);
                else if (now is not null && (now != before || rewrites.Contains(name)))
                    directory.Write(name, now);
            }
            log.Add("-- rescan");
            directory.Rescan();

            AssertSameState(directory.ReadFromScratch(), directory.State, log);
        }
    }

    private static readonly Gen<int[][][]> Steps = Gen.Int[0, 999].Array[5].Array[1, 3].Array[1, 12];

    [Fact]
    public void Incremental_state_equals_the_state_read_from_scratch() => Steps.Sample(Run, iter: 1000);

    [Fact]
    public void Universe_entries_are_of_the_class_they_claim()
    {
        var baseline = string.Concat(Universe.Where(e => e.Class == Class.Valid).Select(e => e.Versions[0] + "---\n"));
        Assert.Empty(TestConfig.Compile(baseline).Problems);
        foreach (var entry in Universe)
        {
            for (var version = 0; version < entry.Versions.Length; version++)
            {
                var yaml = entry.Versions[version];
                var name = $"{entry.Key} v{version}";
                var parsed = ManifestParser.Parse("test.yaml", yaml, new ConfigOptions());
                var keys = Assert.Single(parsed.Documents).Keys;
                ResourceKey[] expected = entry.Key is { } key ? [key] : [];
                Assert.True(expected.SequenceEqual(keys), $"{name} defines {string.Join(", ", keys)}");
                switch (entry.Class)
                {
                    case Class.Valid:
                        // Alone, and in place of its version 0 among all the other valid entries.
                        Assert.True(TestConfig.Compile(yaml).Problems.All(p => p.Severity == ConfigSeverity.Warning), name);
                        var together = TestConfig.Compile(baseline.Replace(entry.Versions[0], yaml, StringComparison.Ordinal));
                        Assert.True(!together.HasErrors, $"{name}: {string.Join(" | ", together.Problems)}");
                        break;
                    case Class.Rejected:
                        Assert.Empty(parsed.Errors);
                        Assert.True(TestConfig.Compile(yaml).HasErrors, name);
                        break;
                    case Class.Unreadable:
                        Assert.True(Assert.Single(parsed.Errors).Severity == ConfigSeverity.Error, name);
                        Assert.Single(parsed.Documents[0].Projection!.Invalid);
                        break;
                    case Class.Keyless:
                        Assert.Single(parsed.Errors);
                        break;
                }
            }
        }
    }
}
