using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using BgpLb.Config;

namespace BgpLb.Netlab;

/// <summary>What a node of a topology runs in the lab, from its kind and the name of its image.</summary>
public enum ClabRole
{
    /// <summary><c>kind: bridge</c>: a Linux bridge named after the node.</summary>
    Bridge,

    /// <summary>An image named <c>frr</c> (frrouting/frr, quay.io/frrouting/frr): zebra, staticd and the daemons enabled in the bound /etc/frr/daemons, then the bound /etc/frr/frr.conf.</summary>
    Frr,

    /// <summary>An image whose name ends in <c>bird</c> or <c>bird2</c>: BIRD with the bound /etc/bird/bird.conf.</summary>
    Bird,

    /// <summary>An image named <c>bgplb</c> or <c>bgplb-speaker</c>: the locally built bgplb-speaker with the node's cmd as its flags.</summary>
    Speaker,

    /// <summary>Any other image: a plain host that runs its exec lines only.</summary>
    Host,
}

/// <summary>A bind: <see cref="HostPath"/> (absolute, resolved against the topology file's directory) seen at <see cref="ContainerPath"/>.</summary>
public sealed record ClabBind(string HostPath, string ContainerPath);

/// <summary>One end of a link, "node:interface".</summary>
public sealed record ClabEndpoint(string Node, string Interface)
{
    public override string ToString() => $"{Node}:{Interface}";
}

public sealed record ClabLink(ClabEndpoint A, ClabEndpoint B);

/// <summary>
/// A node as the lab runs it. <see cref="Exec"/> lines are split into words as containerlab splits them (no shell), absolute
/// paths under a bind already replaced by the host path; so are the speaker's <see cref="Arguments"/> (its cmd) and
/// <see cref="Env"/> values.
/// </summary>
public sealed record ClabNode(
    string Name,
    ClabRole Role,
    string? Image,
    IReadOnlyList<ClabBind> Binds,
    IReadOnlyDictionary<string, string> Env,
    IReadOnlyList<IReadOnlyList<string>> Exec,
    IReadOnlyList<string> Arguments)
{
    /// <summary>The host path seen at <paramref name="containerPath"/> (a bind, or a file under a bound directory), or null.</summary>
    public string? HostPathOf(string containerPath) => ClabTopology.HostPathOf(Binds, containerPath);

    /// <summary>The speaker's node name: <c>--node NAME</c>, <c>--node=NAME</c> or BGPLB_NODE.</summary>
    public string? SpeakerNodeName => FlagValue("--node") ?? Env.GetValueOrDefault("BGPLB_NODE");

    /// <summary>The value of a speaker flag given as <c>--flag VALUE</c> or <c>--flag=VALUE</c>, or null.</summary>
    public string? FlagValue(string flag)
    {
        for (var i = 0; i < Arguments.Count; i++)
        {
            if (Arguments[i] == flag && i + 1 < Arguments.Count)
            {
                return Arguments[i + 1];
            }

            if (Arguments[i].StartsWith(flag + "=", StringComparison.Ordinal))
            {
                return Arguments[i][(flag.Length + 1)..];
            }
        }

        return null;
    }
}

/// <summary>A topology file that the lab cannot run as containerlab would; the message names the file, the node and the field.</summary>
public sealed class ClabTopologyException(string message) : Exception(message);

/// <summary>
/// A containerlab topology file (<c>*.clab.yml</c>) read for <see cref="TopologyLab"/>: the fields the lab honours, and a
/// <see cref="ClabTopologyException"/> for any other, so that the lab never runs something else than containerlab would.
/// </summary>
public sealed partial record ClabTopology(string Name, string File, IReadOnlyList<ClabNode> Nodes, IReadOnlyList<ClabLink> Links)
{
    public const string FrrConfig = "/etc/frr/frr.conf";
    public const string FrrDaemons = "/etc/frr/daemons";
    public const string BirdConfig = "/etc/bird/bird.conf";

    private static readonly string[] TopLevelFields = ["name", "topology"];
    private static readonly string[] TopologyFields = ["nodes", "links"];
    private static readonly string[] LinuxNodeFields = ["kind", "image", "binds", "env", "exec", "cmd"];
    private static readonly string[] BridgeNodeFields = ["kind"];
    private static readonly string[] LinkFields = ["endpoints"];

    /// <summary>The lab's test name for this topology: its namespaces are <c>bgplb-clab-NAME-RUN-NODE</c>.</summary>
    public string TestName => "clab-" + Name;

    public ClabNode Node(string name) => Nodes.Single(n => n.Name == name);

    /// <summary>The links of <paramref name="node"/>, its own end first.</summary>
    public IEnumerable<(ClabEndpoint Near, ClabEndpoint Far)> LinksOf(string node) =>
        Links.SelectMany(l => (IEnumerable<(ClabEndpoint Near, ClabEndpoint Far)>)[(l.A, l.B), (l.B, l.A)]).Where(l => l.Near.Node == node);

    /// <exception cref="ClabTopologyException">The file cannot be read, is not valid YAML, or asks for something the lab does not honour.</exception>
    public static ClabTopology Read(string file)
    {
        var path = Path.GetFullPath(file);
        string text;
        try
        {
            text = System.IO.File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ClabTopologyException($"{file}: {e.Message}");
        }

        return Parse(text, path);
    }

    /// <summary>Reads topology <paramref name="yaml"/> as if from <paramref name="path"/> (binds are relative to its directory).</summary>
    public static ClabTopology Parse(string yaml, string path) => new Reader(path).Read(yaml);

    internal static string? HostPathOf(IEnumerable<ClabBind> binds, string containerPath)
    {
        foreach (var bind in binds)
        {
            if (containerPath == bind.ContainerPath)
            {
                return bind.HostPath;
            }

            if (containerPath.StartsWith(bind.ContainerPath.TrimEnd('/') + "/", StringComparison.Ordinal))
            {
                return Path.Combine(bind.HostPath, containerPath[(bind.ContainerPath.TrimEnd('/').Length + 1)..]);
            }
        }

        return null;
    }

    /// <summary>Splits a command line into words as containerlab does for exec and cmd: at blanks, with '…' and "…" quoting, no shell.</summary>
    internal static List<string> SplitWords(string line)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        char? quote = null;
        foreach (var c in line)
        {
            if (quote is not null)
            {
                if (c == quote)
                {
                    quote = null;
                }
                else
                {
                    word.Append(c);
                }
            }
            else if (c is '\'' or '"')
            {
                quote = c;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(word.ToString());
                    word.Clear();
                    inWord = false;
                }
            }
            else
            {
                word.Append(c);
                inWord = true;
            }
        }

        if (quote is not null)
        {
            throw new FormatException($"unbalanced {quote} quote");
        }

        if (inWord)
        {
            words.Add(word.ToString());
        }

        return words;
    }

    /// <summary>The image's name without registry, path, tag or digest: "quay.io/frrouting/frr:8.4.2" is "frr".</summary>
    internal static string ImageName(string image)
    {
        var name = image.Split('@')[0];
        name = name[(name.LastIndexOf('/') + 1)..];
        return name.Split(':')[0];
    }

    internal static ClabRole RoleOf(string image) => ImageName(image) switch
    {
        "frr" => ClabRole.Frr,
        "bgplb" or "bgplb-speaker" => ClabRole.Speaker,
        var name when name.EndsWith("bird", StringComparison.Ordinal) || name.EndsWith("bird2", StringComparison.Ordinal) => ClabRole.Bird,
        _ => ClabRole.Host,
    };

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,18}$", RegexOptions.CultureInvariant)]
    private static partial Regex TopologyNamePattern();

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,14}$", RegexOptions.CultureInvariant)]
    private static partial Regex NodeNamePattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$", RegexOptions.CultureInvariant)]
    private static partial Regex InterfacePattern();

    private sealed class Reader(string path)
    {
        private readonly string _directory = Path.GetDirectoryName(path)!;
        private readonly string _file = Path.GetFileName(path);

        public ClabTopology Read(string yaml)
        {
            // The project's YAML reader: the file as JSON, as kubectl reads YAML.
            List<YamlDocument> documents;
            try
            {
                documents = YamlJson.Parse(yaml);
            }
            catch (YamlDotNet.Core.YamlException e)
            {
                throw new ClabTopologyException($"{_file}:{e.Start.Line}: {e.Message}");
            }

            if (documents.Count != 1)
            {
                throw new ClabTopologyException($"{_file}: {documents.Count} YAML documents: a topology file holds one");
            }

            var top = ReadObject(documents[0].Root, "the file");
            OnlyFields(top, "", TopLevelFields, "the lab honours name and topology (nodes, links) only");
            var name = ReadString(top["name"], "name");
            if (!TopologyNamePattern().IsMatch(name))
            {
                throw Error("name", $"'{name}': the lab names its namespaces after it: lowercase letters, digits and '-', at most 19 characters");
            }

            var topology = ReadObject(top["topology"], "topology");
            OnlyFields(topology, "topology.", TopologyFields, "the lab honours nodes and links only (no kinds, defaults or groups)");
            var nodes = ReadObject(topology["nodes"], "topology.nodes").Select(n => ReadNode(n.Key, n.Value)).ToList();
            var links = topology["links"] is null ? [] : ReadArray(topology["links"], "topology.links").Select((l, i) => ReadLink(l, i, nodes)).ToList();
            var used = new HashSet<ClabEndpoint>();
            foreach (var (endpoint, index) in links.SelectMany((l, i) => new[] { (l.A, i), (l.B, i) }))
            {
                if (!used.Add(endpoint))
                {
                    throw Error($"topology.links[{index}].endpoints", $"{endpoint} is already the end of another link");
                }
            }

            return new ClabTopology(name, path, nodes, links);
        }

        private ClabNode ReadNode(string name, JsonNode? value)
        {
            var field = $"topology.nodes.{name}";
            if (!NodeNamePattern().IsMatch(name))
            {
                throw Error(field, "the lab names a namespace (and a bridge) after each node: lowercase letters, digits and '-', at most 15 characters");
            }

            var node = ReadObject(value, field);
            var kind = node["kind"] is null ? null : ReadString(node["kind"], field + ".kind");
            switch (kind)
            {
                case "bridge":
                    OnlyFields(node, field + ".", BridgeNodeFields, "a bridge is a Linux bridge named after the node, with nothing else to set");
                    return new ClabNode(name, ClabRole.Bridge, null, [], new Dictionary<string, string>(), [], []);
                case "linux":
                    break;
                case null:
                    throw Error(field + ".kind", "missing: the lab runs kinds linux and bridge, and has no defaults to take one from");
                default:
                    throw Error(field + ".kind", $"'{kind}' is not honoured: the lab runs kinds linux and bridge");
            }

            OnlyFields(node, field + ".", LinuxNodeFields, "the lab honours kind, image, binds, env, exec and cmd");
            var image = ReadString(node["image"], field + ".image");
            var role = RoleOf(image);
            var binds = node["binds"] is null ? [] : ReadArray(node["binds"], field + ".binds").Select((b, i) => ReadBind(b, $"{field}.binds[{i}]")).ToList();
            var env = node["env"] is null ? [] : ReadObject(node["env"], field + ".env")
                .ToDictionary(e => e.Key, e => Scalar(e.Value, $"{field}.env.{e.Key}"), StringComparer.Ordinal);
            var exec = node["exec"] is null ? [] : ReadArray(node["exec"], field + ".exec")
                .Select((e, i) => (IReadOnlyList<string>)[.. Words(ReadString(e, $"{field}.exec[{i}]"), $"{field}.exec[{i}]").Select(w => HostPathOf(binds, w) ?? w)])
                .ToList();
            if (exec.FirstOrDefault(words => words.Count == 0) is not null)
            {
                throw Error(field + ".exec", "an empty line");
            }

            if (role != ClabRole.Speaker && node["cmd"] is not null)
            {
                throw Error(field + ".cmd", $"not honoured for image {image}: the lab reads cmd as bgplb-speaker's flags on bgplb images only, and runs the image's own program for FRR and BIRD");
            }

            var arguments = node["cmd"] is null ? [] : Words(ReadString(node["cmd"], field + ".cmd"), field + ".cmd");
            var result = new ClabNode(
                name,
                role,
                image,
                binds,
                role == ClabRole.Speaker ? env.ToDictionary(e => e.Key, e => SpeakerValue(binds, e.Value, $"{field}.env.{e.Key}"), StringComparer.Ordinal) : env,
                exec,
                role == ClabRole.Speaker ? [.. arguments.Select(a => SpeakerArgument(binds, a, field + ".cmd"))] : []);
            CheckRole(result, field);
            return result;
        }

        private void CheckRole(ClabNode node, string field)
        {
            switch (node.Role)
            {
                case ClabRole.Frr when node.HostPathOf(FrrConfig) is null:
                    throw Error(field + ".binds", $"an FRR node needs its configuration bound at {FrrConfig}");
                case ClabRole.Bird when node.HostPathOf(BirdConfig) is null:
                    throw Error(field + ".binds", $"a BIRD node needs its configuration bound at {BirdConfig}");
                case ClabRole.Speaker when node.SpeakerNodeName is null:
                    throw Error(field + ".cmd", "bgplb-speaker needs --node NAME (in cmd) or BGPLB_NODE (in env)");
            }

            foreach (var file in (string[])[FrrConfig, FrrDaemons, BirdConfig])
            {
                if (node.HostPathOf(file) is { } host && !System.IO.File.Exists(host))
                {
                    throw Error(field + ".binds", $"{file} is bound to {host}, which is no file");
                }
            }
        }

        /// <summary>A word of the speaker's cmd, also as <c>--flag=VALUE</c>, through <see cref="SpeakerValue"/>.</summary>
        private string SpeakerArgument(List<ClabBind> binds, string argument, string field)
        {
            if (argument.StartsWith("--", StringComparison.Ordinal) && argument.IndexOf('=', StringComparison.Ordinal) is > 2 and var equals)
            {
                return argument[..(equals + 1)] + SpeakerValue(binds, argument[(equals + 1)..], field);
            }

            return SpeakerValue(binds, argument, field);
        }

        /// <summary>
        /// A speaker flag or variable value, an absolute path replaced by the host path bound there. It must be under a bind:
        /// the speaker runs on the host and would read the host's file.
        /// </summary>
        private string SpeakerValue(List<ClabBind> binds, string value, string field) =>
            !value.StartsWith('/') ? value
            : HostPathOf(binds, value) ?? throw Error(field, $"{value} is not under a bind: the lab runs bgplb-speaker on the host's files, so bind what it reads");

        private ClabBind ReadBind(JsonNode? value, string field)
        {
            var parts = ReadString(value, field).Split(':');
            if (parts.Length is < 2 or > 3 || parts[0].Length == 0 || !parts[1].StartsWith('/') || (parts.Length == 3 && parts[2] is not ("ro" or "rw")))
            {
                throw Error(field, $"'{ReadString(value, field)}': the lab honours HOST:CONTAINER[:ro|rw] with an absolute container path");
            }

            var host = Path.GetFullPath(parts[0], _directory);
            if (!System.IO.File.Exists(host) && !Directory.Exists(host))
            {
                throw Error(field, $"{parts[0]} does not exist ({host})");
            }

            return new ClabBind(host, parts[1]);
        }

        private ClabLink ReadLink(JsonNode? value, int index, List<ClabNode> nodes)
        {
            var field = $"topology.links[{index}]";
            var link = ReadObject(value, field);
            OnlyFields(link, field + ".", LinkFields, "the lab honours the brief form, endpoints: [\"node:interface\", \"node:interface\"] (addresses go in exec lines or router configs)");
            var endpoints = ReadArray(link["endpoints"], field + ".endpoints");
            if (endpoints.Count != 2)
            {
                throw Error(field + ".endpoints", $"{endpoints.Count} endpoints: a link joins two");
            }

            var ends = endpoints.Select((e, i) => ReadEndpoint(ReadString(e, $"{field}.endpoints[{i}]"), $"{field}.endpoints[{i}]", nodes)).ToList();
            if (ends.All(e => nodes.Single(n => n.Name == e.Node).Role == ClabRole.Bridge))
            {
                throw Error(field + ".endpoints", "a link between two bridges is not honoured");
            }

            return new ClabLink(ends[0], ends[1]);
        }

        private ClabEndpoint ReadEndpoint(string text, string field, List<ClabNode> nodes)
        {
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || colon == text.Length - 1 || text.IndexOf(':', colon + 1) >= 0)
            {
                throw Error(field, $"'{text}' is not \"node:interface\"");
            }

            var endpoint = new ClabEndpoint(text[..colon], text[(colon + 1)..]);
            if (nodes.All(n => n.Name != endpoint.Node))
            {
                throw Error(field, $"'{text}': no node '{endpoint.Node}' in topology.nodes");
            }

            if (!InterfacePattern().IsMatch(endpoint.Interface))
            {
                throw Error(field, $"'{text}': '{endpoint.Interface}' is no Linux interface name (letters, digits, '_', '.', '-', at most 15 characters)");
            }

            return endpoint;
        }

        private List<string> Words(string line, string field)
        {
            try
            {
                return SplitWords(line);
            }
            catch (FormatException e)
            {
                throw Error(field, $"'{line}': {e.Message}");
            }
        }

        private void OnlyFields(JsonObject value, string prefix, string[] honoured, string what)
        {
            if (value.Select(p => p.Key).FirstOrDefault(key => !honoured.Contains(key)) is { } other)
            {
                throw Error(prefix + other, $"not honoured by the lab: {what}");
            }
        }

        private JsonObject ReadObject(JsonNode? value, string field) =>
            value as JsonObject ?? throw Error(field, value is null ? "missing" : "must be a mapping");

        private JsonArray ReadArray(JsonNode? value, string field) =>
            value as JsonArray ?? throw Error(field, value is null ? "missing" : "must be a list");

        private string ReadString(JsonNode? value, string field) =>
            value is JsonValue scalar && scalar.GetValueKind() == JsonValueKind.String
                ? scalar.GetValue<string>()
                : throw Error(field, value is null ? "missing" : "must be a string");

        /// <summary>An env value: containerlab takes strings, numbers and booleans.</summary>
        private string Scalar(JsonNode? value, string field) =>
            value is JsonValue scalar && scalar.GetValueKind() is JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False
                ? (scalar.GetValueKind() == JsonValueKind.String ? scalar.GetValue<string>() : scalar.ToJsonString())
                : throw Error(field, "must be a string, a number or a boolean");

        private ClabTopologyException Error(string field, string message) => new($"{_file}: {field}: {message}");
    }
}
