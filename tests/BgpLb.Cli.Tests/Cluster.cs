using BgpLb.Cli;
using BgpLb.StatusApi;

namespace BgpLb.Cli.Tests;

/// <summary>A config directory written by a test, and bgplb run against it in process.</summary>
internal sealed class Cluster : IDisposable
{
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("bgplb-cli-").FullName;

    /// <summary>Writes (or replaces) a YAML file of the directory.</summary>
    public Cluster Write(string file, params string[] documents)
    {
        File.WriteAllText(Path.Combine(Directory, file), string.Join("\n---\n", documents));
        return this;
    }

    public async Task<Explanation> ExplainAsync(string service = "default/web", IReadOnlyList<SpeakerStatus>? speakers = null, IReadOnlyList<ProbeResult>? probes = null,
        string? lbClass = null)
    {
        var options = CliOptions.Parse(["explain", service, "--config", Directory, .. lbClass is null ? (string[])[] : ["--lb-class", lbClass]], _ => null);
        var snapshot = await ClusterSnapshot.LoadAsync(options, BgpLbCommand.SourceTimeout, CancellationToken.None);
        return Explainer.Explain(snapshot, service, speakers ?? [], probes);
    }

    /// <summary>Runs the command line as bgplb does; returns the exit code and what it printed.</summary>
    public static async Task<(int Code, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await BgpLbCommand.RunAsync(args, output, error, _ => null, CancellationToken.None);
        return (code, output.ToString(), error.ToString());
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}

/// <summary>MetalLB-style YAML documents.</summary>
internal static class Yaml
{
    public static string Node(string name, string address = "192.0.2.1", string labels = "") => $"""
        apiVersion: v1
        kind: Node
        metadata:
          name: {name}
          labels:
            kubernetes.io/hostname: {name}
        {labels}
        status:
          addresses:
          - type: InternalIP
            address: {address}
        """;

    public static string Pool(string name, params string[] addresses) => $"""
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata:
          name: {name}
          namespace: metallb-system
        spec:
          addresses: [{string.Join(", ", addresses)}]
        """;

    public static string Peer(string name = "router", string address = "198.18.0.1") => $"""
        apiVersion: metallb.io/v1beta2
        kind: BGPPeer
        metadata:
          name: {name}
          namespace: metallb-system
        spec:
          myASN: 64513
          peerASN: 64512
          peerAddress: {address}
        """;

    /// <param name="extra">More spec lines, indented by two spaces (nodeSelectors, serviceSelectors).</param>
    public static string BgpAdvertisement(string name, string pool, string extra = "") => $"""
        apiVersion: metallb.io/v1beta1
        kind: BGPAdvertisement
        metadata:
          name: {name}
          namespace: metallb-system
        spec:
          ipAddressPools: [{pool}]
        {extra}
        """;

    public static string L2Advertisement(string name, string pool) => $"""
        apiVersion: metallb.io/v1beta1
        kind: L2Advertisement
        metadata:
          name: {name}
          namespace: metallb-system
        spec:
          ipAddressPools: [{pool}]
        """;

    /// <param name="metadata">More metadata lines, indented by two spaces (annotations, labels).</param>
    /// <param name="spec">More spec lines, indented by two spaces.</param>
    public static string Service(string name = "web", string metadata = "", string spec = "", string? ingress = null, int port = 80) => $"""
        apiVersion: v1
        kind: Service
        metadata:
          name: {name}
          namespace: default
        {metadata}
        spec:
          type: LoadBalancer
          selector:
            app: {name}
          ports:
          - name: http
            port: {port}
            protocol: TCP
        {spec}
        {(ingress is null ? "" : $"status:\n  loadBalancer:\n    ingress:\n    - ip: {ingress}")}
        """;

    public static string Requesting(string address) => $"""
          annotations:
            metallb.io/loadBalancerIPs: {address}
        """;

    public static string EndpointSlice(string service, string node, bool ready = true) => $"""
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: {service}-{node}
          namespace: default
          labels:
            kubernetes.io/service-name: {service}
        addressType: IPv4
        endpoints:
        - addresses: [10.0.0.5]
          conditions:
            ready: {(ready ? "true" : "false")}
          nodeName: {node}
        """;

    /// <summary>One node, a pool, a peer and an advertisement of the pool: a BGP setup in which a Service with an endpoint is announced.</summary>
    public static string[] BgpSetup(string pool = "203.0.113.0/24") =>
        [Node("node1"), Pool("main", pool), Peer(), BgpAdvertisement("adv", "main")];
}
