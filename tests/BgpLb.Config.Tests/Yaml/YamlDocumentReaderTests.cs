using System.Globalization;
using System.Text;
using BgpLb.Config.Yaml;

namespace BgpLb.Config.Tests.Yaml;

public class YamlDocumentReaderTests
{
    /// <summary>The objects of a 100k-Service start-up, as a generator writes them.</summary>
    public static string FlowStyleObjects(int count)
    {
        var text = new StringBuilder();
        for (var i = 1; i <= count; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"""
                ---
                apiVersion: v1
                kind: Service
                metadata: {"{"}name: svc-{i}, namespace: default{"}"}
                spec: {"{"}type: LoadBalancer, selector: {"{"}app: svc-{i}{"}"}, ports: [{"{"}port: 80, targetPort: 8080, protocol: TCP{"}"}]{"}"}
                status: {"{"}loadBalancer: {"{"}ingress: [{"{"}ip: 198.18.{16 + (i / 256)}.{i % 256}{"}"}]{"}"}{"}"}
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {"{"}name: svc-{i}-node1, namespace: default, labels: {"{"}kubernetes.io/service-name: svc-{i}{"}"}{"}"}
                addressType: IPv4
                endpoints: [{"{"}addresses: [10.0.0.1], conditions: {"{"}ready: true{"}"}, nodeName: node1{"}"}]
                ports: [{"{"}port: 8080, protocol: TCP{"}"}]

                """);
        }
        return text.ToString();
    }

    private const string MetalLbBlockStyle = """
        # Pools, peers and advertisements as operators write them.
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata:
          name: production
          namespace: metallb-system
          labels:
            tier: "frontend"
          annotations:
            example.com/owner: 'team-a'
        spec:
          addresses:
          - 192.168.10.0/24
          - 192.168.9.1-192.168.9.5
          - fc00:f853:0ccd:e799::/124
          autoAssign: false
          avoidBuggyIPs: true
          serviceAllocation:
            priority: 50
            namespaces:
              - namespace-a
            serviceSelectors:
              - matchExpressions:
                  - {key: app, operator: In, values: [bar]}
        ---
        apiVersion: metallb.io/v1beta2
        kind: BGPPeer
        metadata:
          name: example
          namespace: metallb-system
        spec:
          myASN: 64500
          peerASN: 64501
          peerAddress: 10.0.0.1
          peerPort: 179
          holdTime: "90s"
          keepaliveTime: 30s
          ebgpMultiHop: true
          bfdProfile: full
          passwordSecret:
            name: secretname
            namespace: metallb-system
          nodeSelectors:
          - matchLabels:
              kubernetes.io/hostname: kind-worker
          - matchExpressions:
            - key: kubernetes.io/hostname
              operator: In
              values: [hostA, hostB]
        ---
        apiVersion: metallb.io/v1beta1
        kind: BGPAdvertisement
        metadata:
          name: local
          namespace: metallb-system
        spec:
          ipAddressPools: [production]
          aggregationLength: 32
          aggregationLengthV6: 128
          localPref: 100
          communities:
            - 65535:65282   # no-advertise
            - large:123:456:789
          peers: []
        ---
        apiVersion: metallb.io/v1beta1
        kind: BFDProfile
        metadata: {name: full, namespace: metallb-system}
        spec:
          receiveInterval: 380
          transmitInterval: 270
          echoMode: false
          passiveMode: true
          minimumTtl: 254
        ---
        apiVersion: v1
        kind: Secret
        metadata:
          name: secretname
          namespace: metallb-system
        type: Opaque
        stringData:
          password: "s3cr3t \"quoted\" \u00e9"
        ...
        """;

    [Fact]
    public void Example_files_read_through_the_fast_path()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (!Directory.Exists(Path.Combine(directory!.FullName, "examples")))
        {
            directory = directory.Parent;
        }
        var files = Directory.GetFiles(Path.Combine(directory.FullName, "examples"), "*.yaml", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            Assert.Equal(0, YamlOracle.AssertSame(File.ReadAllText(file)));
        }
    }

    [Fact]
    public void Flow_style_services_and_endpoint_slices_read_through_the_fast_path()
    {
        var yaml = FlowStyleObjects(300);
        Assert.Equal(0, YamlOracle.AssertSame(yaml));
        Assert.Equal(0, YamlOracle.AssertSame(yaml.Replace("\n", "\r\n", StringComparison.Ordinal)));
    }

    [Fact]
    public void Block_style_MetalLB_objects_read_through_the_fast_path()
    {
        Assert.Equal(0, YamlOracle.AssertSame(MetalLbBlockStyle));
    }

    [Fact]
    public void Reads_one_document_at_a_time_with_lines_and_fast_path_flags()
    {
        using var reader = YamlDocumentReader.FromString("# header\n\napiVersion: v1\nkind: Node\n---\n---\n- &a x\n- *a\n--- ~\n");

        Assert.True(reader.Read());
        Assert.Equal((3, false), (reader.Line, reader.UsedFallback));
        Assert.Equal("""{"apiVersion":"v1","kind":"Node"}""", reader.Root!.Value.GetRawText());
        Assert.True(reader.Read());
        Assert.Equal((6, false), (reader.Line, reader.UsedFallback));
        Assert.Null(reader.Root);
        Assert.True(reader.Read());
        Assert.Equal((7, true), (reader.Line, reader.UsedFallback));
        Assert.Equal("""["x","x"]""", reader.Root!.Value.GetRawText());
        Assert.True(reader.Read());
        Assert.Equal((9, true), (reader.Line, reader.UsedFallback));
        Assert.Null(reader.Root);
        Assert.False(reader.Read());
    }

    /// <summary>Found by YamlDifferentialTests: YamlDotNet reads "y *:" as one scalar, not as the key "y *".</summary>
    [Theory]
    [InlineData("y *:")]
    [InlineData("y *:\n")]
    [InlineData("a: b &c: d\n")]
    [InlineData("a: x !y\nb: 1\n")]
    public void An_indicator_after_a_space_inside_a_plain_scalar_reads_as_the_reference_reads_it(string yaml) => YamlOracle.AssertSame(yaml);

    [Theory]
    [InlineData("base: &b {a: 1}\nother: *b\n")]
    [InlineData("a: !!str 1\nb: !custom x\n")]
    [InlineData("script: |\n  echo hi\n  exit 0\nfolded: >-\n  one\n  two\n")]
    [InlineData("? complex\n: value\n")]
    [InlineData("%YAML 1.2\n---\na: 1\n")]
    [InlineData("a: one\n  two\n")]
    [InlineData("a: \"one\n  two\"\n")]
    [InlineData("a:\tb\n")]
    [InlineData("--- {a: 1}\n")]
    [InlineData("addresses: [2001:db8::1]\n")]
    [InlineData("1: one\ntrue: yes\n")]
    [InlineData("a: \"\\ud83d\\ude00\"\n")]
    [InlineData("a: [b, ]\n")]
    public void What_the_fast_path_does_not_read_falls_back_to_the_same_tree(string yaml)
    {
        Assert.Equal(1, YamlOracle.AssertSame(yaml));
        var between = "first: fast\n---\n" + yaml + "---\nlast: fast\n";
        YamlOracle.AssertSame(between);
        using var reader = YamlDocumentReader.FromString(between);
        Assert.True(reader.Read());
        Assert.False(reader.UsedFallback);
    }

    [Theory]
    [InlineData("a: 1\nb: 2\na: 3\n", "duplicate key 'a'", 3, 1)]
    [InlineData("spec:\n  ports: [{port: 80, port: 81}]\n", "duplicate key 'port'", 2, 22)]
    [InlineData("a: [1, 2}\n", "While parsing a flow sequence, did not find expected ',' or ']'.", 1, 9)]
    [InlineData("a: [1, 2\nb: 3\n", "invalid YAML (Operation is not valid due to the current state of the object.)", 2, 1)]
    [InlineData("a: 'unterminated\n", "While scanning a quoted scalar, found unexpected end of stream.", 1, 4)]
    [InlineData("null: 1\n", "mapping keys must be scalars", 1, 1)]
    [InlineData("{\"a\": 1, \"\\x61\": 2}\n", "duplicate key 'a'", 1, 10)]
    public void Errors_are_YamlDotNets_at_their_position_in_the_stream(string document, string message, int line, int column)
    {
        var yaml = "kind: Ok\n---\n" + document;
        YamlOracle.AssertSame(yaml);
        using var reader = YamlDocumentReader.FromString(yaml);
        Assert.True(reader.Read());
        var error = Assert.Throws<YamlSyntaxException>(() => reader.Read());
        Assert.Equal((message, line + 2, column), (error.Message, error.Line, error.Column));
        Assert.False(reader.Read());
    }

    [Theory]
    [InlineData(17)]
    [InlineData(40)]
    [InlineData(3000)]
    public void Long_mappings_find_duplicates_through_the_fast_path(int keys)
    {
        var block = new StringBuilder("nested:\n");
        var flow = new StringBuilder("nested: {");
        for (var i = 0; i < keys; i++)
        {
            block.Append(CultureInfo.InvariantCulture, $"  key-{i}: {{inner-{i % 20}: {i}, other: x}}\n");
            flow.Append(CultureInfo.InvariantCulture, $"key-{i}: [{i}], ");
        }
        var unique = block + "after: 1\n---\n" + flow + "last: 1}\n";
        Assert.Equal(0, YamlOracle.AssertSame(unique));

        var duplicateEarly = block + "  key-3: again\n";
        var duplicateLate = flow + $"key-{keys - 1}: again}}\n";
        YamlOracle.AssertSame(duplicateEarly);
        YamlOracle.AssertSame(duplicateLate);
        using var reader = YamlDocumentReader.FromString(duplicateLate);
        Assert.Equal($"duplicate key 'key-{keys - 1}'", Assert.Throws<YamlSyntaxException>(() => reader.Read()).Message);
    }

    [Fact]
    public void Billion_laughs_fails_as_excessive_aliasing()
    {
        using var reader = YamlDocumentReader.FromString(TestConfig.BillionLaughs);

        var error = Assert.Throws<YamlSyntaxException>(() => reader.Read());

        Assert.StartsWith("document contains excessive aliasing", error.Message, StringComparison.Ordinal);
        Assert.Equal((6, 8), (error.Line, error.Column));
    }

    [Fact]
    public void A_long_scalar_aliased_many_times_fails_as_excessive_aliasing()
    {
        var options = new YamlReaderOptions { MaxDocumentBytes = 1000 };
        var scalar = new string('x', 100);
        // Ten aliases copy exactly the 1000 characters allowed, so the tree is built (and is then too large as a document);
        // the eleventh alias is one too many and stops the building.
        using var atLimit = YamlDocumentReader.FromString($"a: &a {scalar}\nb: [{string.Join(',', Enumerable.Repeat("*a", 10))}]\n", options);
        Assert.StartsWith("the document at line 1 is larger than 1000 bytes", Assert.Throws<YamlLimitException>(() => atLimit.Read()).Message, StringComparison.Ordinal);

        using var overLimit = YamlDocumentReader.FromString($"a: &a {scalar}\nb: [{string.Join(',', Enumerable.Repeat("*a", 11))}]\n", options);
        var error = Assert.Throws<YamlSyntaxException>(() => overLimit.Read());
        Assert.Equal(("document contains excessive aliasing: aliases expand to more than 1000 characters", 2, 35),
            (error.Message, error.Line, error.Column));
    }

    [Fact]
    public void Document_larger_than_the_limit_as_JSON_fails_on_either_path()
    {
        var options = new YamlReaderOptions { MaxDocumentBytes = 100 };
        // {"a":"…"} is 8 bytes of JSON around the value.
        using var atLimit = YamlDocumentReader.FromString($"a: {new string('x', 92)}\n", options);
        Assert.True(atLimit.Read());
        Assert.False(atLimit.UsedFallback);

        using var fast = YamlDocumentReader.FromString($"a: 1\n---\na: {new string('x', 93)}\n", options);
        Assert.True(fast.Read());
        Assert.Equal("the document at line 3 is larger than 100 bytes as JSON (the limit)", Assert.Throws<YamlLimitException>(() => fast.Read()).Message);

        // An anchor sends the document through YamlDotNet.
        using var fallback = YamlDocumentReader.FromString($"a: &x {new string('x', 93)}\n", options);
        Assert.Equal("the document at line 1 is larger than 100 bytes as JSON (the limit)", Assert.Throws<YamlLimitException>(() => fallback.Read()).Message);
    }

    [Fact]
    public void Stream_larger_than_the_limit_fails_whatever_reads_it()
    {
        var options = new YamlReaderOptions { MaxStreamBytes = 64 * 1024 };
        var atLimit = "a: 1\n" + new string('#', 64 * 1024 - 6) + "\n";
        using var exact = YamlDocumentReader.FromString(atLimit, options);
        Assert.True(exact.Read());
        Assert.False(exact.Read());

        foreach (var start in new[] { "a: 1\n", "%YAML 1.2\n---\na: 1\n" })
        {
            using var reader = YamlDocumentReader.FromString(start + new string('#', 64 * 1024) + "\n", options);
            var error = Assert.Throws<YamlLimitException>(() => { while (reader.Read()) { } });
            Assert.Equal("the file is larger than 65536 bytes (the limit)", error.Message);
        }
    }

    [Fact]
    public void Limits_nesting_and_numbers_JSON_cannot_carry()
    {
        using var deep = YamlDocumentReader.FromString(new string('[', 65) + new string(']', 65));
        Assert.Contains("deeper than 64 levels", Assert.Throws<YamlSyntaxException>(() => deep.Read()).Message, StringComparison.Ordinal);
        using var shallow = YamlDocumentReader.FromString(new string('[', 64) + new string(']', 64));
        Assert.True(shallow.Read());
        Assert.False(shallow.UsedFallback);

        using var huge = YamlDocumentReader.FromString("a: 1\nb: 1e999\n");
        var error = Assert.Throws<YamlSyntaxException>(() => huge.Read());
        Assert.Equal(("number 1e999 is out of range", 2, 4), (error.Message, error.Line, error.Column));
    }

    [Fact]
    public void Skips_a_byte_order_mark_and_reads_empty_streams()
    {
        using var bom = new YamlDocumentReader("\uFEFFa: 1\n"u8.ToArray());
        Assert.True(bom.Read());
        Assert.Equal("""{"a":1}""", bom.Root!.Value.GetRawText());

        foreach (var empty in new[] { "", "# only a comment\n", "\n\n", "...\n" })
        {
            using var reader = YamlDocumentReader.FromString(empty);
            Assert.False(reader.Read());
        }
    }

    [Fact]
    public void Yields_documents_before_the_stream_is_read_to_the_end()
    {
        var yaml = Encoding.UTF8.GetBytes(FlowStyleObjects(10_000));
        Assert.True(yaml.Length > 4_000_000);
        var stream = new TrickleStream(yaml, 4096);
        using var reader = new YamlDocumentReader(stream);

        Assert.True(reader.Read());
        Assert.True(stream.BytesRead <= 128 * 1024, $"read {stream.BytesRead} bytes for the first document");
        var documents = 1;
        var lastLine = reader.Line;
        while (reader.Read())
        {
            Assert.False(reader.UsedFallback);
            Assert.True(reader.Line > lastLine);
            lastLine = reader.Line;
            documents++;
            if (documents == 10_000)
            {
                Assert.True(stream.BytesRead < yaml.Length);
            }
        }
        Assert.Equal(20_000, documents);
        Assert.Equal(yaml.Length, stream.BytesRead);
    }
}
