using System.Net;
using System.Text;
using BgpLb.Kubernetes;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace BgpLb.Controller.Webhook;

/// <summary>Where the self-managed webhook certificate lives (without --webhook-cert/--webhook-key), and how clients learn its CA.</summary>
public interface IWebhookCertificateStore
{
    /// <summary>The set to serve now: the stored one, or a new one issued and stored when there is none or it is due for renewal.</summary>
    /// <exception cref="WebhookCertificateException">It could not be read or stored (the message says why).</exception>
    Task<WebhookCertificateSet> EnsureAsync(CancellationToken cancellationToken);

    /// <summary>Makes clients trust <paramref name="certificates"/>: its CA bundle where they read it, when it differs.</summary>
    /// <exception cref="WebhookCertificateException">It could not be published (the message says why).</exception>
    Task PublishAsync(WebhookCertificateSet certificates, CancellationToken cancellationToken);
}

public sealed class WebhookCertificateException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Standalone mode: the certificate is kept in memory (a restart issues a new one) and its CA bundle is written to
/// <c>caFile</c> (<see cref="FileName"/> next to the state file) for clients to trust.
/// </summary>
public sealed class WebhookCaFile(string caFile, IPEndPoint listen, TimeProvider time) : IWebhookCertificateStore
{
    public const string FileName = "bgplb-webhook-ca.pem";

    private WebhookCertificateSet? _current;
    private string? _written;

    private static readonly string[] DnsNames = ["localhost", Dns.GetHostName()];

    public Task<WebhookCertificateSet> EnsureAsync(CancellationToken cancellationToken)
    {
        if (!WebhookCertificates.NeedsRenewal(_current, DnsNames, time.GetUtcNow()))
            return Task.FromResult(_current!);
        IPAddress[] addresses = listen.Address.Equals(IPAddress.Any) || listen.Address.Equals(IPAddress.IPv6Any)
            ? [IPAddress.Loopback, IPAddress.IPv6Loopback]
            : [listen.Address];
        _current = WebhookCertificates.Issue(DnsNames, addresses, time.GetUtcNow(), _current?.CaBundle);
        return Task.FromResult(_current);
    }

    public Task PublishAsync(WebhookCertificateSet certificates, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(certificates);
        if (certificates.CaBundle == _written)
            return Task.CompletedTask;
        var temporary = caFile + ".tmp";
        try
        {
            File.WriteAllText(temporary, certificates.CaBundle);
            File.Move(temporary, caFile, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new WebhookCertificateException($"cannot write the webhook CA to {caFile}: {e.Message}", e);
        }
        _written = certificates.CaBundle;
        return Task.CompletedTask;
    }
}

/// <summary>
/// Kubernetes mode: the certificate is kept in the Secret <see cref="SecretName"/> of the controller's namespace (shared by
/// every replica; the first to find it missing or due creates it, the others read it), and its CA bundle is patched into
/// every webhook of the ValidatingWebhookConfiguration <see cref="ConfigurationName"/> whenever it differs.
/// </summary>
public sealed class WebhookCertificateSecret(IKubernetes client, string ns, TimeProvider time) : IWebhookCertificateStore
{
    public const string SecretName = "metallb-webhook-cert";
    public const string ConfigurationName = "metallb-webhook-configuration";
    public const string ServiceName = "metallb-webhook-service";
    private const string CaKey = "ca.crt";

    private readonly string[] _dnsNames = [$"{ServiceName}.{ns}.svc", $"{ServiceName}.{ns}.svc.cluster.local", $"{ServiceName}.{ns}", ServiceName];

    public Task<WebhookCertificateSet> EnsureAsync(CancellationToken cancellationToken) => CallAsync(EnsureSecretAsync, cancellationToken);

    public Task PublishAsync(WebhookCertificateSet certificates, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(certificates);
        return CallAsync(async ct =>
        {
            await EnsureCaBundleAsync(certificates.CaBundle, ct);
            return certificates;
        }, cancellationToken);
    }

    /// <summary>API failures as <see cref="WebhookCertificateException"/>, with the server's answer.</summary>
    private static async Task<T> CallAsync<T>(Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call(cancellationToken);
        }
        catch (HttpOperationException e)
        {
            throw new WebhookCertificateException($"{e.Message} ({e.Response?.Content})", e);
        }
        catch (HttpRequestException e)
        {
            throw new WebhookCertificateException(e.Message, e);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new WebhookCertificateException("the API server did not answer in time", e);
        }
    }

    private async Task<WebhookCertificateSet> EnsureSecretAsync(CancellationToken cancellationToken)
    {
        var secret = await ReadSecretAsync(cancellationToken);
        var stored = secret is null ? null : FromSecret(secret);
        if (!WebhookCertificates.NeedsRenewal(stored, _dnsNames, time.GetUtcNow()))
            return stored!;
        var issued = WebhookCertificates.Issue(_dnsNames, [], time.GetUtcNow(), stored?.CaBundle);
        var data = new Dictionary<string, byte[]>
        {
            [CaKey] = Encoding.UTF8.GetBytes(issued.CaBundle),
            ["tls.crt"] = Encoding.UTF8.GetBytes(issued.Certificate),
            ["tls.key"] = Encoding.UTF8.GetBytes(issued.Key),
        };
        try
        {
            if (secret is null)
            {
                await client.CoreV1.CreateNamespacedSecretAsync(new V1Secret
                {
                    Metadata = new V1ObjectMeta { Name = SecretName, NamespaceProperty = ns, Labels = new Dictionary<string, string> { ["app.kubernetes.io/name"] = "bgplb" } },
                    Type = "kubernetes.io/tls",
                    Data = data,
                }, ns, cancellationToken: cancellationToken);
            }
            else
            {
                // The resourceVersion makes this fail if another replica renewed it meanwhile; then theirs is used.
                secret.Data = data;
                secret.Type ??= "kubernetes.io/tls";
                await client.CoreV1.ReplaceNamespacedSecretAsync(secret, SecretName, ns, cancellationToken: cancellationToken);
            }
            return issued;
        }
        catch (HttpOperationException e) when (Conflicts.IsConflict(e))
        {
            var theirs = await ReadSecretAsync(cancellationToken) is { } winner ? FromSecret(winner) : null;
            return !WebhookCertificates.NeedsRenewal(theirs, _dnsNames, time.GetUtcNow())
                ? theirs!
                : throw new WebhookCertificateException($"Secret {ns}/{SecretName} was changed by another writer and is not usable yet", e);
        }
    }

    private async Task EnsureCaBundleAsync(string caBundle, CancellationToken cancellationToken)
    {
        V1ValidatingWebhookConfiguration configuration;
        try
        {
            configuration = await client.AdmissionregistrationV1.ReadValidatingWebhookConfigurationAsync(ConfigurationName, cancellationToken: cancellationToken);
        }
        catch (HttpOperationException e) when (Conflicts.IsNotFound(e))
        {
            throw new WebhookCertificateException($"ValidatingWebhookConfiguration {ConfigurationName} does not exist (apply config/webhook), so the API server cannot call the webhook", e);
        }
        var bundle = Encoding.UTF8.GetBytes(caBundle);
        var webhooks = configuration.Webhooks ?? [];
        if (webhooks.All(w => w.ClientConfig?.CaBundle is { } current && current.AsSpan().SequenceEqual(bundle)))
            return;
        foreach (var webhook in webhooks)
        {
            webhook.ClientConfig ??= new Admissionregistrationv1WebhookClientConfig();
            webhook.ClientConfig.CaBundle = bundle;
        }
        // A merge patch replaces the whole list: the resourceVersion makes it fail rather than undo someone's change.
        var patch = new V1ValidatingWebhookConfiguration
        {
            Metadata = new V1ObjectMeta { ResourceVersion = configuration.Metadata.ResourceVersion },
            Webhooks = webhooks,
        };
        await client.AdmissionregistrationV1.PatchValidatingWebhookConfigurationAsync(new V1Patch(KubernetesJson.Serialize(patch), V1Patch.PatchType.MergePatch),
            ConfigurationName, cancellationToken: cancellationToken);
    }

    private async Task<V1Secret?> ReadSecretAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await client.CoreV1.ReadNamespacedSecretAsync(SecretName, ns, cancellationToken: cancellationToken);
        }
        catch (HttpOperationException e) when (Conflicts.IsNotFound(e))
        {
            return null;
        }
    }

    private static WebhookCertificateSet? FromSecret(V1Secret secret) =>
        secret.Data is { } data && data.TryGetValue(CaKey, out var ca) && data.TryGetValue("tls.crt", out var certificate) && data.TryGetValue("tls.key", out var key)
            ? new WebhookCertificateSet(Encoding.UTF8.GetString(ca), Encoding.UTF8.GetString(certificate), Encoding.UTF8.GetString(key))
            : null;
}
