using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using BgpLb.Controller.Webhook;
using BgpLb.Kubernetes.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace BgpLb.Controller.Tests;

/// <summary>
/// The self-managed webhook certificate: issued and renewed by <see cref="WebhookCertificates"/>, kept in the
/// metallb-webhook-cert Secret with its CA patched into the ValidatingWebhookConfiguration (against the in-test API
/// server), rotated on virtual time; and the real controller process in Kubernetes mode answering over HTTPS with it.
/// </summary>
public sealed class WebhookCertificateTests : IAsyncLifetime
{
    private const string Namespace = "metallb-system";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly string[] Names = ["metallb-webhook-service.metallb-system.svc"];

    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private FakeKubeApiServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await FakeKubeApiServer.StartAsync();
        _server.Apply("validatingwebhookconfigurations", WebhookConfiguration());
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static JsonObject WebhookConfiguration()
    {
        var webhooks = new JsonArray();
        foreach (var path in AdmissionWebhook.Paths.Keys)
        {
            webhooks.Add(new JsonObject
            {
                ["name"] = path.Split('-')[^1] + "validationwebhook.metallb.io",
                ["clientConfig"] = new JsonObject { ["service"] = new JsonObject { ["name"] = "metallb-webhook-service", ["namespace"] = Namespace, ["path"] = path } },
                ["admissionReviewVersions"] = new JsonArray("v1"),
                ["sideEffects"] = "None",
                ["failurePolicy"] = "Fail",
                ["rules"] = new JsonArray(new JsonObject
                {
                    ["apiGroups"] = new JsonArray("metallb.io"), ["apiVersions"] = new JsonArray(path.Split('-')[3]),
                    ["operations"] = new JsonArray("CREATE", "UPDATE", "DELETE"), ["resources"] = new JsonArray(path.Split('-')[^1] + "s"),
                }),
            });
        }
        return new JsonObject
        {
            ["apiVersion"] = "admissionregistration.k8s.io/v1",
            ["kind"] = "ValidatingWebhookConfiguration",
            ["metadata"] = new JsonObject { ["name"] = WebhookCertificateSecret.ConfigurationName },
            ["webhooks"] = webhooks,
        };
    }

    private WebhookCertificateSecret Store() => new(_server.CreateClient(), Namespace, _time);

    /// <summary>What one check of a replica does: the Secret, then the caBundle.</summary>
    private async Task<WebhookCertificateSet> CheckAsync()
    {
        var store = Store();
        var set = await store.EnsureAsync(CancellationToken.None);
        await store.PublishAsync(set, CancellationToken.None);
        return set;
    }

    private WebhookServingCertificate Serving() =>
        new(new WebhookOptions(new IPEndPoint(IPAddress.Loopback, 0)), Store(), _time, NullLogger<WebhookServingCertificate>.Instance);

    private (string Ca, string Certificate, string Key) SecretData()
    {
        var data = _server.Get("secrets", Namespace, WebhookCertificateSecret.SecretName)!["data"]!;
        string Decode(string key) => Encoding.UTF8.GetString(Convert.FromBase64String(data[key]!.GetValue<string>()));
        return (Decode("ca.crt"), Decode("tls.crt"), Decode("tls.key"));
    }

    private IEnumerable<string> CaBundles() =>
        _server.Get("validatingwebhookconfigurations", "", WebhookCertificateSecret.ConfigurationName)!["webhooks"]!.AsArray()
            .Select(w => w!["clientConfig"]!["caBundle"]?.GetValue<string>() is { } bundle ? Encoding.UTF8.GetString(Convert.FromBase64String(bundle)) : "");

    /// <summary>Every webhook's caBundle is the Secret's CA bundle (read as stored, so a request counted but not yet processed does not count).</summary>
    private bool CaBundlesMatchSecret() => CaBundles().All(b => b == SecretData().Ca);

    private static X509Certificate2Collection Authorities(string pem)
    {
        var authorities = new X509Certificate2Collection();
        authorities.ImportFromPem(pem);
        return authorities;
    }

    [Fact]
    public void A_certificate_is_renewed_once_less_than_a_third_of_its_validity_is_left_or_when_its_names_change()
    {
        var now = DateTimeOffset.UtcNow;
        var set = WebhookCertificates.Issue(Names, [], now);
        using var serving = set.ToServing();
        Assert.True(serving.MatchesHostname(Names[0]));
        Assert.True(serving.HasPrivateKey);
        Assert.True(Allocation.Client.Credentials.IsIssuedBy(serving, Authorities(set.CaBundle), Allocation.Client.Credentials.ServerAuthentication, [], out var problem), problem);

        Assert.True(WebhookCertificates.NeedsRenewal(null, Names, now));
        Assert.False(WebhookCertificates.NeedsRenewal(set, Names, now));
        var third = WebhookCertificates.Validity / 3;
        Assert.False(WebhookCertificates.NeedsRenewal(set, Names, now + WebhookCertificates.Validity - third - TimeSpan.FromDays(1)));
        Assert.True(WebhookCertificates.NeedsRenewal(set, Names, now + WebhookCertificates.Validity - third + TimeSpan.FromDays(1)));
        Assert.True(WebhookCertificates.NeedsRenewal(set, ["metallb-webhook-service.other.svc"], now));
        Assert.True(WebhookCertificates.NeedsRenewal(set with { Key = "garbage" }, Names, now));
        Assert.True(WebhookCertificates.NeedsRenewal(set with { CaBundle = WebhookCertificates.Issue(Names, [], now).CaBundle }, Names, now));
    }

    [Fact]
    public void A_renewed_bundle_keeps_the_previous_ca_while_it_is_valid()
    {
        var now = DateTimeOffset.UtcNow;
        var first = WebhookCertificates.Issue(Names, [], now);
        var second = WebhookCertificates.Issue(Names, [], now + TimeSpan.FromDays(250), first.CaBundle);
        var bundle = Authorities(second.CaBundle);
        Assert.Equal(2, bundle.Count);
        Assert.Equal(Authorities(first.CaBundle)[0].Thumbprint, bundle[1].Thumbprint);
        using var serving = second.ToServing();
        Assert.Equal(bundle[0].SubjectName.Name, serving.IssuerName.Name);

        var third = WebhookCertificates.Issue(Names, [], now + TimeSpan.FromDays(500), second.CaBundle);
        Assert.Equal(2, Authorities(third.CaBundle).Count); // the first CA has expired
    }

    [Fact]
    public async Task The_secret_is_created_once_and_its_ca_patched_into_every_webhook()
    {
        var issued = await CheckAsync();
        Assert.Equal("kubernetes.io/tls", _server.Get("secrets", Namespace, WebhookCertificateSecret.SecretName)!["type"]!.GetValue<string>());
        Assert.Equal((issued.CaBundle, issued.Certificate, issued.Key), SecretData());
        Assert.All(CaBundles(), bundle => Assert.Equal(issued.CaBundle, bundle));
        Assert.Equal(6, CaBundles().Count());
        Assert.Equal(1, _server.Requests("PATCH validatingwebhookconfigurations"));

        // Another replica (or the next check) uses what is there and writes nothing.
        Assert.Equal(issued, await CheckAsync());
        Assert.Equal(1, _server.Requests("POST secrets"));
        Assert.Equal(0, _server.Requests("PUT secrets"));
        Assert.Equal(1, _server.Requests("PATCH validatingwebhookconfigurations"));
    }

    [Fact]
    public async Task A_caBundle_reset_by_reapplying_the_manifest_is_patched_again()
    {
        var issued = await CheckAsync();
        _server.Apply("validatingwebhookconfigurations", WebhookConfiguration());
        Assert.Equal(issued, await CheckAsync());
        Assert.All(CaBundles(), bundle => Assert.Equal(issued.CaBundle, bundle));
        Assert.Equal(2, _server.Requests("PATCH validatingwebhookconfigurations"));
    }

    [Fact]
    public async Task The_check_renews_the_certificate_on_virtual_time_and_serves_the_new_one()
    {
        var serving = Serving();
        await serving.StartAsync(CancellationToken.None);
        try
        {
            var first = serving.Current!;
            var firstCa = SecretData().Ca;
            Assert.Equal(first.Thumbprint, X509Certificate2.CreateFromPem(SecretData().Certificate).Thumbprint);

            // Checked every minute; 200 days in, two thirds of the year are still left: nothing is written. (Each poll
            // moves on by one interval, in case the check's timer was set after the jump.)
            _time.Advance(TimeSpan.FromDays(200));
            await UntilAsync(() => _server.Requests("GET secrets") >= 2, "the check after 200 days", step: NextCheck);
            Assert.Same(first, serving.Current);
            Assert.Equal(0, _server.Requests("PUT secrets"));

            _time.Advance(TimeSpan.FromDays(50));
            // The new certificate is served first, then its CA patched in: wait for the patch.
            await UntilAsync(() => SecretData().Ca != firstCa && CaBundlesMatchSecret(), "the renewal after 250 days", step: NextCheck);
            Assert.NotSame(first, serving.Current);
            var (ca, certificate, _) = SecretData();
            Assert.Equal(serving.Current!.Thumbprint, X509Certificate2.CreateFromPem(certificate).Thumbprint);
            Assert.Equal(1, _server.Requests("PUT secrets"));
            var bundle = Authorities(ca);
            Assert.Equal(2, bundle.Count);
            Assert.Equal(Authorities(firstCa)[0].Thumbprint, bundle[1].Thumbprint);
            Assert.All(CaBundles(), b => Assert.Equal(ca, b));
        }
        finally
        {
            await serving.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task Without_the_webhook_configuration_the_certificate_is_served_and_its_ca_patched_once_the_configuration_exists()
    {
        _server.Remove("validatingwebhookconfigurations", "", WebhookCertificateSecret.ConfigurationName);
        var failure = await Assert.ThrowsAsync<WebhookCertificateException>(() => CheckAsync());
        Assert.StartsWith("ValidatingWebhookConfiguration metallb-webhook-configuration does not exist", failure.Message, StringComparison.Ordinal);

        var serving = Serving();
        await serving.StartAsync(CancellationToken.None);
        try
        {
            Assert.Equal(serving.Current!.Thumbprint, X509Certificate2.CreateFromPem(SecretData().Certificate).Thumbprint);
            _server.Apply("validatingwebhookconfigurations", WebhookConfiguration());
            await UntilAsync(CaBundlesMatchSecret, "the caBundle patch after the retry", step: () => _time.Advance(WebhookServingCertificate.RetryDelay));
        }
        finally
        {
            await serving.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task The_controller_in_kubernetes_mode_serves_reviews_with_the_certificate_of_its_secret()
    {
        _server.Apply("ipaddresspools", new JsonObject
        {
            ["apiVersion"] = "metallb.io/v1beta1", ["kind"] = "IPAddressPool",
            ["metadata"] = new JsonObject { ["name"] = "a", ["namespace"] = Namespace },
            ["spec"] = new JsonObject { ["addresses"] = new JsonArray("203.0.113.0/25") },
        });
        var directory = Directory.CreateTempSubdirectory("bgplb-webhook-kube-").FullName;
        try
        {
            var kubeconfig = Path.Combine(directory, "kubeconfig");
            _server.WriteKubeconfig(kubeconfig);
            var (process, ports) = await DaemonProcess.StartOnFreePortsAsync("bgplb-controller.dll", 3,
                p => ["--kubeconfig", kubeconfig, "--metrics-listen", $"127.0.0.1:{p[0]}", "--grpc-listen", $"127.0.0.1:{p[1]}", "--webhook-listen", $"127.0.0.1:{p[2]}"],
                new Dictionary<string, string> { ["POD_NAME"] = "ctl", ["POD_NAMESPACE"] = Namespace },
                Timeout);
            await using (process)
            {
                await UntilAsync(() => _server.Get("secrets", Namespace, WebhookCertificateSecret.SecretName) is not null && CaBundlesMatchSecret(), "the caBundle patch", process);
                var caFile = Path.Combine(directory, "ca.pem");
                await File.WriteAllTextAsync(caFile, CaBundles().First());
                using var client = AdmissionWebhookTests.TrustingClient(caFile);
                var review = AdmissionWebhookTests.Review("CREATE", "IPAddressPool",
                    AdmissionWebhookTests.Object("metallb.io/v1beta1", "IPAddressPool", "b", """{"addresses": ["203.0.113.0/24"]}"""));
                // Ready once the configuration has been listed: the webhook judges against it.
                using (var cancel = new CancellationTokenSource(Timeout))
                {
                    while (!await ReadyAsync(ports[0]))
                        await Task.Delay(20, cancel.Token);
                }
                var port = ports[2].ToString(CultureInfo.InvariantCulture);
                using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"https://127.0.0.1:{port}/validate-metallb-io-v1beta1-ipaddresspool"))
                {
                    Content = new StringContent(review.ToJsonString(), Encoding.UTF8, "application/json"),
                };
                // The name the API server uses for the Service: the certificate is issued for it.
                request.Headers.Host = "metallb-webhook-service.metallb-system.svc";
                using var answer = await client.SendAsync(request);
                Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
                var body = await answer.Content.ReadAsStringAsync();
                var response = JsonNode.Parse(body)!;
                Assert.False(response["response"]!["allowed"]!.GetValue<bool>());
                Assert.Equal("IPAddressPool metallb-system/b: spec.addresses[0]: '203.0.113.0/24' overlaps with 203.0.113.0/25 in IPAddressPool a",
                    response["response"]!["status"]!["message"]!.GetValue<string>());
                Console.WriteLine("Denied AdmissionReview response: " + body);
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private void NextCheck() => _time.Advance(WebhookServingCertificate.CheckInterval);

    private static async Task UntilAsync(Func<bool> condition, string what, DaemonProcess? process = null, Action? step = null)
    {
        using var cancel = new CancellationTokenSource(Timeout);
        while (!condition())
        {
            try
            {
                await Task.Delay(20, cancel.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"{what} did not happen within {Timeout}\n{process?.Output}");
            }
            step?.Invoke();
        }
    }

    private static async Task<bool> ReadyAsync(int metricsPort)
    {
        using var http = new HttpClient();
        try
        {
            using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{metricsPort.ToString(CultureInfo.InvariantCulture)}/readyz"));
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }
}
