using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace BgpLb.Controller.Webhook;

/// <summary>
/// A self-signed CA and the serving certificate it issued, as PEM: what the webhook Secret or the standalone CA file
/// holds. <see cref="CaBundle"/> starts with the CA of <see cref="Certificate"/> and keeps the CAs it replaced while
/// they are valid, so that a client (the API server) trusts a replica that still serves the previous certificate.
/// </summary>
public sealed record WebhookCertificateSet(string CaBundle, string Certificate, string Key)
{
    /// <summary>The serving certificate with its private key.</summary>
    /// <exception cref="CryptographicException">The PEM is not a certificate and its key.</exception>
    public X509Certificate2 ToServing() => X509Certificate2.CreateFromPem(Certificate, Key);
}

/// <summary>
/// Issues the webhook's self-managed certificates and decides when they are due: a new CA (kept for nothing else: its
/// key is dropped once it has signed) and a serving certificate for the given names, valid for <see cref="Validity"/>;
/// renewed when less than a third of that is left.
/// </summary>
public static class WebhookCertificates
{
    public static readonly TimeSpan Validity = TimeSpan.FromDays(365);

    /// <summary>Backdating of NotBefore, for clients whose clock is a little behind.</summary>
    private static readonly TimeSpan ClockSkew = TimeSpan.FromHours(1);

    public static WebhookCertificateSet Issue(IReadOnlyCollection<string> dnsNames, IReadOnlyCollection<IPAddress> addresses, DateTimeOffset now,
        string? previousCaBundle = null)
    {
        ArgumentNullException.ThrowIfNull(dnsNames);
        ArgumentNullException.ThrowIfNull(addresses);
        var notBefore = now - ClockSkew;
        var notAfter = now + Validity;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest($"CN=bgplb-webhook-ca-{now.ToUnixTimeSeconds()}", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using var ca = caRequest.CreateSelfSigned(notBefore, notAfter);

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={dnsNames.FirstOrDefault() ?? "bgplb-webhook"}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(Allocation.Client.Credentials.ServerAuthentication)], false));
        var names = new SubjectAlternativeNameBuilder();
        foreach (var name in dnsNames)
            names.AddDnsName(name);
        foreach (var address in addresses)
            names.AddIpAddress(address);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        using var serving = request.Create(ca, notBefore, notAfter, RandomNumberGenerator.GetBytes(16));

        var bundle = ca.ExportCertificatePem() + "\n" + string.Concat(StillValid(previousCaBundle, now).Select(c => c.ExportCertificatePem() + "\n"));
        return new WebhookCertificateSet(bundle, serving.ExportCertificatePem() + "\n", key.ExportPkcs8PrivateKeyPem() + "\n");
    }

    /// <summary>
    /// Whether <paramref name="set"/> should be replaced: unreadable, for other names, not yet valid, or with less than a
    /// third of its validity left.
    /// </summary>
    public static bool NeedsRenewal(WebhookCertificateSet? set, IReadOnlyCollection<string> dnsNames, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(dnsNames);
        if (set is null)
            return true;
        try
        {
            using var serving = set.ToServing();
            var authorities = new X509Certificate2Collection();
            authorities.ImportFromPem(set.CaBundle);
            var notBefore = new DateTimeOffset(serving.NotBefore.ToUniversalTime());
            var notAfter = new DateTimeOffset(serving.NotAfter.ToUniversalTime());
            return now < notBefore || notAfter - now < (notAfter - notBefore) / 3
                || !dnsNames.All(name => serving.MatchesHostname(name))
                || !authorities.Any(a => IsIssuerOf(a, serving));
        }
        catch (CryptographicException)
        {
            return true;
        }
    }

    /// <summary>By key identifier: the names of two CAs issued in the same second are equal.</summary>
    private static bool IsIssuerOf(X509Certificate2 authority, X509Certificate2 certificate) =>
        authority.Extensions.OfType<X509SubjectKeyIdentifierExtension>().FirstOrDefault() is { } subjectKey
        && certificate.Extensions.OfType<X509AuthorityKeyIdentifierExtension>().FirstOrDefault() is { KeyIdentifier: { } issuerKey }
        && subjectKey.SubjectKeyIdentifierBytes.Span.SequenceEqual(issuerKey.Span);

    private static IEnumerable<X509Certificate2> StillValid(string? bundle, DateTimeOffset now)
    {
        if (string.IsNullOrEmpty(bundle))
            return [];
        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPem(bundle);
        }
        catch (CryptographicException)
        {
            return [];
        }
        return authorities.Where(a => a.NotAfter.ToUniversalTime() > now.UtcDateTime);
    }
}
