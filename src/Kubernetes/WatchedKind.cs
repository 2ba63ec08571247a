using System.Text.Json;
using k8s;

namespace BgpLb.Kubernetes;

/// <summary>
/// One kind <see cref="KubeStore"/> reads. Every kind, built-in or metallb.io, goes through KubernetesClient's generic
/// custom-object API (the client maps the group "" to <c>/api/v1</c>) and is decoded once, into a
/// <see cref="JsonElement"/>: no typed KubernetesClient model is ever built.
/// </summary>
/// <param name="Namespace">The one namespace to read, or null for every namespace (or a cluster-scoped kind).</param>
internal sealed record WatchedKind(string Kind, string Group, string Version, string Plural, string? Namespace)
{
    public string ApiVersion { get; } = Group.Length == 0 ? Version : $"{Group}/{Version}";

    public bool IsClusterScoped => Kind is "Node" or "Namespace";

    /// <summary>
    /// The kinds KubeStore reads: MetalLB's CRDs, Secrets (unless <see cref="Config.ConfigOptions.ReadSecrets"/> is false) and
    /// ConfigMaps in the MetalLB namespace, the rest cluster-wide.
    /// </summary>
    public static IReadOnlyList<WatchedKind> All(Config.ConfigOptions options)
    {
        var metalLbNamespace = options.MetalLbNamespace;
        List<WatchedKind> kinds =
        [
            new("IPAddressPool", Config.ObjectProjector.MetalLbGroup, "v1beta1", "ipaddresspools", metalLbNamespace),
            // v1beta2 is the storage version; the API server serves v1beta1 objects under it as well.
            new("BGPPeer", Config.ObjectProjector.MetalLbGroup, "v1beta2", "bgppeers", metalLbNamespace),
            new("BGPAdvertisement", Config.ObjectProjector.MetalLbGroup, "v1beta1", "bgpadvertisements", metalLbNamespace),
            new("L2Advertisement", Config.ObjectProjector.MetalLbGroup, "v1beta1", "l2advertisements", metalLbNamespace),
            new("Community", Config.ObjectProjector.MetalLbGroup, "v1beta1", "communities", metalLbNamespace),
            new("BFDProfile", Config.ObjectProjector.MetalLbGroup, "v1beta1", "bfdprofiles", metalLbNamespace),
            new("Service", "", "v1", "services", null),
            new("Node", "", "v1", "nodes", null),
            new("Secret", "", "v1", "secrets", metalLbNamespace),
            new("ConfigMap", "", "v1", "configmaps", metalLbNamespace), // metallb-excludel2

            new("Namespace", "", "v1", "namespaces", null),
            new("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices", null),
        ];
        return options.ReadSecrets ? kinds : [.. kinds.Where(k => k.Kind != "Secret")];
    }

    /// <summary>One page of a list: at most <paramref name="limit"/> items, from <paramref name="continueToken"/> (null: the first page).</summary>
    public Task<JsonElement> ListAsync(IKubernetes client, int limit, string? continueToken, CancellationToken cancellationToken) =>
        Namespace is null
            ? client.CustomObjects.ListClusterCustomObjectAsync<JsonElement>(Group, Version, Plural,
                continueParameter: continueToken, limit: limit, cancellationToken: cancellationToken)
            : client.CustomObjects.ListNamespacedCustomObjectAsync<JsonElement>(Group, Version, Namespace, Plural,
                continueParameter: continueToken, limit: limit, cancellationToken: cancellationToken);

    /// <summary>A watch from <paramref name="resourceVersion"/> with bookmarks; each event's object is a <see cref="JsonElement"/>.</summary>
    public IAsyncEnumerable<(WatchEventType Type, object Object)> Watch(IKubernetes client, string resourceVersion, int timeoutSeconds,
        Action<Exception> onError, CancellationToken cancellationToken) =>
        Namespace is null
            ? client.CustomObjects.WatchListClusterCustomObjectAsync(Group, Version, Plural, allowWatchBookmarks: true,
                resourceVersion: resourceVersion, timeoutSeconds: timeoutSeconds, onError: onError, cancellationToken: cancellationToken)
            : client.CustomObjects.WatchListNamespacedCustomObjectAsync(Group, Version, Namespace, Plural, allowWatchBookmarks: true,
                resourceVersion: resourceVersion, timeoutSeconds: timeoutSeconds, onError: onError, cancellationToken: cancellationToken);
}
