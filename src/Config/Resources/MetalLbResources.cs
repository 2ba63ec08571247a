using System.Text.Json.Serialization;

namespace BgpLb.Config.Resources;

/// <summary>
/// A metallb.io custom resource as read from a source: its key, labels and strictly parsed spec (one of the *Spec
/// classes below; BGPPeer always in the v1beta2 shape). <see cref="Content"/> is the object's labels and spec as JSON
/// text: two versions with the same content (and place) are the same object, whatever their resourceVersion.
/// </summary>
public sealed record MetalLbObject(ResourceKey Key, LabelDictionary Labels, object Spec, string Content, string Origin, int? Line)
{
    public string Name => Key.Name;

    public bool Equals(MetalLbObject? other) => other is not null && Key == other.Key && Content == other.Content && Origin == other.Origin && Line == other.Line;

    public override int GetHashCode() => HashCode.Combine(Key, Content);
}

public sealed class IPAddressPoolSpec
{
    [JsonPropertyName("addresses")] public IList<string>? Addresses { get; set; }
    [JsonPropertyName("autoAssign")] public bool? AutoAssign { get; set; }
    [JsonPropertyName("avoidBuggyIPs")] public bool AvoidBuggyIPs { get; set; }
    [JsonPropertyName("serviceAllocation")] public ServiceAllocationSpec? ServiceAllocation { get; set; }
}

public sealed class ServiceAllocationSpec
{
    [JsonPropertyName("priority")] public int Priority { get; set; }
    [JsonPropertyName("namespaces")] public IList<string>? Namespaces { get; set; }
    [JsonPropertyName("namespaceSelectors")] public IList<LabelSelectorSpec>? NamespaceSelectors { get; set; }
    [JsonPropertyName("serviceSelectors")] public IList<LabelSelectorSpec>? ServiceSelectors { get; set; }
}

public sealed class BGPPeerSpec
{
    [JsonPropertyName("myASN")] public uint? MyASN { get; set; }
    [JsonPropertyName("peerASN")] public uint? PeerASN { get; set; }
    [JsonPropertyName("dynamicASN")] public string? DynamicASN { get; set; }
    [JsonPropertyName("localASN")] public uint? LocalASN { get; set; }
    [JsonPropertyName("peerAddress")] public string? PeerAddress { get; set; }
    [JsonPropertyName("interface")] public string? Interface { get; set; }
    [JsonPropertyName("sourceAddress")] public string? SourceAddress { get; set; }
    [JsonPropertyName("peerPort")] public int? PeerPort { get; set; }
    [JsonPropertyName("holdTime")] public string? HoldTime { get; set; }
    [JsonPropertyName("keepaliveTime")] public string? KeepaliveTime { get; set; }
    [JsonPropertyName("connectTime")] public string? ConnectTime { get; set; }
    [JsonPropertyName("routerID")] public string? RouterID { get; set; }
    [JsonPropertyName("nodeSelectors")] public IList<LabelSelectorSpec>? NodeSelectors { get; set; }
    [JsonPropertyName("password")] public string? Password { get; set; }
    [JsonPropertyName("passwordSecret")] public SecretReference? PasswordSecret { get; set; }
    [JsonPropertyName("bfdProfile")] public string? BfdProfile { get; set; }
    [JsonPropertyName("enableGracefulRestart")] public bool EnableGracefulRestart { get; set; }
    [JsonPropertyName("ebgpMultiHop")] public bool EbgpMultiHop { get; set; }
    [JsonPropertyName("vrf")] public string? Vrf { get; set; }
    [JsonPropertyName("disableMP")] public bool DisableMP { get; set; }
    [JsonPropertyName("dualStackAddressFamily")] public bool DualStackAddressFamily { get; set; }
}

public sealed class SecretReference
{
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("namespace")] public string? Namespace { get; set; }
}

/// <summary>The BGPPeer v1beta1 spec exactly as MetalLB serves it (only used while parsing).</summary>
public sealed class BGPPeerV1Beta1Spec
{
    [JsonPropertyName("myASN")] public uint? MyASN { get; set; }
    [JsonPropertyName("peerASN")] public uint? PeerASN { get; set; }
    [JsonPropertyName("peerAddress")] public string? PeerAddress { get; set; }
    [JsonPropertyName("sourceAddress")] public string? SourceAddress { get; set; }
    [JsonPropertyName("peerPort")] public int? PeerPort { get; set; }
    [JsonPropertyName("holdTime")] public string? HoldTime { get; set; }
    [JsonPropertyName("keepaliveTime")] public string? KeepaliveTime { get; set; }
    [JsonPropertyName("routerID")] public string? RouterID { get; set; }
    [JsonPropertyName("nodeSelectors")] public IList<V1Beta1NodeSelector>? NodeSelectors { get; set; }
    [JsonPropertyName("password")] public string? Password { get; set; }
    [JsonPropertyName("bfdProfile")] public string? BfdProfile { get; set; }
    [JsonPropertyName("ebgpMultiHop")] public bool EbgpMultiHop { get; set; }
    [JsonPropertyName("vrf")] public string? Vrf { get; set; }

    public BGPPeerSpec ToV1Beta2() => new()
    {
        MyASN = MyASN,
        PeerASN = PeerASN,
        PeerAddress = PeerAddress,
        SourceAddress = SourceAddress,
        PeerPort = PeerPort,
        HoldTime = HoldTime,
        KeepaliveTime = KeepaliveTime,
        RouterID = RouterID,
        NodeSelectors = NodeSelectors?.Select(s => s.ToLabelSelector()).ToList(),
        Password = Password,
        BfdProfile = BfdProfile,
        EbgpMultiHop = EbgpMultiHop,
        Vrf = Vrf,
    };
}

public sealed class V1Beta1NodeSelector
{
    [JsonPropertyName("matchLabels")] public IDictionary<string, string>? MatchLabels { get; set; }
    [JsonPropertyName("matchExpressions")] public IList<V1Beta1MatchExpression>? MatchExpressions { get; set; }

    public LabelSelectorSpec ToLabelSelector() => new()
    {
        MatchLabels = MatchLabels,
        MatchExpressions = MatchExpressions?.Select(e => new LabelSelectorRequirementSpec
        {
            Key = e.Key ?? "",
            Operator = CanonicalOperator(e.Operator),
            Values = e.Values,
        }).ToList(),
    };

    // v1beta1 (from the old ConfigMap format) accepted operators in any case.
    private static string CanonicalOperator(string? op) =>
        LabelSelector.Operators.FirstOrDefault(o => string.Equals(o, op, StringComparison.OrdinalIgnoreCase)) ?? op ?? "";
}

public sealed class V1Beta1MatchExpression
{
    [JsonPropertyName("key")] public string? Key { get; set; }
    [JsonPropertyName("operator")] public string? Operator { get; set; }
    [JsonPropertyName("values")] public IList<string>? Values { get; set; }
}

public sealed class BGPAdvertisementSpec
{
    [JsonPropertyName("aggregationLength")] public int? AggregationLength { get; set; }
    [JsonPropertyName("aggregationLengthV6")] public int? AggregationLengthV6 { get; set; }
    [JsonPropertyName("localPref")] public uint LocalPref { get; set; }
    [JsonPropertyName("communities")] public IList<string>? Communities { get; set; }
    [JsonPropertyName("ipAddressPools")] public IList<string>? IPAddressPools { get; set; }
    [JsonPropertyName("ipAddressPoolSelectors")] public IList<LabelSelectorSpec>? IPAddressPoolSelectors { get; set; }
    [JsonPropertyName("nodeSelectors")] public IList<LabelSelectorSpec>? NodeSelectors { get; set; }
    [JsonPropertyName("peers")] public IList<string>? Peers { get; set; }
    [JsonPropertyName("serviceSelectors")] public IList<LabelSelectorSpec>? ServiceSelectors { get; set; }
}

public sealed class L2AdvertisementSpec
{
    [JsonPropertyName("ipAddressPools")] public IList<string>? IPAddressPools { get; set; }
    [JsonPropertyName("ipAddressPoolSelectors")] public IList<LabelSelectorSpec>? IPAddressPoolSelectors { get; set; }
    [JsonPropertyName("nodeSelectors")] public IList<LabelSelectorSpec>? NodeSelectors { get; set; }
    [JsonPropertyName("interfaces")] public IList<string>? Interfaces { get; set; }
    [JsonPropertyName("serviceSelectors")] public IList<LabelSelectorSpec>? ServiceSelectors { get; set; }
    [JsonPropertyName("preferredNodeSelectors")] public IList<PreferredNodeSelector>? PreferredNodeSelectors { get; set; }
}

public sealed class PreferredNodeSelector
{
    [JsonPropertyName("weight")] public int Weight { get; set; }
    [JsonPropertyName("preference")] public LabelSelectorSpec? Preference { get; set; }
}

public sealed class CommunitySpec
{
    [JsonPropertyName("communities")] public IList<CommunityAlias>? Communities { get; set; }
}

public sealed class CommunityAlias
{
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("value")] public string? Value { get; set; }
}

public sealed class BFDProfileSpec
{
    [JsonPropertyName("receiveInterval")] public uint? ReceiveInterval { get; set; }
    [JsonPropertyName("transmitInterval")] public uint? TransmitInterval { get; set; }
    [JsonPropertyName("detectMultiplier")] public uint? DetectMultiplier { get; set; }
    [JsonPropertyName("echoInterval")] public uint? EchoInterval { get; set; }
    [JsonPropertyName("echoMode")] public bool EchoMode { get; set; }
    [JsonPropertyName("passiveMode")] public bool PassiveMode { get; set; }
    [JsonPropertyName("minimumTtl")] public uint? MinimumTtl { get; set; }
}

/// <summary>
/// The metallb.io specs' JSON contracts, generated at build time (no reflection at run time): a misspelt field is an
/// error, as the API server's structural schemas make it.
/// </summary>
[JsonSourceGenerationOptions(UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(IPAddressPoolSpec))]
[JsonSerializable(typeof(BGPPeerSpec))]
[JsonSerializable(typeof(BGPPeerV1Beta1Spec))]
[JsonSerializable(typeof(BGPAdvertisementSpec))]
[JsonSerializable(typeof(L2AdvertisementSpec))]
[JsonSerializable(typeof(CommunitySpec))]
[JsonSerializable(typeof(BFDProfileSpec))]
internal sealed partial class MetalLbSpecJson : JsonSerializerContext;
