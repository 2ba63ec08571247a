using System.Text.Json.Nodes;
using BgpLb.Controller.Webhook;
using BgpLb.Kubernetes.Testing;

namespace BgpLb.Controller.Tests;

/// <summary>config/webhook.yaml, the controller Deployment and its RBAC agree with the paths and names the controller uses.</summary>
public sealed class WebhookManifestTests
{
    private static readonly string Config = Path.Combine(Yaml.RepositoryRoot(), "config");

    private static List<JsonObject> Objects(string file) => [.. Yaml.Documents(Path.Combine(Config, file)).OfType<JsonObject>()];

    private static JsonObject Single(string file, string kind, string? name = null) =>
        Objects(file).Single(o => o["kind"]!.GetValue<string>() == kind && (name is null || o["metadata"]!["name"]!.GetValue<string>() == name));

    private static IEnumerable<string> Strings(JsonNode? array) => array!.AsArray().Select(n => n!.GetValue<string>());

    [Fact]
    public void The_webhook_configuration_calls_every_path_of_the_controller_for_its_kind_through_the_service()
    {
        var configuration = Single("webhook.yaml", "ValidatingWebhookConfiguration");
        Assert.Equal(WebhookCertificateSecret.ConfigurationName, configuration["metadata"]!["name"]!.GetValue<string>());
        var webhooks = configuration["webhooks"]!.AsArray().Select(w => w!.AsObject()).ToList();
        Assert.Equal(AdmissionWebhook.Paths.Keys.Order(StringComparer.Ordinal),
            webhooks.Select(w => w["clientConfig"]!["service"]!["path"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        foreach (var webhook in webhooks)
        {
            var path = webhook["clientConfig"]!["service"]!["path"]!.GetValue<string>();
            var (version, kind) = (path.Split('-')[3], AdmissionWebhook.Paths[path]);
            Assert.Equal(WebhookCertificateSecret.ServiceName, webhook["clientConfig"]!["service"]!["name"]!.GetValue<string>());
            Assert.Equal("metallb-system", webhook["clientConfig"]!["service"]!["namespace"]!.GetValue<string>());
            Assert.Equal(kind.ToLowerInvariant() + "validationwebhook.metallb.io", webhook["name"]!.GetValue<string>());
            Assert.Equal(["v1"], Strings(webhook["admissionReviewVersions"]));
            Assert.Equal("None", webhook["sideEffects"]!.GetValue<string>());
            Assert.Equal("Fail", webhook["failurePolicy"]!.GetValue<string>());
            Assert.Null(webhook["clientConfig"]!["caBundle"]); // patched in by the controller
            var rule = Assert.Single(webhook["rules"]!.AsArray())!;
            Assert.Equal(["metallb.io"], Strings(rule["apiGroups"]));
            Assert.Equal([version], Strings(rule["apiVersions"]));
            Assert.Equal(["CREATE", "UPDATE", "DELETE"], Strings(rule["operations"]));
            var resource = Assert.Single(Strings(rule["resources"]));
            Assert.StartsWith(kind.ToLowerInvariant()[..^1], resource, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_service_reaches_the_controllers_webhook_listener()
    {
        var service = Single("webhook.yaml", "Service", WebhookCertificateSecret.ServiceName);
        var port = Assert.Single(service["spec"]!["ports"]!.AsArray())!;
        Assert.Equal(443, port["port"]!.GetValue<long>());

        var deployment = Single("controller.yaml", "Deployment");
        var pod = deployment["spec"]!["template"]!;
        var labels = pod["metadata"]!["labels"]!.AsObject();
        Assert.All(service["spec"]!["selector"]!.AsObject(), s => Assert.Equal(s.Value!.GetValue<string>(), labels[s.Key]?.GetValue<string>()));
        var container = pod["spec"]!["containers"]![0]!;
        var containerPort = container["ports"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == port["targetPort"]!.GetValue<string>())!;
        var listen = Strings(container["args"]).Single(a => a.StartsWith("--webhook-listen=", StringComparison.Ordinal));
        Assert.Equal($"--webhook-listen=0.0.0.0:{containerPort["containerPort"]!.GetValue<long>()}", listen);
    }

    [Fact]
    public void The_controller_may_write_the_certificate_secret_and_patch_the_webhook_configuration_and_nothing_more()
    {
        IEnumerable<(string Resource, string? Name, string Verb)> Rules(string kind) =>
            Single("rbac/controller.yaml", kind, "bgplb-controller")["rules"]!.AsArray().SelectMany(r =>
                Strings(r!["resources"]).SelectMany(resource => Strings(r["verbs"]).SelectMany(verb =>
                    r["resourceNames"] is { } names ? Strings(names).Select(n => (resource, (string?)n, verb)) : [(resource, (string?)null, verb)])));
        var cluster = Rules("ClusterRole").Where(r => r.Resource == "validatingwebhookconfigurations").ToList();
        Assert.Equal([("validatingwebhookconfigurations", WebhookCertificateSecret.ConfigurationName, "get"), ("validatingwebhookconfigurations", WebhookCertificateSecret.ConfigurationName, "patch")],
            cluster.Order());
        var secrets = Rules("Role").Where(r => r.Resource == "secrets" && r.Verb is "create" or "update").ToList();
        Assert.Equal([("secrets", null, "create"), ("secrets", WebhookCertificateSecret.SecretName, "update")], secrets.Order());
    }
}
