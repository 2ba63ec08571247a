using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using BgpLb.Config.Resources;
using k8s;
using k8s.Models;
using YamlDotNet.Core;

namespace BgpLb.Config;

/// <summary>Result of reading one manifest file. <see cref="Unreadable"/>: nothing in the file could be trusted (syntax error).</summary>
public sealed record ManifestParseResult(IReadOnlyList<RawResource> Resources, IReadOnlyList<ConfigError> Errors, bool Unreadable);

/// <summary>
/// Turns Kubernetes-style YAML into typed objects keyed by apiVersion+kind. Built-in kinds use KubernetesClient's
/// models and JSON options; metallb.io specs are parsed strictly so a misspelt field is an error.
/// </summary>
public static class ManifestParser
{
    public const string MetalLbGroup = "metallb.io";

    private static readonly JsonSerializerOptions StrictOptions = new()
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    private delegate IKubernetesObject<V1ObjectMeta> Reader(JsonObject root, V1ObjectMeta metadata);

    private static readonly Dictionary<(string ApiVersion, string Kind), Reader> Readers = new()
    {
        [("v1", "Service")] = Builtin<V1Service>,
        [("v1", "Node")] = Builtin<V1Node>,
        [("v1", "Secret")] = Builtin<V1Secret>,
        [("v1", "Namespace")] = Builtin<V1Namespace>,
        [("discovery.k8s.io/v1", "EndpointSlice")] = Builtin<V1EndpointSlice>,
        [("metallb.io/v1beta1", "IPAddressPool")] = Crd<IPAddressPool, IPAddressPoolSpec>,
        [("metallb.io/v1beta2", "BGPPeer")] = Crd<BGPPeer, BGPPeerSpec>,
        [("metallb.io/v1beta1", "BGPPeer")] = (root, metadata) => new BGPPeer
        {
            ApiVersion = "metallb.io/v1beta1",
            Kind = "BGPPeer",
            Metadata = metadata,
            Spec = Spec<BGPPeerV1Beta1Spec>(root).ToV1Beta2(),
        },
        [("metallb.io/v1beta1", "BGPAdvertisement")] = Crd<BGPAdvertisement, BGPAdvertisementSpec>,
        [("metallb.io/v1beta1", "L2Advertisement")] = Crd<L2Advertisement, L2AdvertisementSpec>,
        [("metallb.io/v1beta1", "Community")] = Crd<Community, CommunitySpec>,
        [("metallb.io/v1beta1", "BFDProfile")] = Crd<BFDProfile, BFDProfileSpec>,
    };

    private static readonly HashSet<string> ClusterScopedKinds = ["Node", "Namespace"];

    // MetalLB's status kinds are written by MetalLB itself; a directory exported with kubectl may contain them.
    private static readonly HashSet<string> MetalLbStatusKinds = ["ServiceL2Status", "ServiceBGPStatus", "ConfigurationState"];

    public static ManifestParseResult Parse(string origin, string yaml, ConfigOptions options)
    {
        List<YamlDocument> documents;
        try
        {
            documents = YamlJson.Parse(yaml);
        }
        catch (YamlException e)
        {
            var message = e.InnerException is null ? e.Message : $"{e.Message} {e.InnerException.Message}";
            return new([], [new ConfigError(ConfigSeverity.Error, origin, null, null,
                $"YAML syntax error: {StripMarkPrefix(message)}", (int)e.Start.Line, (int)e.Start.Column)], Unreadable: true);
        }
        var resources = new List<RawResource>();
        var errors = new List<ConfigError>();
        foreach (var document in documents)
        {
            ParseDocument(origin, document, options, resources, errors);
        }
        return new(resources, errors, Unreadable: false);
    }

    /// <summary>One object given as a JSON tree (e.g. from an API list or watch), with the same rules as a YAML document.</summary>
    public static ManifestParseResult ParseObject(string origin, JsonNode? root, ConfigOptions options)
    {
        var resources = new List<RawResource>();
        var errors = new List<ConfigError>();
        ParseDocument(origin, new YamlDocument(root, 0), options, resources, errors);
        return new(resources, errors, Unreadable: false);
    }

    private static void ParseDocument(string origin, YamlDocument document, ConfigOptions options, List<RawResource> resources, List<ConfigError> errors)
    {
        void Error(ResourceKey? key, string? field, string message, ConfigSeverity severity = ConfigSeverity.Error) =>
            errors.Add(new ConfigError(severity, origin, key, field, message, document.Line > 0 ? document.Line : null));

        switch (document.Root)
        {
            case null:
                return; // empty document, e.g. a trailing "---"
            case not JsonObject:
                Error(null, null, "document is not a mapping (expected a Kubernetes object)");
                return;
        }
        var root = (JsonObject)document.Root;
        var apiVersion = StringField(root, "apiVersion");
        var kind = StringField(root, "kind");
        if (string.IsNullOrEmpty(apiVersion) || string.IsNullOrEmpty(kind))
        {
            Error(null, string.IsNullOrEmpty(apiVersion) ? "apiVersion" : "kind", "missing apiVersion or kind");
            return;
        }
        if (apiVersion == "v1" && kind == "List")
        {
            foreach (var item in root["items"] as JsonArray ?? [])
            {
                ParseDocument(origin, document with { Root = item?.DeepClone() }, options, resources, errors);
            }
            return;
        }
        var isMetalLb = apiVersion.StartsWith(MetalLbGroup + "/", StringComparison.Ordinal);
        if (!Readers.TryGetValue((apiVersion, kind), out var reader))
        {
            if (isMetalLb && !MetalLbStatusKinds.Contains(kind))
            {
                Error(null, "kind", $"unsupported metallb.io kind or version '{apiVersion}, Kind={kind}'");
            }
            else
            {
                Error(null, null, $"ignoring unsupported kind '{apiVersion}, Kind={kind}'", ConfigSeverity.Warning);
            }
            return;
        }

        V1ObjectMeta metadata;
        try
        {
            metadata = root["metadata"] is { } node ? KubernetesJson.Deserialize<V1ObjectMeta>(node) ?? new() : new();
        }
        catch (JsonException e)
        {
            Error(null, FieldPath("metadata", e), ErrorText(e));
            return;
        }
        if (string.IsNullOrEmpty(metadata.Name))
        {
            Error(null, "metadata.name", $"{kind} has no name");
            return;
        }
        if (ClusterScopedKinds.Contains(kind))
        {
            metadata.NamespaceProperty = null;
        }
        else if (string.IsNullOrEmpty(metadata.NamespaceProperty))
        {
            metadata.NamespaceProperty = isMetalLb ? options.MetalLbNamespace : "default";
        }
        var key = new ResourceKey(kind, metadata.NamespaceProperty ?? "", metadata.Name);
        int? line = document.Line > 0 ? document.Line : null;
        try
        {
            resources.Add(new RawResource(key, origin, reader(root, metadata), line));
        }
        catch (FieldException e)
        {
            Error(key, e.Field, e.Message);
            resources.Add(new RawResource(key, origin, null, line));
        }
        catch (JsonException e)
        {
            Error(key, FieldPath(isMetalLb ? "spec" : "", e), ErrorText(e));
            resources.Add(new RawResource(key, origin, null, line));
        }
    }

    private static IKubernetesObject<V1ObjectMeta> Builtin<T>(JsonObject root, V1ObjectMeta metadata)
        where T : IKubernetesObject<V1ObjectMeta>
    {
        var value = KubernetesJson.Deserialize<T>(root);
        value.Metadata = metadata;
        return value;
    }

    private static IKubernetesObject<V1ObjectMeta> Crd<TResource, TSpec>(JsonObject root, V1ObjectMeta metadata)
        where TResource : MetalLbResource<TSpec>, new()
        where TSpec : new() => new TResource
        {
            ApiVersion = StringField(root, "apiVersion")!,
            Kind = StringField(root, "kind")!,
            Metadata = metadata,
            Spec = Spec<TSpec>(root),
        };

    private static TSpec Spec<TSpec>(JsonObject root)
        where TSpec : new()
    {
        foreach (var (name, _) in root)
        {
            if (name is not ("apiVersion" or "kind" or "metadata" or "spec" or "status"))
            {
                throw new FieldException(name, $"unknown field '{name}'");
            }
        }
        return root["spec"] is { } spec ? JsonSerializer.Deserialize<TSpec>(spec, StrictOptions) ?? new() : new();
    }

    private static string? StringField(JsonObject root, string name) =>
        root[name] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private static string FieldPath(string prefix, JsonException e)
    {
        var path = e.Path is null or "$" ? "" : e.Path.StartsWith("$.", StringComparison.Ordinal) ? e.Path[2..] : e.Path[1..];
        return prefix.Length == 0 ? path : path.Length == 0 ? prefix : path.StartsWith('[') ? prefix + path : $"{prefix}.{path}";
    }

    private static string ErrorText(JsonException e)
    {
        var message = e.Message;
        if (message.StartsWith("The JSON property '", StringComparison.Ordinal) && message.Contains("could not be mapped", StringComparison.Ordinal))
        {
            var name = message.Split('\'')[1];
            return $"unknown field '{name}'";
        }
        var cut = message.IndexOf(" Path: ", StringComparison.Ordinal);
        message = cut < 0 ? message : message[..cut];
        const string conversion = "The JSON value could not be converted to ";
        return message.StartsWith(conversion, StringComparison.Ordinal) ? "invalid value: expected " + Describe(message[conversion.Length..]) : message;
    }

    private static string Describe(string typeName) =>
        (typeName.Contains("System.String", StringComparison.Ordinal), typeName.Contains("System.Boolean", StringComparison.Ordinal)) switch
        {
            (true, _) => "a string",
            (_, true) => "true or false",
            _ when typeName.Contains("System.UInt32", StringComparison.Ordinal) => "a number 0..4294967295",
            _ when typeName.Contains("System.Int32", StringComparison.Ordinal) => "an integer",
            _ when typeName.Contains("List", StringComparison.Ordinal) => "a list",
            _ when typeName.Contains("Dictionary", StringComparison.Ordinal) => "a mapping",
            _ => typeName.TrimEnd('.'),
        };

    private static string StripMarkPrefix(string message)
    {
        // YamlDotNet prefixes "(Line: 3, Col: 5, Idx: 20) - (Line: ...): "; we report line and column separately.
        var index = message.IndexOf("): ", StringComparison.Ordinal);
        return message.StartsWith('(') && index >= 0 ? message[(index + 3)..] : message;
    }

    private sealed class FieldException(string field, string message) : Exception(message)
    {
        public string Field { get; } = field;
    }
}
