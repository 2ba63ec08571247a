using System.Text.Json.Nodes;

namespace BgpLb.Kubernetes.Testing;

/// <summary>Objects as a cluster would hold them, for <see cref="FakeKubeApiServer.Apply"/>.</summary>
public static class KubeObjects
{
    public const string MetalLbNamespace = "metallb-system";

    public static JsonObject Pool(string name, params string[] addresses) => new()
    {
        ["apiVersion"] = "metallb.io/v1beta1",
        ["kind"] = "IPAddressPool",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = MetalLbNamespace },
        ["spec"] = new JsonObject { ["addresses"] = new JsonArray([.. addresses.Select(a => JsonValue.Create(a))]) },
    };

    public static JsonObject Service(string ns, string name, params string[] ingress)
    {
        var service = new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Service",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["uid"] = Guid.NewGuid().ToString() },
            ["spec"] = new JsonObject
            {
                ["type"] = "LoadBalancer",
                ["selector"] = new JsonObject { ["app"] = name },
                ["ports"] = new JsonArray(new JsonObject { ["port"] = 80, ["protocol"] = "TCP" }),
            },
        };
        if (ingress.Length > 0)
        {
            service["status"] = new JsonObject
            {
                ["loadBalancer"] = new JsonObject { ["ingress"] = new JsonArray([.. ingress.Select(ip => new JsonObject { ["ip"] = ip })]) },
            };
        }
        return service;
    }

    /// <summary>The status.loadBalancer.ingress addresses of a Service (empty when none).</summary>
    public static IReadOnlyList<string> Ingress(JsonObject? service) =>
        service?["status"]?["loadBalancer"]?["ingress"]?.AsArray().Select(i => i!["ip"]!.GetValue<string>()).ToList() ?? [];

    public static string? Annotation(JsonObject? service, string name) =>
        service?["metadata"]?["annotations"]?[name]?.GetValue<string>();

    public static JsonObject Peer(string name, string address, uint myAsn, uint peerAsn, int port) => new()
    {
        ["apiVersion"] = "metallb.io/v1beta2",
        ["kind"] = "BGPPeer",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = MetalLbNamespace },
        ["spec"] = new JsonObject { ["myASN"] = myAsn, ["peerASN"] = peerAsn, ["peerAddress"] = address, ["peerPort"] = port },
    };

    /// <summary>A BGPAdvertisement of <paramref name="pools"/> (none: of every pool).</summary>
    public static JsonObject BgpAdvertisement(string name, params string[] pools) => new()
    {
        ["apiVersion"] = "metallb.io/v1beta1",
        ["kind"] = "BGPAdvertisement",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = MetalLbNamespace },
        ["spec"] = pools.Length == 0 ? new JsonObject() : new JsonObject { ["ipAddressPools"] = new JsonArray([.. pools.Select(p => JsonValue.Create(p))]) },
    };

    public static JsonObject Node(string name) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Node",
        ["metadata"] = new JsonObject { ["name"] = name, ["uid"] = Guid.NewGuid().ToString(), ["labels"] = new JsonObject { ["kubernetes.io/hostname"] = name } },
    };

    /// <summary>An EndpointSlice of the Service with one ready endpoint on <paramref name="node"/>.</summary>
    public static JsonObject EndpointSlice(string ns, string service, string node, string address) => new()
    {
        ["apiVersion"] = "discovery.k8s.io/v1",
        ["kind"] = "EndpointSlice",
        ["metadata"] = new JsonObject
        {
            ["name"] = $"{service}-abcde",
            ["namespace"] = ns,
            ["labels"] = new JsonObject { ["kubernetes.io/service-name"] = service },
        },
        ["addressType"] = "IPv4",
        ["endpoints"] = new JsonArray(new JsonObject
        {
            ["addresses"] = new JsonArray(address),
            ["conditions"] = new JsonObject { ["ready"] = true },
            ["nodeName"] = node,
        }),
        ["ports"] = new JsonArray(new JsonObject { ["port"] = 8080, ["protocol"] = "TCP" }),
    };

    /// <summary>A Lease held by <paramref name="holder"/>, renewed now, for <paramref name="seconds"/>.</summary>
    public static JsonObject Lease(string name, string holder, int seconds) => new()
    {
        ["apiVersion"] = "coordination.k8s.io/v1",
        ["kind"] = "Lease",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = MetalLbNamespace },
        ["spec"] = new JsonObject
        {
            ["holderIdentity"] = holder,
            ["leaseDurationSeconds"] = seconds,
            ["renewTime"] = DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", System.Globalization.CultureInfo.InvariantCulture),
        },
    };
}
