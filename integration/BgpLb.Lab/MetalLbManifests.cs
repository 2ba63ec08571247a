using System.Globalization;
using System.Net;
using System.Text;

namespace BgpLb.Netlab;

/// <summary>
/// Kubernetes-style YAML documents for a bgplb-speaker config directory (DESIGN.md §4): the MetalLB CRDs in
/// metallb-system, Services with their allocated address in status.loadBalancer.ingress, EndpointSlices and Nodes.
/// </summary>
public static class MetalLbManifests
{
    private const string MetalLbNamespace = "metallb-system";

    /// <summary>A Node; <paramref name="labels"/> beside kubernetes.io/hostname, and with <paramref name="networkUnavailable"/> the NetworkUnavailable condition True.</summary>
    public static string Node(string name, IPAddress internalIp, IReadOnlyDictionary<string, string>? labels = null, bool networkUnavailable = false) => $"""
        apiVersion: v1
        kind: Node
        metadata:
          name: {name}
          labels:
            kubernetes.io/hostname: {name}
        {Map(labels, "    ")}
        status:
          addresses:
          - type: InternalIP
            address: {internalIp}
        {(networkUnavailable ? "  conditions:\n  - type: NetworkUnavailable\n    status: \"True\"\n    reason: RouteCreationFailed" : "")}
        """;

    public static string IpAddressPool(string name, params string[] addresses) => $"""
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata:
          name: {name}
          namespace: {MetalLbNamespace}
        spec:
          addresses:
        {Items(addresses, "  ")}
        """;

    /// <summary>A BGPPeer (v1beta2). <paramref name="holdTime"/> is a Go duration such as "3s".</summary>
    public static string BgpPeer(
        string name, uint myAsn, uint peerAsn, IPAddress peerAddress, string? holdTime = null, string? password = null, IPAddress? sourceAddress = null, bool ebgpMultiHop = false,
        string? passwordSecret = null, string? bfdProfile = null, bool gracefulRestart = false)
    {
        var yaml = new StringBuilder($"""
            apiVersion: metallb.io/v1beta2
            kind: BGPPeer
            metadata:
              name: {name}
              namespace: {MetalLbNamespace}
            spec:
              myASN: {myAsn}
              peerASN: {peerAsn}
              peerAddress: {peerAddress}
            """);
        AppendIf(yaml, holdTime, "  holdTime: ");
        AppendIf(yaml, password is null ? null : $"\"{password}\"", "  password: ");
        AppendIf(yaml, sourceAddress?.ToString(), "  sourceAddress: ");
        AppendIf(yaml, ebgpMultiHop ? "true" : null, "  ebgpMultiHop: ");
        AppendIf(yaml, passwordSecret is null ? null : $"{{name: {passwordSecret}, namespace: {MetalLbNamespace}}}", "  passwordSecret: ");
        AppendIf(yaml, bfdProfile, "  bfdProfile: ");
        AppendIf(yaml, gracefulRestart ? "true" : null, "  enableGracefulRestart: ");
        return yaml.ToString();
    }

    /// <summary>A BFDProfile; intervals in milliseconds.</summary>
    public static string BfdProfile(string name, int receiveInterval, int transmitInterval, int detectMultiplier, int? minimumTtl = null) => $"""
        apiVersion: metallb.io/v1beta1
        kind: BFDProfile
        metadata:
          name: {name}
          namespace: {MetalLbNamespace}
        spec:
          receiveInterval: {receiveInterval}
          transmitInterval: {transmitInterval}
          detectMultiplier: {detectMultiplier}
        {(minimumTtl is { } ttl ? $"  minimumTtl: {ttl}" : string.Empty)}
        """;

    /// <summary>A kubernetes.io/basic-auth Secret in metallb-system holding a BGPPeer's TCP MD5 password (base64 in data).</summary>
    public static string PasswordSecret(string name, string password) => $"""
        apiVersion: v1
        kind: Secret
        metadata:
          name: {name}
          namespace: {MetalLbNamespace}
        type: kubernetes.io/basic-auth
        data:
          password: {Convert.ToBase64String(Encoding.UTF8.GetBytes(password))}
        """;

    /// <summary>A BGPAdvertisement; communities as "AA:NN" or "large:G:L1:L2"; <paramref name="nodeSelector"/> as one matchLabels selector.</summary>
    public static string BgpAdvertisement(
        string name, IReadOnlyList<string> pools, IReadOnlyList<string>? communities = null, uint? localPref = null, IReadOnlyDictionary<string, string>? nodeSelector = null)
    {
        var yaml = new StringBuilder($"""
            apiVersion: metallb.io/v1beta1
            kind: BGPAdvertisement
            metadata:
              name: {name}
              namespace: {MetalLbNamespace}
            spec:
              ipAddressPools:
            {Items(pools, "  ")}
            """);
        if (communities is { Count: > 0 })
        {
            yaml.Append("\n  communities:\n").Append(Items(communities, "  "));
        }

        AppendIf(yaml, localPref?.ToString(CultureInfo.InvariantCulture), "  localPref: ");
        if (nodeSelector is not null)
        {
            yaml.Append("\n  nodeSelectors:\n  - matchLabels:\n").Append(Map(nodeSelector, "      "));
        }

        return yaml.ToString();
    }

    /// <summary>A LoadBalancer Service whose allocated address is already in status.loadBalancer.ingress.</summary>
    public static string Service(
        string name, IPAddress ingress, string externalTrafficPolicy = "Cluster", string serviceNamespace = "default", IReadOnlyDictionary<string, string>? annotations = null,
        int port = 80) =>
        LoadBalancerService(name, serviceNamespace, annotations, port, $"""
              externalTrafficPolicy: {externalTrafficPolicy}
            status:
              loadBalancer:
                ingress:
                - ip: {ingress}
            """);

    /// <summary>
    /// A LoadBalancer Service without an address: the controller (or the speaker's own allocator) picks one from the pools,
    /// or takes <paramref name="requested"/> (metallb.io/loadBalancerIPs).
    /// </summary>
    public static string ServiceWithoutAddress(
        string name, string serviceNamespace = "default", IPAddress? requested = null, IReadOnlyDictionary<string, string>? annotations = null, int port = 80) =>
        LoadBalancerService(name, serviceNamespace,
            requested is null ? annotations : new Dictionary<string, string>(annotations ?? new Dictionary<string, string>()) { ["metallb.io/loadBalancerIPs"] = requested.ToString() },
            port, "");

    private static string LoadBalancerService(string name, string serviceNamespace, IReadOnlyDictionary<string, string>? annotations, int port, string rest) => $"""
        apiVersion: v1
        kind: Service
        metadata:
          name: {name}
          namespace: {serviceNamespace}
        {(annotations is null ? "" : "  annotations:\n" + Map(annotations, "    "))}
        spec:
          type: LoadBalancer
          selector:
            app: {name}
          ports:
          - name: http
            port: {port}
            protocol: TCP
            targetPort: 8080
        {rest}
        """;

    /// <summary>An EndpointSlice of <paramref name="service"/> with one endpoint on <paramref name="nodeName"/>.</summary>
    public static string EndpointSlice(string service, string nodeName, IPAddress endpoint, bool ready = true, string serviceNamespace = "default") => $"""
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: {service}-{nodeName}
          namespace: {serviceNamespace}
          labels:
            kubernetes.io/service-name: {service}
        addressType: {(endpoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4")}
        endpoints:
        - addresses:
          - {endpoint}
          conditions:
            ready: {(ready ? "true" : "false")}
          nodeName: {nodeName}
        ports:
        - name: http
          port: 8080
          protocol: TCP
        """;

    /// <summary>Writes the documents as one multi-document YAML file into <paramref name="directory"/>.</summary>
    public static string Write(string directory, string fileName, IEnumerable<string> documents)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, fileName);
        File.WriteAllText(path, string.Join("\n---\n", documents) + "\n");
        return path;
    }

    private static string Map(IReadOnlyDictionary<string, string>? values, string indent) =>
        values is null ? "" : string.Join('\n', values.Select(v => $"{indent}{v.Key}: \"{v.Value}\""));

    private static string Items(IEnumerable<string> values, string indent) =>
        string.Join('\n', values.Select(v => $"{indent}- \"{v}\""));

    private static void AppendIf(StringBuilder yaml, string? value, string key)
    {
        if (value is not null)
        {
            yaml.Append('\n').Append(key).Append(value);
        }
    }
}
