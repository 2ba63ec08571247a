using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using BgpLb.Config;
using BgpLb.Config.Yaml;

namespace BgpLb.Benchmarks;

/// <summary>
/// Reading the YAML of a directory export: 10,000 documents (5,000 LoadBalancer Services and their EndpointSlices),
/// with YamlJson (YamlDotNet into JsonNode trees, today's reader), with YamlDocumentReader sending every document
/// through YamlDotNet, and with its fast path. Throughput is <see cref="Bytes"/> over the mean.
/// </summary>
[MemoryDiagnoser]
public class YamlBenchmarks
{
    private const int Pairs = 5_000;
    private static readonly YamlReaderOptions FallbackOnly = new() { UseFastPath = false };
    private byte[] _yaml = [];

    public enum YamlStyle
    {
        Flow,
        Block,
    }

    [Params(YamlStyle.Flow, YamlStyle.Block)]
    public YamlStyle Style { get; set; }

    public int Bytes => _yaml.Length;

    [GlobalSetup]
    public void Setup()
    {
        _yaml = Encoding.UTF8.GetBytes(Style == YamlStyle.Flow ? FlowStyle() : BlockStyle());
        Console.WriteLine($"// {Style}: {_yaml.Length} bytes, {Pairs * 2} documents");
    }

    [Benchmark(Baseline = true)]
    public int YamlJsonReference()
    {
        var count = 0;
        foreach (var document in YamlJson.Parse(Encoding.UTF8.GetString(_yaml)))
        {
            count += document.Root is null ? 0 : 1;
        }
        return count;
    }

    [Benchmark]
    public int ReaderYamlDotNetOnly() => Read(FallbackOnly);

    [Benchmark]
    public int ReaderFastPath() => Read(null);

    private int Read(YamlReaderOptions? options)
    {
        using var reader = new YamlDocumentReader(new MemoryStream(_yaml, writable: false), options);
        var count = 0;
        while (reader.Read())
        {
            count += reader.Root is null ? 0 : 1;
        }
        return count;
    }

    private static string FlowStyle()
    {
        var text = new StringBuilder();
        for (var i = 1; i <= Pairs; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $$$"""
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: svc-{{{i}}}, namespace: default}
                spec: {type: LoadBalancer, selector: {app: svc-{{{i}}}}, ports: [{port: 80, targetPort: 8080, protocol: TCP}]}
                status: {loadBalancer: {ingress: [{ip: 198.18.{{{16 + (i / 256)}}}.{{{i % 256}}}}]}}
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: svc-{{{i}}}-node1, namespace: default, labels: {kubernetes.io/service-name: svc-{{{i}}}}}
                addressType: IPv4
                endpoints: [{addresses: [10.0.0.1], conditions: {ready: true}, nodeName: node1}]
                ports: [{port: 8080, protocol: TCP}]

                """);
        }
        return text.ToString();
    }

    private static string BlockStyle()
    {
        var text = new StringBuilder();
        for (var i = 1; i <= Pairs; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $$"""
                ---
                apiVersion: v1
                kind: Service
                metadata:
                  name: svc-{{i}}
                  namespace: default
                spec:
                  type: LoadBalancer
                  selector:
                    app: svc-{{i}}
                  ports:
                  - port: 80
                    targetPort: 8080
                    protocol: TCP
                status:
                  loadBalancer:
                    ingress:
                    - ip: 198.18.{{16 + (i / 256)}}.{{i % 256}}
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata:
                  name: svc-{{i}}-node1
                  namespace: default
                  labels:
                    kubernetes.io/service-name: svc-{{i}}
                addressType: IPv4
                endpoints:
                - addresses:
                  - 10.0.0.1
                  conditions:
                    ready: true
                  nodeName: node1
                ports:
                - port: 8080
                  protocol: TCP

                """);
        }
        return text.ToString();
    }
}
