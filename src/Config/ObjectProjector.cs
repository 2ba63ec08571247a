using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using BgpLb.Config.Resources;

namespace BgpLb.Config;

/// <summary>
/// One object read from a source, projected into the model: a <see cref="ServiceInfo"/>, <see cref="EndpointSliceInfo"/>,
/// <see cref="NodeInfo"/>, <see cref="NamespaceInfo"/>, <see cref="SecretInfo"/> or <see cref="MetalLbObject"/>.
/// <see cref="Value"/> is null when the object is of no use to BgpLb (a Service that is not of type LoadBalancer and
/// carries no allocation of ours): it counts as absent.
/// </summary>
public sealed record SourceObject(ResourceKey Key, object? Value);

/// <summary>
/// What one document or API object turned into: objects (more than one for a <c>v1 List</c>), and problems. An object
/// whose key is known but that could not be read is listed in <see cref="Invalid"/>: its last good version stays.
/// </summary>
public sealed class Projection
{
    public List<SourceObject> Objects { get; } = [];
    public List<ResourceKey> Invalid { get; } = [];
    public List<ConfigError> Problems { get; } = [];
}

/// <summary>
/// The one place that reads Kubernetes objects: turns a JSON object (a YAML document or an API list/watch item) into the
/// model records, reading annotations, spec and status once. metallb.io specs are parsed strictly (an unknown field is
/// an error); of the built-in kinds only the fields BgpLb uses are read, and those must have the right type.
/// </summary>
public static class ObjectProjector
{
    public const string MetalLbGroup = "metallb.io";

    private static readonly Interner<EquatableArray<ServicePort>> PortLists = new(10_000);

    // MetalLB's status kinds are written by MetalLB itself; a directory exported with kubectl may contain them.
    private static readonly HashSet<string> MetalLbStatusKinds = ["ServiceL2Status", "ServiceBGPStatus", "ConfigurationState"];

    /// <summary>Projects <paramref name="root"/> into <paramref name="projection"/>.</summary>
    /// <param name="defaults">apiVersion and kind for API list items, which usually come without them.</param>
    public static void Project(string origin, int? line, JsonElement root, ConfigOptions options, Projection projection,
        (string ApiVersion, string Kind)? defaults = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(projection);
        void Error(ResourceKey? key, string? field, string message, ConfigSeverity severity = ConfigSeverity.Error) =>
            projection.Problems.Add(new ConfigError(severity, origin, key, field, message, line));

        if (root.ValueKind == JsonValueKind.Null)
            return; // empty document, e.g. a trailing "---"
        if (root.ValueKind != JsonValueKind.Object)
        {
            Error(null, null, "document is not a mapping (expected a Kubernetes object)");
            return;
        }
        var apiVersion = TopString(root, "apiVersion") ?? defaults?.ApiVersion;
        var kind = TopString(root, "kind") ?? defaults?.Kind;
        if (string.IsNullOrEmpty(apiVersion) || string.IsNullOrEmpty(kind))
        {
            Error(null, string.IsNullOrEmpty(apiVersion) ? "apiVersion" : "kind", "missing apiVersion or kind");
            return;
        }
        if (apiVersion == "v1" && kind == "List")
        {
            if (root.TryGetProperty("items", out var items) && items.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in items.EnumerateArray())
                    Project(origin, line, item, options, projection);
            }
            return;
        }
        var reader = Reader(apiVersion, kind);
        var isMetalLb = apiVersion.StartsWith(MetalLbGroup + "/", StringComparison.Ordinal);
        if (reader is null)
        {
            if (isMetalLb && !MetalLbStatusKinds.Contains(kind))
                Error(null, "kind", $"unsupported metallb.io kind or version '{apiVersion}, Kind={kind}'");
            else
                Error(null, null, $"ignoring unsupported kind '{apiVersion}, Kind={kind}'", ConfigSeverity.Warning);
            return;
        }

        string? name, metadataNamespace;
        try
        {
            (name, metadataNamespace) = Metadata.ReadIdentity(root);
        }
        catch (FieldException e)
        {
            Error(null, e.Field, e.Message);
            return;
        }
        if (string.IsNullOrEmpty(name))
        {
            Error(null, "metadata.name", $"{kind} has no name");
            return;
        }
        if (name.Length > KubernetesLimits.NameLength || metadataNamespace?.Length > KubernetesLimits.NamespaceLength)
        {
            var (field, limit) = name.Length > KubernetesLimits.NameLength ? ("metadata.name", KubernetesLimits.NameLength) : ("metadata.namespace", KubernetesLimits.NamespaceLength);
            Error(null, field, $"{kind} {field} is longer than Kubernetes' limit of {limit} characters");
            return;
        }
        var clusterScoped = kind is "Node" or "Namespace";
        // MetalLB's ConfigMaps live next to its CRDs.
        var inMetalLbNamespace = isMetalLb || kind == "ConfigMap";
        var ns = clusterScoped ? "" : string.IsNullOrEmpty(metadataNamespace) ? (inMetalLbNamespace ? options.MetalLbNamespace : "default") : metadataNamespace;
        var key = new ResourceKey(kind, Names.Intern(ns), name);
        // From here on the object is known by its key: whatever cannot be read (labels and annotations included) makes
        // it unusable, so that its last good version stays instead of the object disappearing.
        try
        {
            var metadata = Metadata.Read(root);
            projection.Objects.Add(new SourceObject(key, reader(new Document(root, key, metadata, origin, line))));
        }
        catch (FieldException e)
        {
            Error(key, e.Field, e.Message);
            projection.Invalid.Add(key);
        }
        catch (JsonException e)
        {
            Error(key, FieldPath("spec", e), ErrorText(e));
            projection.Invalid.Add(key);
        }
    }

    private readonly record struct Document(JsonElement Root, ResourceKey Key, Metadata Metadata, string Origin, int? Line);

    private static Func<Document, object?>? Reader(string apiVersion, string kind) => (apiVersion, kind) switch
    {
        ("v1", "Service") => Service,
        ("v1", "Node") => Node,
        ("v1", "Namespace") => d => new NamespaceInfo(d.Key.Name, d.Metadata.Labels),
        ("v1", "Secret") => Secret,
        ("v1", "ConfigMap") => ConfigMap,
        ("discovery.k8s.io/v1", "EndpointSlice") => EndpointSlice,
        ("metallb.io/v1beta1", "IPAddressPool") => Crd<IPAddressPoolSpec>,
        ("metallb.io/v1beta2", "BGPPeer") => Crd<BGPPeerSpec>,
        ("metallb.io/v1beta1", "BGPPeer") => d => Crd(d, Spec<BGPPeerV1Beta1Spec>(d.Root).ToV1Beta2()),
        ("metallb.io/v1beta1", "BGPAdvertisement") => Crd<BGPAdvertisementSpec>,
        ("metallb.io/v1beta1", "L2Advertisement") => Crd<L2AdvertisementSpec>,
        ("metallb.io/v1beta1", "Community") => Crd<CommunitySpec>,
        ("metallb.io/v1beta1", "BFDProfile") => Crd<BFDProfileSpec>,
        _ => null,
    };

    // ---- Service ----

    private static ServiceInfo? Service(Document document)
    {
        var (root, key, metadata, _, _) = document;
        var spec = OptionalObject(root, "spec", "spec");
        var isLoadBalancer = spec is { } s && StringIs(s, "type", "spec.type", "LoadBalancer");
        var allocatedFrom = Annotation(metadata.Annotations, MetalLbNames.AllocatedFromPoolAnnotation, null);
        if (!isLoadBalancer && allocatedFrom is null)
            return null; // nothing of ours to announce or to clean up
        var problems = new List<string>();
        var requested = RequestedAddresses(metadata.Annotations, spec is { } sp ? OptionalString(sp, "loadBalancerIP", "spec.loadBalancerIP") : null, problems);
        var policy = spec is { } p ? Policy(p, problems) : FamilyPolicy.SingleStack;
        var declared = spec is { } d ? DeclaredFamilies(d, problems) : [];
        if (policy == FamilyPolicy.RequireDualStack && declared.Count == 1)
            problems.Add("RequireDualStack needs two IP families but spec.ipFamilies/clusterIPs name one");
        var ingress = Ingress(root);
        // Without ipFamilies or clusterIPs (a Service written by hand for standalone mode) the address it asks for or
        // already holds names its primary family; with none of those either, IPv4.
        var primary = declared.Count > 0 ? declared[0]
            : !requested.IsEmpty ? requested[0].AddressFamily
            : !ingress.IsEmpty ? ingress[0].AddressFamily
            : AddressFamily.InterNetwork;
        var local = spec is { } e && StringIs(e, "externalTrafficPolicy", "spec.externalTrafficPolicy", "Local");
        var loadBalancerClass = spec is { } c ? OptionalString(c, "loadBalancerClass", "spec.loadBalancerClass") : null;
        return new ServiceInfo
        {
            Key = key.Namespace + "/" + key.Name,
            Namespace = key.Namespace,
            Uid = metadata.Uid,
            IsLoadBalancer = isLoadBalancer,
            LoadBalancerClass = string.IsNullOrEmpty(loadBalancerClass) ? null : loadBalancerClass,
            Labels = metadata.Labels,
            LocalTrafficPolicy = local,
            BackendKey = local && spec is { } sel ? SelectorKey(sel) : "",
            Ports = spec is { } ports ? Ports(ports) : [],
            Policy = policy,
            // A single declared family on PreferDualStack means a single-stack cluster: keep one family, as MetalLB does.
            Families = policy == FamilyPolicy.PreferDualStack && declared.Count == 1
                ? ServiceFamilies.Complete(FamilyPolicy.SingleStack, declared[0])
                : ServiceFamilies.Complete(policy, primary),
            RequestedAddresses = requested,
            Pool = Annotation(metadata.Annotations, MetalLbNames.AddressPoolAnnotation, MetalLbNames.LegacyAddressPoolAnnotation),
            SharingKey = Annotation(metadata.Annotations, MetalLbNames.AllowSharedIPAnnotation, MetalLbNames.LegacyAllowSharedIPAnnotation),
            Ingress = ingress,
            AllocatedFromPool = allocatedFrom,
            Problem = problems.Count == 0 ? null : string.Join("; ", problems),
            DeprecatedAnnotations = AnnotationNames(metadata.Annotations, MetalLbNames.DeprecatedAnnotations.ContainsKey),
            UnknownAnnotations = AnnotationNames(metadata.Annotations, MetalLbNames.IsUnknownAnnotation),
        };
    }

    private static EquatableArray<string> AnnotationNames(JsonElement? annotations, Func<string, bool> matches) =>
        annotations is { } map && map.EnumerateObject().Any(p => matches(p.Name))
            ? [.. map.EnumerateObject().Select(p => p.Name).Where(matches).Order(StringComparer.Ordinal)]
            : [];

    private static FamilyPolicy Policy(JsonElement spec, List<string> problems)
    {
        if (Property(spec, "ipFamilyPolicy") is not { } value)
            return FamilyPolicy.SingleStack;
        if (value.ValueKind != JsonValueKind.String)
            throw new FieldException("spec.ipFamilyPolicy", "invalid value: expected a string");
        if (value.ValueEquals("") || value.ValueEquals("SingleStack"))
            return FamilyPolicy.SingleStack;
        if (value.ValueEquals("PreferDualStack"))
            return FamilyPolicy.PreferDualStack;
        if (value.ValueEquals("RequireDualStack"))
            return FamilyPolicy.RequireDualStack;
        problems.Add($"unknown spec.ipFamilyPolicy '{value.GetString()}'");
        return FamilyPolicy.SingleStack;
    }

    private static List<AddressFamily> DeclaredFamilies(JsonElement spec, List<string> problems)
    {
        if (Property(spec, "ipFamilies") is null && Property(spec, "clusterIPs") is null && Property(spec, "clusterIP") is null)
            return [];
        var families = new List<AddressFamily>(2);
        if (OptionalArray(spec, "ipFamilies", "spec.ipFamilies") is { } names && names.GetArrayLength() > 0)
        {
            var index = 0;
            foreach (var name in names.EnumerateArray())
            {
                var text = StringItem(name, $"spec.ipFamilies[{index++}]");
                AddressFamily? family = text switch { "IPv4" => AddressFamily.InterNetwork, "IPv6" => AddressFamily.InterNetworkV6, _ => null };
                if (family is null)
                    problems.Add($"unknown IP family '{text}' in spec.ipFamilies (IPv4, IPv6)");
                else if (!families.Contains(family.Value))
                    families.Add(family.Value);
            }
            return families;
        }
        var clusterIPs = new List<string?>();
        if (OptionalArray(spec, "clusterIPs", "spec.clusterIPs") is { } ips && ips.GetArrayLength() > 0)
        {
            var index = 0;
            foreach (var ip in ips.EnumerateArray())
                clusterIPs.Add(StringItem(ip, $"spec.clusterIPs[{index++}]"));
        }
        else
        {
            clusterIPs.Add(OptionalString(spec, "clusterIP", "spec.clusterIP"));
        }
        foreach (var text in clusterIPs)
        {
            if (text is not null && text != "None" && StrictIP.TryParse(text.Trim(), out var address) && !families.Contains(address.AddressFamily))
                families.Add(address.AddressFamily);
        }
        return families;
    }

    private static EquatableArray<IPAddress> RequestedAddresses(JsonElement? annotations, string? loadBalancerIP, List<string> problems)
    {
        var annotation = Annotation(annotations, MetalLbNames.LoadBalancerIPsAnnotation, MetalLbNames.LegacyLoadBalancerIPsAnnotation);
        var hasSpecIP = !string.IsNullOrWhiteSpace(loadBalancerIP);
        if (annotation is not null && hasSpecIP)
        {
            problems.Add($"service can not have both {MetalLbNames.LoadBalancerIPsAnnotation} and spec.loadBalancerIP");
            return [];
        }
        if (annotation is null && !hasSpecIP)
            return [];
        var source = annotation is not null ? MetalLbNames.LoadBalancerIPsAnnotation : "spec.loadBalancerIP";
        var addresses = new List<IPAddress>(2);
        var list = (annotation ?? loadBalancerIP!).AsSpan();
        // Up to the first invalid entry or the third address: either is the end of the request, however long the list.
        foreach (var range in list.Split(','))
        {
            var text = list[range].Trim();
            if (text.Length == 0)
                continue;
            if (!StrictIP.TryParse(text, out var address))
            {
                problems.Add($"invalid IP '{text}' in {source}");
                break;
            }
            if (!addresses.Contains(address))
                addresses.Add(address);
            if (addresses.Count > 2)
                break;
        }
        if (addresses.Count > 2 || addresses.Count == 2 && addresses[0].AddressFamily == addresses[1].AddressFamily)
        {
            problems.Add($"{source} may name at most one address per IP family, got {string.Join(", ", addresses)}");
            return [];
        }
        return [.. addresses];
    }

    private static EquatableArray<IPAddress> Ingress(JsonElement root)
    {
        if (OptionalObject(root, "status", "status") is not { } status
            || OptionalObject(status, "loadBalancer", "status.loadBalancer") is not { } loadBalancer
            || OptionalArray(loadBalancer, "ingress", "status.loadBalancer.ingress") is not { } ingress)
            return [];
        IPAddress? first = null;
        List<IPAddress>? more = null;
        var index = 0;
        foreach (var item in ingress.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object)
                throw new FieldException($"status.loadBalancer.ingress[{index}]", "invalid value: expected a mapping");
            // Unparseable entries (or hostnames) are not addresses of ours.
            if (Property(item, "ip") is { } ip && TryAddress(ip, $"status.loadBalancer.ingress[{index}].ip") is { } address)
            {
                if (first is null)
                    first = address;
                else if (!first.Equals(address) && (more is null || !more.Contains(address)))
                    (more ??= []).Add(address);
            }
            index++;
        }
        return first is null ? [] : more is null ? [first] : [first, .. more];
    }

    private static EquatableArray<ServicePort> Ports(JsonElement spec)
    {
        if (OptionalArray(spec, "ports", "spec.ports") is not { } ports)
            return [];
        var result = new ServicePort[ports.GetArrayLength()];
        var count = 0;
        var index = 0;
        foreach (var item in ports.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object)
                throw new FieldException($"spec.ports[{index}]", "invalid value: expected a mapping");
            var protocol = Property(item, "protocol") is { } text
                ? text.ValueKind == JsonValueKind.String ? (text.ValueEquals("") ? "TCP" : Names.Intern(text))
                    : throw new FieldException($"spec.ports[{index}].protocol", "invalid value: expected a string")
                : "TCP";
            var port = Property(item, "port") is { } number
                ? number.ValueKind == JsonValueKind.Number && number.TryGetInt32(out var value) ? value
                    : throw new FieldException($"spec.ports[{index}].port", "invalid value: expected an integer")
                : 0;
            var servicePort = new ServicePort(protocol, port);
            if (Array.IndexOf(result, servicePort, 0, count) < 0)
                result[count++] = servicePort;
            index++;
        }
        return PortLists.Intern([.. result.AsSpan(0, count)]);
    }

    /// <summary>An IP address given as a string element, parsed without allocating a string; null when it is not one.</summary>
    private static IPAddress? TryAddress(JsonElement element, string field)
    {
        if (element.ValueKind != JsonValueKind.String)
            throw new FieldException(field, "invalid value: expected a string");
        Span<char> chars = stackalloc char[64];
        if (Names.TryChars(element, chars, out var length))
            return StrictIP.TryParse(chars[..length].Trim(), out var address) ? address : null;
        return StrictIP.TryParse(element.GetString()!.Trim(), out var parsed) ? parsed : null;
    }

    /// <summary>True when the property is the string <paramref name="expected"/>; a value of another type is an error.</summary>
    private static bool StringIs(JsonElement parent, string name, string field, string expected) => Property(parent, name) switch
    {
        null => false,
        { ValueKind: JsonValueKind.String } value => value.ValueEquals(expected),
        _ => throw new FieldException(field, "invalid value: expected a string"),
    };

    /// <summary>MetalLB's backend key for externalTrafficPolicy Local: the selector as a sorted k=v list.</summary>
    private static string SelectorKey(JsonElement spec) =>
        StringMap(spec, "selector", "spec.selector") is { } selector
            ? string.Join(',', selector.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"))
            : "";

    private static string? Annotation(JsonElement? annotations, string name, string? legacyName)
    {
        if (annotations is not { } map)
            return null;
        var value = map.TryGetProperty(name, out var found) || legacyName is not null && map.TryGetProperty(legacyName, out found)
            ? found.ValueKind == JsonValueKind.String ? found.GetString() : null
            : null;
        return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }

    // ---- EndpointSlice ----

    private static readonly Interner<EquatableArray<string>> NodeLists = new(10_000);

    private static EndpointSliceInfo EndpointSlice(Document document)
    {
        var (root, key, metadata, _, _) = document;
        var service = metadata.Labels.TryGetValue(MetalLbNames.ServiceNameLabel, out var name) ? key.Namespace + "/" + name : null;
        var serving = false;
        string? firstNode = null;
        List<string>? moreNodes = null;
        if (OptionalArray(root, "endpoints", "endpoints") is { } endpoints)
        {
            var index = 0;
            foreach (var endpoint in endpoints.EnumerateArray())
            {
                if (endpoint.ValueKind != JsonValueKind.Object)
                    throw new FieldException($"endpoints[{index}]", "invalid value: expected a mapping");
                bool? ready = null, servingCondition = null;
                if (Property(endpoint, "conditions") is { } conditions)
                {
                    if (conditions.ValueKind != JsonValueKind.Object)
                        throw new FieldException($"endpoints[{index}].conditions", "invalid value: expected a mapping");
                    ready = Condition(conditions, "ready", index);
                    servingCondition = Condition(conditions, "serving", index);
                }
                if (ready is null or true || servingCondition == true)
                {
                    serving = true;
                    if (Property(endpoint, "nodeName") is { } nodeName)
                    {
                        if (nodeName.ValueKind != JsonValueKind.String)
                            throw new FieldException($"endpoints[{index}].nodeName", "invalid value: expected a string");
                        var node = Names.Intern(nodeName);
                        if (node.Length > 0 && firstNode is null)
                            firstNode = node;
                        else if (node.Length > 0 && node != firstNode && (moreNodes is null || !moreNodes.Contains(node)))
                            (moreNodes ??= []).Add(node);
                    }
                }
                else if (Property(endpoint, "nodeName") is { ValueKind: not JsonValueKind.String })
                {
                    throw new FieldException($"endpoints[{index}].nodeName", "invalid value: expected a string");
                }
                index++;
            }
        }
        EquatableArray<string> nodes = firstNode is null ? []
            : moreNodes is null ? NodeLists.Intern([firstNode])
            : NodeLists.Intern([.. moreNodes.Append(firstNode).Order(StringComparer.Ordinal)]);
        return new EndpointSliceInfo(key.Namespace + "/" + key.Name, service, serving, nodes);
    }

    private static bool? Condition(JsonElement conditions, string name, int index) => Property(conditions, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        _ => throw new FieldException($"endpoints[{index}].conditions.{name}", "invalid value: expected true or false"),
    };

    // ---- Node, Secret ----

    private static NodeInfo Node(Document document)
    {
        var (root, key, metadata, _, _) = document;
        var networkUnavailable = false;
        IPAddress? internalAddress = null;
        if (OptionalObject(root, "status", "status") is { } status)
        {
            if (OptionalArray(status, "conditions", "status.conditions") is { } conditions)
            {
                foreach (var condition in conditions.EnumerateArray())
                {
                    if (condition.ValueKind == JsonValueKind.Object
                        && OptionalString(condition, "type", "status.conditions[].type") == "NetworkUnavailable"
                        && OptionalString(condition, "status", "status.conditions[].status") == "True")
                        networkUnavailable = true;
                }
            }
            if (OptionalArray(status, "addresses", "status.addresses") is { } addresses)
            {
                foreach (var address in addresses.EnumerateArray())
                {
                    if (internalAddress is null && address.ValueKind == JsonValueKind.Object
                        && OptionalString(address, "type", "status.addresses[].type") == "InternalIP"
                        && OptionalString(address, "address", "status.addresses[].address") is { } text
                        && StrictIP.TryParse(text.Trim(), out var parsed))
                        internalAddress = parsed;
                }
            }
        }
        return new NodeInfo(Names.Intern(key.Name), metadata.Labels, networkUnavailable, internalAddress);
    }

    private static SecretInfo Secret(Document document)
    {
        var (root, key, _, _, _) = document;
        var type = OptionalString(root, "type", "type");
        string? password = null;
        if (StringMap(root, "stringData", "stringData") is { } stringData && stringData.TryGetValue("password", out var text))
        {
            password = text;
        }
        else if (StringMap(root, "data", "data") is { } data && data.TryGetValue("password", out var encoded))
        {
            try
            {
                password = Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
            }
            catch (FormatException)
            {
                throw new FieldException("data.password", "invalid value: expected base64");
            }
        }
        return new SecretInfo(key.Namespace, key.Name, type, password);
    }

    /// <summary>The metallb-excludel2 ConfigMap (any other ConfigMap is nothing to BgpLb).</summary>
    private static L2InterfaceExclusion? ConfigMap(Document document)
    {
        if (document.Key.Name != L2InterfaceExclusion.ConfigMapName)
            return null;
        const string Field = $"data.{L2InterfaceExclusion.DataKey}";
        if (StringMap(document.Root, "data", "data") is not { } data || !data.TryGetValue(L2InterfaceExclusion.DataKey, out var text))
            throw new FieldException(Field, $"missing: expected {L2InterfaceExclusion.Field}: [regular expressions of interface names]");
        JsonNode? root;
        try
        {
            root = YamlJson.Parse(text) is [var only] ? only.Root : throw new FieldException(Field, "expected one YAML document");
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new FieldException(Field, $"YAML syntax error: {e.Message}");
        }
        if (root is null)
            return new L2InterfaceExclusion([]);
        if (root is not JsonObject map)
            throw new FieldException(Field, $"expected a mapping with {L2InterfaceExclusion.Field}");
        var patterns = new List<string>();
        foreach (var (name, value) in map)
        {
            if (name != L2InterfaceExclusion.Field)
                throw new FieldException($"{Field}: {name}", $"unknown field (expected {L2InterfaceExclusion.Field})");
            if (value is null)
                continue;
            if (value is not JsonArray list)
                throw new FieldException($"{Field}: {name}", "invalid value: expected a list of regular expressions");
            foreach (var item in list)
            {
                var itemField = $"{Field}: {name}[{patterns.Count}]";
                if (item is not JsonValue scalar || !scalar.TryGetValue<string>(out var pattern))
                    throw new FieldException(itemField, "invalid value: expected a string");
                try
                {
                    _ = new Regex(pattern, RegexOptions.CultureInvariant);
                }
                catch (ArgumentException e)
                {
                    throw new FieldException(itemField, $"invalid regular expression '{pattern}': {e.Message}");
                }
                patterns.Add(pattern);
            }
        }
        return new L2InterfaceExclusion([.. patterns]);
    }

    // ---- metallb.io ----

    private static MetalLbObject Crd<TSpec>(Document document)
        where TSpec : class, new() => Crd(document, Spec<TSpec>(document.Root));

    private static MetalLbObject Crd(Document document, object spec)
    {
        var labels = document.Metadata.Labels;
        var specText = document.Root.TryGetProperty("spec", out var raw) ? raw.GetRawText() : "{}";
        return new MetalLbObject(document.Key, labels, spec, labels.Count == 0 ? specText : $"{labels}\n{specText}", document.Origin, document.Line);
    }

    private static TSpec Spec<TSpec>(JsonElement root)
        where TSpec : class, new()
    {
        foreach (var property in root.EnumerateObject())
        {
            if (property.Name is not ("apiVersion" or "kind" or "metadata" or "spec" or "status"))
                throw new FieldException(property.Name, $"unknown field '{property.Name}'");
        }
        if (!root.TryGetProperty("spec", out var spec) || spec.ValueKind == JsonValueKind.Null)
            return new();
        RejectNullItems(spec, "spec");
        return (TSpec?)spec.Deserialize(MetalLbSpecJson.Default.GetTypeInfo(typeof(TSpec))!) ?? new();
    }

    /// <summary>
    /// A null list item (a bare "-" in YAML) is an error, as in the API server's structural schemas: the spec contracts'
    /// lists would hold it as a null the validator does not expect.
    /// </summary>
    private static void RejectNullItems(JsonElement element, string path)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
                RejectNullItems(property.Value, $"{path}.{property.Name}");
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            var index = 0;
            foreach (var item in element.EnumerateArray())
            {
                var itemPath = $"{path}[{index++}]";
                if (item.ValueKind == JsonValueKind.Null)
                    throw new FieldException(itemPath, "invalid value: a list item must not be null");
                RejectNullItems(item, itemPath);
            }
        }
    }

    // ---- metadata and typed field access (field paths in errors) ----

    private sealed record Metadata(string? Uid, LabelDictionary Labels, JsonElement? Annotations)
    {
        /// <summary>metadata.name and metadata.namespace: what identifies the object.</summary>
        public static (string? Name, string? Namespace) ReadIdentity(JsonElement root) =>
            OptionalObject(root, "metadata", "metadata") is { } metadata
                ? (OptionalString(metadata, "name", "metadata.name"), OptionalString(metadata, "namespace", "metadata.namespace"))
                : (null, null);

        /// <summary>The rest of metadata that BgpLb reads.</summary>
        public static Metadata Read(JsonElement root)
        {
            if (OptionalObject(root, "metadata", "metadata") is not { } metadata)
                return new Metadata(null, LabelDictionary.Empty, null);
            var annotations = OptionalObject(metadata, "annotations", "metadata.annotations");
            if (annotations is { } map)
            {
                // Read only when needed, but a value that is not a string makes the object unreadable, as for kubectl.
                var rawSize = 0L;
                foreach (var property in map.EnumerateObject())
                {
                    if (property.Value.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
                        throw new FieldException($"metadata.annotations.{property.Name}", "invalid value: expected a string");
                    rawSize += JsonMarshal.GetRawUtf8PropertyName(property).Length + JsonMarshal.GetRawUtf8Value(property.Value).Length;
                }
                // The escaped form is never shorter; only near the limit is the exact size worth computing.
                if (rawSize > KubernetesLimits.AnnotationsBytes && AnnotationsSize(map) is var size && size > KubernetesLimits.AnnotationsBytes)
                    throw new FieldException("metadata.annotations", $"annotations are {size} bytes, more than Kubernetes' limit of {KubernetesLimits.AnnotationsBytes}");
            }
            return new Metadata(OptionalString(metadata, "uid", "metadata.uid"), ReadLabels(metadata), annotations);
        }

        /// <summary>As the API server counts (apimachinery ValidateAnnotationsSize): the UTF-8 bytes of every key and value.</summary>
        private static long AnnotationsSize(JsonElement map)
        {
            var size = 0L;
            foreach (var property in map.EnumerateObject())
                size += Encoding.UTF8.GetByteCount(property.Name) + Encoding.UTF8.GetByteCount(property.Value.GetString() ?? "");
            return size;
        }

        private static LabelDictionary ReadLabels(JsonElement metadata)
        {
            if (OptionalObject(metadata, "labels", "metadata.labels") is not { } map)
                return LabelDictionary.Empty;
            List<KeyValuePair<string, string>>? labels = null;
            foreach (var property in map.EnumerateObject())
            {
                var value = property.Value.ValueKind switch
                {
                    JsonValueKind.String => property.Value.GetString()!,
                    JsonValueKind.Null => "",
                    _ => throw new FieldException($"metadata.labels.{property.Name}", "invalid value: expected a string"),
                };
                if (KubernetesLimits.CheckLabel(property.Name, value) is { } problem)
                    throw new FieldException($"metadata.labels.{property.Name}", problem);
                (labels ??= []).Add(KeyValuePair.Create(Names.Intern(property.Name), value));
            }
            return labels is null ? LabelDictionary.Empty : new LabelDictionary(labels);
        }
    }

    // apiVersion and kind of every document: the known ones are matched without allocating a string.
    private static readonly string[] KnownTopValues =
    [
        "v1", "discovery.k8s.io/v1", "metallb.io/v1beta1", "metallb.io/v1beta2",
        "Service", "EndpointSlice", "Node", "Namespace", "Secret", "List",
        "IPAddressPool", "BGPPeer", "BGPAdvertisement", "L2Advertisement", "Community", "BFDProfile",
    ];

    private static string? TopString(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.String)
            return null;
        foreach (var known in KnownTopValues)
        {
            if (value.ValueEquals(known))
                return known;
        }
        return value.GetString();
    }

    private static JsonElement? Property(JsonElement parent, string name) =>
        parent.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    private static JsonElement? OptionalObject(JsonElement parent, string name, string field) => Property(parent, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Object } value => value,
        _ => throw new FieldException(field, "invalid value: expected a mapping"),
    };

    private static JsonElement? OptionalArray(JsonElement parent, string name, string field) => Property(parent, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Array } value => value,
        _ => throw new FieldException(field, "invalid value: expected a list"),
    };

    private static string? OptionalString(JsonElement parent, string name, string field) =>
        Property(parent, name) is { } value ? StringItem(value, field) : null;

    private static string StringItem(JsonElement value, string field) =>
        value.ValueKind == JsonValueKind.String ? value.GetString()! : throw new FieldException(field, "invalid value: expected a string");

    private static int? OptionalInt(JsonElement parent, string name, string field) => Property(parent, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } value when value.TryGetInt32(out var number) => number,
        _ => throw new FieldException(field, "invalid value: expected an integer"),
    };

    private static Dictionary<string, string>? StringMap(JsonElement parent, string name, string field)
    {
        if (OptionalObject(parent, name, field) is not { } map)
            return null;
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in map.EnumerateObject())
        {
            var value = property.Value.ValueKind switch
            {
                JsonValueKind.String => property.Value.GetString()!,
                JsonValueKind.Null => "",
                _ => throw new FieldException($"{field}.{property.Name}", "invalid value: expected a string"),
            };
            result[Names.Intern(property.Name)] = value;
        }
        return result;
    }

    private static string FieldPath(string prefix, JsonException e)
    {
        var path = e.Path is null or "$" ? "" : e.Path.StartsWith("$.", StringComparison.Ordinal) ? e.Path[2..] : e.Path[1..];
        return prefix.Length == 0 ? path : path.Length == 0 ? prefix : path.StartsWith('[') ? prefix + path : $"{prefix}.{path}";
    }

    private static string ErrorText(JsonException e)
    {
        var message = e.Message;
        if (message.StartsWith("The JSON property '", StringComparison.Ordinal) && message.Contains("could not be mapped", StringComparison.Ordinal))
            return $"unknown field '{message.Split('\'')[1]}'";
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

    private sealed class FieldException(string field, string message) : Exception(message)
    {
        public string Field { get; } = field;
    }
}
