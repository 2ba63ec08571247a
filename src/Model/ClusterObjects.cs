using System.Net;

namespace BgpLb.Model;

/// <summary>
/// What BgpLb uses of one EndpointSlice: whose it is and where it can serve. An endpoint can serve when
/// conditions.ready is unset or true, or when it is terminating but conditions.serving is true.
/// </summary>
/// <param name="Key">"namespace/name" of the slice.</param>
/// <param name="Service">"namespace/name" of the Service (label kubernetes.io/service-name); null without the label.</param>
/// <param name="Serving">Some endpoint can serve (with or without a node).</param>
/// <param name="ServingNodes">The nodes with an endpoint that can serve, sorted, distinct.</param>
public sealed record EndpointSliceInfo(string Key, string? Service, bool Serving, EquatableArray<string> ServingNodes)
{
    /// <summary>Where this slice alone can serve.</summary>
    public EndpointSummary Summary => new(Serving, ServingNodes);
}

/// <summary>The serving endpoints of one Service, over all its slices.</summary>
public sealed record EndpointSummary(bool ServingAnywhere, EquatableArray<string> ServingNodes)
{
    public static EndpointSummary None { get; } = new(false, []);

    public bool ServingOn(string node) => ServingNodes.AsImmutableArray().AsSpan().BinarySearch(node, StringComparer.Ordinal) >= 0;

    /// <summary>The summary of a Service's slices, from each slice's own summary.</summary>
    public static EndpointSummary Of(IEnumerable<EndpointSummary> slices)
    {
        List<EndpointSummary> all = [.. slices];
        if (all.Count == 1)
            return all[0].ServingAnywhere || !all[0].ServingNodes.IsEmpty ? all[0] : None;
        var serving = all.Any(s => s.ServingAnywhere);
        var nodes = new SortedSet<string>(all.SelectMany(s => s.ServingNodes), StringComparer.Ordinal);
        return !serving && nodes.Count == 0 ? None : new EndpointSummary(serving, [.. nodes]);
    }
}

/// <summary>What BgpLb uses of one Node.</summary>
/// <param name="NetworkUnavailable">The NetworkUnavailable condition is True.</param>
/// <param name="InternalAddress">The first InternalIP of status.addresses (where the L2 speakers reach each other).</param>
public sealed record NodeInfo(string Name, LabelDictionary Labels, bool NetworkUnavailable, IPAddress? InternalAddress);

/// <summary>A Namespace's labels (IPAddressPool serviceAllocation.namespaceSelectors).</summary>
public sealed record NamespaceInfo(string Name, LabelDictionary Labels);

/// <summary>What BgpLb uses of a Secret: its type and the password key (BGPPeer passwordSecret).</summary>
/// <param name="Password">data.password decoded as UTF-8, or null when the key is missing.</param>
public sealed record SecretInfo(string Namespace, string Name, string? Type, string? Password)
{
    public override string ToString() => $"{Namespace}/{Name}";
}

/// <summary>
/// MetalLB's <c>metallb-excludel2</c> ConfigMap (key <c>excludel2.yaml</c>, field <c>announcedInterfacesToExclude</c>):
/// regular expressions of interface names that L2 mode never answers on.
/// </summary>
public sealed record L2InterfaceExclusion(EquatableArray<string> Patterns)
{
    public const string ConfigMapName = "metallb-excludel2";
    public const string DataKey = "excludel2.yaml";
    public const string Field = "announcedInterfacesToExclude";

    /// <summary>What applies without the ConfigMap: the content MetalLB's manifests ship it with.</summary>
    public static L2InterfaceExclusion Default { get; } = new(
    [
        "^docker.*", "^cbr.*", "^dummy.*", "^virbr.*", "^lxcbr.*", "^veth.*", "^lo$", "^cali.*", "^tunl.*", "^flannel.*",
        "^kube-ipvs.*", "^cni.*", "^nodelocaldns.*", "^lxc.*",
    ]);
}
