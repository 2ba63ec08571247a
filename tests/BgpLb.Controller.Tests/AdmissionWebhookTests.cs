using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using BgpLb.Controller.Webhook;

namespace BgpLb.Controller.Tests;

/// <summary>
/// A standalone controller with --webhook-listen and a self-managed certificate, asked by real AdmissionReview JSON over
/// HTTPS (trusting the CA it wrote next to the state file) about every kind: allowed and denied, with the messages the
/// configuration status uses.
/// </summary>
public sealed class AdmissionWebhookTests(AdmissionWebhookTests.Controller controller) : IClassFixture<AdmissionWebhookTests.Controller>
{
    public sealed class Controller : IAsyncLifetime
    {
        public ControllerFixture Fixture { get; } = new();
        public HttpClient Client { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Fixture.Write("config.yaml", ControllerFixture.Pool("a", "192.0.2.0/25") + """
                apiVersion: metallb.io/v1beta1
                kind: BFDProfile
                metadata: {name: fast, namespace: metallb-system}
                spec: {receiveInterval: 100, transmitInterval: 100}
                ---
                apiVersion: metallb.io/v1beta1
                kind: BFDProfile
                metadata: {name: unused, namespace: metallb-system}
                spec: {}
                ---
                apiVersion: metallb.io/v1beta2
                kind: BGPPeer
                metadata: {name: router, namespace: metallb-system}
                spec: {myASN: 64513, peerASN: 64512, peerAddress: 198.18.0.1, bfdProfile: fast}
                ---
                apiVersion: metallb.io/v1beta1
                kind: Community
                metadata: {name: communities, namespace: metallb-system}
                spec:
                  communities: [{name: no-export, value: "65535:65281"}]
                ---
                apiVersion: metallb.io/v1beta1
                kind: BGPAdvertisement
                metadata: {name: tagged, namespace: metallb-system}
                spec: {communities: [no-export]}
                ---
                apiVersion: metallb.io/v1beta1
                kind: BGPAdvertisement
                metadata: {name: aggregated, namespace: metallb-system}
                spec: {ipAddressPools: [a], aggregationLength: 25}
                """);
            await Fixture.StartAsync(configure: o => o with { Webhook = new WebhookOptions(new IPEndPoint(IPAddress.Loopback, 0)) });
            Client = TrustingClient(Path.Combine(Fixture.Directory, WebhookCaFile.FileName));
        }

        public async Task DisposeAsync()
        {
            Client.Dispose();
            await Fixture.DisposeAsync();
        }

        public Uri Uri(string path) => new($"https://{Fixture.Host!.WebhookEndPoint}{path}");
    }

    private const string PoolPath = "/validate-metallb-io-v1beta1-ipaddresspool";

    /// <summary>An HTTPS client that trusts only the CAs of <paramref name="caFile"/> (PEM).</summary>
    internal static HttpClient TrustingClient(string caFile)
    {
        var authorities = new X509Certificate2Collection();
        authorities.ImportFromPemFile(caFile);
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.AddRange(authorities);
        var handler = new SocketsHttpHandler { SslOptions = { CertificateChainPolicy = policy } };
        return new HttpClient(handler) { Timeout = ControllerFixture.Timeout };
    }

    internal static JsonObject Review(string operation, string kind, JsonObject? obj, JsonObject? oldObject = null, string? name = null) => new()
    {
        ["apiVersion"] = "admission.k8s.io/v1",
        ["kind"] = "AdmissionReview",
        ["request"] = new JsonObject
        {
            ["uid"] = "705ab4f5-6393-11e8-b7cc-42010a800002",
            ["kind"] = new JsonObject { ["group"] = "metallb.io", ["version"] = "v1beta1", ["kind"] = kind },
            ["resource"] = new JsonObject { ["group"] = "metallb.io", ["version"] = "v1beta1", ["resource"] = kind.ToLowerInvariant() + "s" },
            ["name"] = name ?? (obj ?? oldObject)?["metadata"]?["name"]?.GetValue<string>(),
            ["namespace"] = "metallb-system",
            ["operation"] = operation,
            ["userInfo"] = new JsonObject { ["username"] = "admin" },
            ["object"] = obj,
            ["oldObject"] = oldObject,
            ["dryRun"] = false,
        },
    };

    internal static JsonObject Object(string apiVersion, string kind, string name, string spec) => new()
    {
        ["apiVersion"] = apiVersion,
        ["kind"] = kind,
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = "metallb-system", ["uid"] = Guid.NewGuid().ToString() },
        ["spec"] = JsonNode.Parse(spec),
    };

    private static JsonObject V1Beta1(string kind, string name, string spec) => Object("metallb.io/v1beta1", kind, name, spec);

    private async Task<HttpResponseMessage> PostAsync(string path, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        return await controller.Client.PostAsync(controller.Uri(path), content);
    }

    /// <summary>The AdmissionReview's response, after checking the HTTP exchange and the uid.</summary>
    private async Task<JsonObject> AskAsync(string path, JsonObject review)
    {
        using var response = await PostAsync(path, review.ToJsonString());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        Assert.Equal("admission.k8s.io/v1", answer["apiVersion"]!.GetValue<string>());
        Assert.Equal("AdmissionReview", answer["kind"]!.GetValue<string>());
        var result = answer["response"]!.AsObject();
        Assert.Equal(review["request"]?["uid"]?.GetValue<string>() ?? "", result["uid"]!.GetValue<string>());
        return result;
    }

    private async Task AllowedAsync(string path, JsonObject review, params string[] warnings)
    {
        var response = await AskAsync(path, review);
        Assert.True(response["allowed"]!.GetValue<bool>(), response.ToJsonString());
        Assert.Equal(warnings, response["warnings"]?.AsArray().Select(w => w!.GetValue<string>()) ?? []);
    }

    private async Task<string> DeniedAsync(string path, JsonObject review, int code = 403)
    {
        var response = await AskAsync(path, review);
        Assert.False(response["allowed"]!.GetValue<bool>(), response.ToJsonString());
        Assert.Equal(code, response["status"]!["code"]!.GetValue<int>());
        Assert.Equal("Failure", response["status"]!["status"]!.GetValue<string>());
        return response["status"]!["message"]!.GetValue<string>();
    }

    [Fact]
    public async Task A_pool_overlapping_an_existing_one_is_denied_and_a_separate_one_allowed()
    {
        var message = await DeniedAsync(PoolPath, Review("CREATE", "IPAddressPool", V1Beta1("IPAddressPool", "b", """{"addresses": ["192.0.2.0/24"]}""")));
        Assert.Equal("IPAddressPool metallb-system/b: spec.addresses[0]: '192.0.2.0/24' overlaps with 192.0.2.0/25 in IPAddressPool a", message);
        await AllowedAsync(PoolPath, Review("CREATE", "IPAddressPool", V1Beta1("IPAddressPool", "b", """{"addresses": ["198.51.100.0/24"]}""")));
    }

    [Fact]
    public async Task An_update_is_judged_with_the_object_replaced_not_beside_its_old_version()
    {
        var old = V1Beta1("IPAddressPool", "a", """{"addresses": ["192.0.2.0/25"]}""");
        await AllowedAsync(PoolPath, Review("UPDATE", "IPAddressPool", V1Beta1("IPAddressPool", "a", """{"addresses": ["192.0.2.0/24"]}"""), old.DeepClone().AsObject()));
        var message = await DeniedAsync(PoolPath, Review("UPDATE", "IPAddressPool", V1Beta1("IPAddressPool", "a", """{"addresses": []}"""), old));
        Assert.Equal("IPAddressPool metallb-system/a: spec.addresses: the pool has no addresses", message);
    }

    [Fact]
    public async Task An_update_that_would_make_another_object_invalid_is_denied_naming_that_object()
    {
        var message = await DeniedAsync(PoolPath, Review("UPDATE", "IPAddressPool", V1Beta1("IPAddressPool", "a", """{"addresses": ["192.0.2.0/26"]}"""),
            V1Beta1("IPAddressPool", "a", """{"addresses": ["192.0.2.0/25"]}""")));
        Assert.Equal("the change would make another object invalid: BGPAdvertisement metallb-system/aggregated: spec.aggregationLength: "
            + "aggregation length 25 is shorter than prefix 192.0.2.0/26 of IPAddressPool a", message);
    }

    [Fact]
    public async Task Deleting_a_pool_an_advertisement_names_is_allowed_with_the_warning_it_causes()
    {
        await AllowedAsync(PoolPath, Review("DELETE", "IPAddressPool", null, V1Beta1("IPAddressPool", "a", """{"addresses": ["192.0.2.0/25"]}""")),
            "BGPAdvertisement metallb-system/aggregated: spec.ipAddressPools[0]: IPAddressPool 'a' does not exist (or is invalid); ignored");
    }

    [Fact]
    public void Before_the_configuration_is_read_every_change_is_answered_503()
    {
        var options = new Config.ConfigOptions();
        var webhook = new AdmissionWebhook(new Config.ClusterState(options), options, Microsoft.Extensions.Logging.Abstractions.NullLogger<AdmissionWebhook>.Instance);
        using var review = System.Text.Json.JsonDocument.Parse(Review("CREATE", "BFDProfile", V1Beta1("BFDProfile", "x", "{}")).ToJsonString());
        var answer = webhook.Review(review.RootElement, "BFDProfile");
        Assert.Equal((false, 503), (answer.Allowed, answer.Code));
        Assert.Equal("the controller has not read the configuration yet; try again shortly", answer.Message);
    }

    [Fact]
    public async Task A_peer_with_an_unknown_bfd_profile_is_denied_and_a_v1beta1_peer_is_allowed_with_a_warning()
    {
        const string path = "/validate-metallb-io-v1beta2-bgppeer";
        var message = await DeniedAsync(path, Review("CREATE", "BGPPeer", Object("metallb.io/v1beta2", "BGPPeer", "second",
            """{"myASN": 64513, "peerASN": 64512, "peerAddress": "198.18.0.5", "bfdProfile": "slow"}""")));
        Assert.Equal("BGPPeer metallb-system/second: spec.bfdProfile: BFDProfile 'slow' does not exist", message);
        await AllowedAsync(path, Review("CREATE", "BGPPeer", Object("metallb.io/v1beta2", "BGPPeer", "second",
            """{"myASN": 64513, "peerASN": 64512, "peerAddress": "198.18.0.5", "bfdProfile": "fast"}""")));
        await AllowedAsync(path, Review("CREATE", "BGPPeer", Object("metallb.io/v1beta1", "BGPPeer", "old-style",
            """{"myASN": 64513, "peerASN": 64512, "peerAddress": "198.18.0.9"}""")),
            "metallb.io/v1beta1 BGPPeer is deprecated; use metallb.io/v1beta2");
    }

    [Fact]
    public async Task A_duplicate_peer_is_denied_with_the_peer_it_duplicates()
    {
        var message = await DeniedAsync("/validate-metallb-io-v1beta2-bgppeer", Review("CREATE", "BGPPeer", Object("metallb.io/v1beta2", "BGPPeer", "twin",
            """{"myASN": 64513, "peerASN": 64512, "peerAddress": "198.18.0.1"}""")));
        Assert.Equal("BGPPeer metallb-system/twin: spec.peerAddress: duplicate peer: BGPPeer router already peers with 198.18.0.1 port 179 from the same nodes", message);
    }

    [Fact]
    public async Task An_advertisement_with_an_unknown_community_alias_is_denied_and_a_known_alias_allowed()
    {
        const string path = "/validate-metallb-io-v1beta1-bgpadvertisement";
        var message = await DeniedAsync(path, Review("CREATE", "BGPAdvertisement", V1Beta1("BGPAdvertisement", "more", """{"communities": ["no-such-alias"], "localPref": 50}""")));
        Assert.Equal("BGPAdvertisement metallb-system/more: spec.communities[0]: unknown community alias 'no-such-alias' (no Community object defines it)", message);
        await AllowedAsync(path, Review("CREATE", "BGPAdvertisement", V1Beta1("BGPAdvertisement", "more", """{"communities": ["no-export", "64512:7"]}""")));
    }

    [Fact]
    public async Task An_advertisement_naming_a_missing_pool_is_allowed_with_the_status_warning()
    {
        await AllowedAsync("/validate-metallb-io-v1beta1-l2advertisement", Review("CREATE", "L2Advertisement",
            V1Beta1("L2Advertisement", "l2", """{"ipAddressPools": ["gone"]}""")),
            "L2Advertisement metallb-system/l2: spec.ipAddressPools[0]: IPAddressPool 'gone' does not exist (or is invalid); ignored");
    }

    [Fact]
    public async Task An_l2_advertisement_with_an_empty_interface_is_denied()
    {
        var message = await DeniedAsync("/validate-metallb-io-v1beta1-l2advertisement", Review("CREATE", "L2Advertisement",
            V1Beta1("L2Advertisement", "l2", """{"interfaces": ["eth0", " "]}""")));
        Assert.Equal("L2Advertisement metallb-system/l2: spec.interfaces[1]: interface name is empty", message);
    }

    [Fact]
    public async Task A_community_alias_defined_twice_is_denied_and_a_new_alias_allowed()
    {
        const string path = "/validate-metallb-io-v1beta1-community";
        var message = await DeniedAsync(path, Review("CREATE", "Community", V1Beta1("Community", "more", """{"communities": [{"name": "no-export", "value": "65535:65281"}]}""")));
        Assert.Equal("Community metallb-system/more: spec.communities[0].name: duplicate community alias 'no-export': already defined in Community communities", message);
        await AllowedAsync(path, Review("CREATE", "Community", V1Beta1("Community", "more", """{"communities": [{"name": "blackhole", "value": "65535:666"}]}""")));
    }

    [Fact]
    public async Task A_bfd_profile_out_of_range_is_denied_and_a_valid_one_allowed()
    {
        const string path = "/validate-metallb-io-v1beta1-bfdprofile";
        var message = await DeniedAsync(path, Review("CREATE", "BFDProfile", V1Beta1("BFDProfile", "fastest", """{"receiveInterval": 5}""")));
        Assert.Equal("BFDProfile metallb-system/fastest: spec.receiveInterval: receiveInterval 5 is out of range 10..60000", message);
        await AllowedAsync(path, Review("CREATE", "BFDProfile", V1Beta1("BFDProfile", "fastest", """{"receiveInterval": 10}""")));
    }

    [Fact]
    public async Task Deleting_a_bfd_profile_a_peer_uses_is_denied_and_an_unused_one_allowed()
    {
        const string path = "/validate-metallb-io-v1beta1-bfdprofile";
        var message = await DeniedAsync(path, Review("DELETE", "BFDProfile", null, V1Beta1("BFDProfile", "fast", """{"receiveInterval": 100, "transmitInterval": 100}""")));
        Assert.Equal("BFDProfile metallb-system/fast is still in use: BGPPeer metallb-system/router: spec.bfdProfile: BFDProfile 'fast' does not exist", message);
        await AllowedAsync(path, Review("DELETE", "BFDProfile", null, V1Beta1("BFDProfile", "unused", "{}")));
        // The request's name and namespace say what goes, with or without oldObject, and whatever oldObject holds.
        Assert.Contains("is still in use", await DeniedAsync(path, Review("DELETE", "BFDProfile", null, name: "fast")), StringComparison.Ordinal);
        await AllowedAsync(path, Review("DELETE", "BFDProfile", null, V1Beta1("BFDProfile", "unused", """{"retiredField": 1}""")));
    }

    [Fact]
    public async Task Deleting_a_community_an_advertisement_uses_is_denied()
    {
        var message = await DeniedAsync("/validate-metallb-io-v1beta1-community", Review("DELETE", "Community", null,
            V1Beta1("Community", "communities", """{"communities": [{"name": "no-export", "value": "65535:65281"}]}""")));
        Assert.Equal("Community metallb-system/communities is still in use: BGPAdvertisement metallb-system/tagged: spec.communities[0]: unknown community alias 'no-export' (no Community object defines it)", message);
    }

    [Fact]
    public async Task An_object_outside_the_metallb_namespace_or_with_an_unknown_field_is_denied()
    {
        var elsewhere = V1Beta1("IPAddressPool", "b", """{"addresses": ["198.51.100.0/24"]}""");
        elsewhere["metadata"]!["namespace"] = "default";
        Assert.Equal("IPAddressPool default/b: metadata.namespace: resource must be created in the metallb-system namespace, not 'default'",
            await DeniedAsync(PoolPath, Review("CREATE", "IPAddressPool", elsewhere)));
        Assert.Contains("spec.adresses", await DeniedAsync(PoolPath, Review("CREATE", "IPAddressPool", V1Beta1("IPAddressPool", "b", """{"adresses": ["198.51.100.0/24"]}"""))),
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_malformed_review_is_answered_400()
    {
        Assert.StartsWith("the body is not an AdmissionReview", await RawDeniedAsync("{\"apiVersion\":"), StringComparison.Ordinal);
        Assert.Equal("expected an AdmissionReview of admission.k8s.io/v1 with a request", await DeniedAsync(PoolPath, new JsonObject { ["apiVersion"] = "admission.k8s.io/v1beta1", ["kind"] = "AdmissionReview" }, 400));
        var wrongKind = Review("CREATE", "BGPPeer", V1Beta1("IPAddressPool", "b", """{"addresses": ["198.51.100.0/24"]}"""));
        Assert.Equal("this webhook validates metallb.io IPAddressPool, not metallb.io/BGPPeer", await DeniedAsync(PoolPath, wrongKind, 400));
        var noObject = Review("CREATE", "IPAddressPool", null, name: "b");
        Assert.Equal("the request has no object", await DeniedAsync(PoolPath, noObject, 400));
    }

    private async Task<string> RawDeniedAsync(string body)
    {
        using var response = await PostAsync(PoolPath, body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["response"]!;
        Assert.False(answer["allowed"]!.GetValue<bool>());
        Assert.Equal(400, answer["status"]!["code"]!.GetValue<int>());
        return answer["status"]!["message"]!.GetValue<string>();
    }

    [Fact]
    public async Task Other_paths_and_other_listeners_are_not_found()
    {
        var review = Review("CREATE", "IPAddressPool", V1Beta1("IPAddressPool", "b", """{"addresses": ["198.51.100.0/24"]}""")).ToJsonString();
        using (var wrongPath = await PostAsync("/validate-metallb-io-v1beta1-ipaddresspools", review))
            Assert.Equal(HttpStatusCode.NotFound, wrongPath.StatusCode);
        using (var metrics = await controller.Client.GetAsync(controller.Uri("/metrics")))
            Assert.Equal(HttpStatusCode.NotFound, metrics.StatusCode);
        using var plain = new HttpClient();
        using var content = new StringContent(review, Encoding.UTF8, "application/json");
        using var overMetrics = await plain.PostAsync(new Uri($"http://{controller.Fixture.Host!.MetricsEndPoint}{PoolPath}"), content);
        Assert.Equal(HttpStatusCode.NotFound, overMetrics.StatusCode);
    }

    [Fact]
    public async Task A_body_larger_than_two_objects_is_refused_413_declared_or_streamed()
    {
        var huge = new string(' ', (int)AdmissionWebhook.MaxBodyBytes + 1);
        using var declaredContent = new StringContent(huge, Encoding.UTF8, "application/json");
        using var declaredRequest = new HttpRequestMessage(HttpMethod.Post, controller.Uri(PoolPath)) { Content = declaredContent };
        declaredRequest.Headers.ExpectContinue = true; // refused on the header, before the body is sent
        using (var declared = await controller.Client.SendAsync(declaredRequest))
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, declared.StatusCode);
        using var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(huge)));
        chunked.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, controller.Uri(PoolPath)) { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        using var streamed = await controller.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, streamed.StatusCode);
    }
}
