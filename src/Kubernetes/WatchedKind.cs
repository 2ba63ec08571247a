using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;

namespace BgpLb.Kubernetes;

/// <summary>One full list of a kind: the items as JSON (apiVersion and kind filled in) and the list's resourceVersion.</summary>
internal sealed record KindList(string ResourceVersion, IReadOnlyList<JsonObject> Items);

/// <summary>
/// How one kind is listed and watched through KubernetesClient. Objects are handled as JSON so that metallb.io objects
/// reach <see cref="Config.ManifestParser"/> exactly as the API server sent them (a misspelt field stays visible).
/// </summary>
internal sealed record WatchedKind(
    string Kind,
    string ApiVersion,
    Func<IKubernetes, CancellationToken, Task<KindList>> List,
    Func<IKubernetes, WatchRequest, IAsyncEnumerable<(WatchEventType Type, JsonObject Object)>> Watch)
{
    /// <summary>The kinds KubeStore reads: MetalLB's CRDs and Secrets in <paramref name="metalLbNamespace"/>, the rest cluster-wide.</summary>
    public static IReadOnlyList<WatchedKind> All(string metalLbNamespace) =>
    [
        Crd("IPAddressPool", "v1beta1", "ipaddresspools", metalLbNamespace),
        // v1beta2 is the storage version; the API server serves v1beta1 objects under it as well.
        Crd("BGPPeer", "v1beta2", "bgppeers", metalLbNamespace),
        Crd("BGPAdvertisement", "v1beta1", "bgpadvertisements", metalLbNamespace),
        Crd("L2Advertisement", "v1beta1", "l2advertisements", metalLbNamespace),
        Crd("Community", "v1beta1", "communities", metalLbNamespace),
        Crd("BFDProfile", "v1beta1", "bfdprofiles", metalLbNamespace),
        Typed<V1ServiceList, V1Service>("Service", "v1",
            (k, ct) => k.CoreV1.ListServiceForAllNamespacesAsync(cancellationToken: ct),
            (k, w) => k.CoreV1.WatchListServiceForAllNamespacesAsync(allowWatchBookmarks: true, resourceVersion: w.ResourceVersion,
                timeoutSeconds: w.TimeoutSeconds, onError: w.OnError, cancellationToken: w.CancellationToken)),
        Typed<V1NodeList, V1Node>("Node", "v1",
            (k, ct) => k.CoreV1.ListNodeAsync(cancellationToken: ct),
            (k, w) => k.CoreV1.WatchListNodeAsync(allowWatchBookmarks: true, resourceVersion: w.ResourceVersion,
                timeoutSeconds: w.TimeoutSeconds, onError: w.OnError, cancellationToken: w.CancellationToken)),
        Typed<V1SecretList, V1Secret>("Secret", "v1",
            (k, ct) => k.CoreV1.ListNamespacedSecretAsync(metalLbNamespace, cancellationToken: ct),
            (k, w) => k.CoreV1.WatchListNamespacedSecretAsync(metalLbNamespace, allowWatchBookmarks: true, resourceVersion: w.ResourceVersion,
                timeoutSeconds: w.TimeoutSeconds, onError: w.OnError, cancellationToken: w.CancellationToken)),
        Typed<V1NamespaceList, V1Namespace>("Namespace", "v1",
            (k, ct) => k.CoreV1.ListNamespaceAsync(cancellationToken: ct),
            (k, w) => k.CoreV1.WatchListNamespaceAsync(allowWatchBookmarks: true, resourceVersion: w.ResourceVersion,
                timeoutSeconds: w.TimeoutSeconds, onError: w.OnError, cancellationToken: w.CancellationToken)),
        Typed<V1EndpointSliceList, V1EndpointSlice>("EndpointSlice", "discovery.k8s.io/v1",
            (k, ct) => k.DiscoveryV1.ListEndpointSliceForAllNamespacesAsync(cancellationToken: ct),
            (k, w) => k.DiscoveryV1.WatchListEndpointSliceForAllNamespacesAsync(allowWatchBookmarks: true, resourceVersion: w.ResourceVersion,
                timeoutSeconds: w.TimeoutSeconds, onError: w.OnError, cancellationToken: w.CancellationToken)),
    ];

    private static WatchedKind Crd(string kind, string version, string plural, string ns) => new(
        kind,
        $"{Config.ManifestParser.MetalLbGroup}/{version}",
        async (k, ct) =>
        {
            var list = await k.CustomObjects.ListNamespacedCustomObjectAsync<JsonObject>(
                Config.ManifestParser.MetalLbGroup, version, ns, plural, cancellationToken: ct);
            var items = (list["items"] as JsonArray ?? []).OfType<JsonObject>().Select(i => (JsonObject)i.DeepClone()).ToList();
            return new KindList(list["metadata"]?["resourceVersion"]?.GetValue<string>() ?? "", items);
        },
        (k, w) => Json(k.CustomObjects.WatchListNamespacedCustomObjectAsync(Config.ManifestParser.MetalLbGroup, version, ns, plural,
            allowWatchBookmarks: true, resourceVersion: w.ResourceVersion, timeoutSeconds: w.TimeoutSeconds, onError: w.OnError,
            cancellationToken: w.CancellationToken), w.CancellationToken));

    private static WatchedKind Typed<TList, T>(string kind, string apiVersion,
        Func<IKubernetes, CancellationToken, Task<TList>> list,
        Func<IKubernetes, WatchRequest, IAsyncEnumerable<(WatchEventType, T)>> watch)
        where TList : IKubernetesObject<V1ListMeta>, IItems<T>
        where T : class => new(
        kind,
        apiVersion,
        async (k, ct) =>
        {
            var result = await list(k, ct);
            return new KindList(result.Metadata?.ResourceVersion ?? "", [.. (result.Items ?? []).Select(ToJson)]);
        },
        (k, w) => Json(watch(k, w), w.CancellationToken));

    private static async IAsyncEnumerable<(WatchEventType, JsonObject)> Json<T>(IAsyncEnumerable<(WatchEventType, T)> events,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var (type, item) in events.WithCancellation(cancellationToken))
        {
            yield return (type, ToJson(item));
        }
    }

    private static JsonObject ToJson<T>(T item) => item switch
    {
        JsonElement element => JsonObject.Create(element) ?? [],
        JsonObject json => json,
        _ => JsonNode.Parse(KubernetesJson.Serialize(item)) as JsonObject ?? [],
    };
}

/// <summary>Arguments of one watch request.</summary>
internal sealed record WatchRequest(string ResourceVersion, int TimeoutSeconds, Action<Exception> OnError, CancellationToken CancellationToken);
