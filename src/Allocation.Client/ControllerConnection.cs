using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BgpLb.Allocation.Client;

/// <summary>
/// How a speaker or a tool reaches bgplb-controller's allocation service (DESIGN.md §3: --controller URL,
/// --controller-ca, --controller-cert/--controller-key, --controller-token-file). The files are re-read when they
/// change (<see cref="CredentialFile{T}"/>): a new connection or call after a rotation presents the new credential.
/// </summary>
public sealed partial record ControllerConnection(Uri Address)
{
    /// <summary>Trust only this CA (PEM) for the controller's certificate; null: the system's trust store.</summary>
    public string? CaFile { get; init; }
    /// <summary>Client certificate (PEM) presented to a controller started with --grpc-client-ca.</summary>
    public string? CertificateFile { get; init; }
    public string? KeyFile { get; init; }
    /// <summary>Bearer token (the file's first line) for a controller started with --grpc-token-file.</summary>
    public string? TokenFile { get; init; }

    /// <summary>Checks the combination of flags and reads every file once.</summary>
    /// <exception cref="CredentialException">The message names the flag (and the file).</exception>
    public void Validate()
    {
        if (CertificateFile is null != KeyFile is null)
            throw new CredentialException("--controller-cert and --controller-key go together (the client certificate and its private key, PEM)");
        if (Address.Scheme != Uri.UriSchemeHttps && (CaFile ?? CertificateFile ?? TokenFile) is not null)
            throw new CredentialException($"--controller-ca, --controller-cert and --controller-token-file need an https:// --controller URL, not '{Address}'");
        _ = new Files(this, NullLogger.Instance);
    }

    /// <summary>A channel that presents the configured credentials; one per process is enough (HTTP/2 multiplexes calls).</summary>
    /// <exception cref="CredentialException">A file cannot be read or parsed now.</exception>
    public GrpcChannel CreateChannel(ILogger logger)
    {
        var files = new Files(this, logger);
        var ssl = new SslClientAuthenticationOptions();
        if (files.Authorities is { } authorities)
            ssl.RemoteCertificateValidationCallback = (_, certificate, chain, errors) => IsTrusted(authorities.Current, certificate, chain, errors, logger);
        if (files.Certificate is { } certificate)
            ssl.LocalCertificateSelectionCallback = (_, _, _, _, _) => certificate.Current;
        var options = new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                ConnectTimeout = TimeSpan.FromSeconds(5),
                KeepAlivePingDelay = TimeSpan.FromSeconds(20),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
                KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
                SslOptions = ssl,
            },
        };
        if (files.Token is { } token)
        {
            options.Credentials = ChannelCredentials.Create(ChannelCredentials.SecureSsl, CallCredentials.FromInterceptor((_, metadata) =>
            {
                metadata.Add("authorization", "Bearer " + token.Current);
                return Task.CompletedTask;
            }));
        }
        return GrpcChannel.ForAddress(Address, options);
    }

    /// <summary>The controller's certificate must match the URL's host and chain to the configured CA (not the system's).</summary>
    private bool IsTrusted(X509Certificate2Collection authorities, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors, ILogger logger)
    {
        string problem;
        if (certificate is not X509Certificate2 presented)
            problem = "the controller presented no certificate";
        else if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
            problem = $"certificate '{presented.Subject}' does not name host '{Address.Host}' (subject alternative names)";
        else if (Credentials.IsIssuedBy(presented, authorities, Credentials.ServerAuthentication,
                     chain?.ChainElements.Skip(1).Select(e => e.Certificate) ?? [], out problem))
            return true;
        Log.UntrustedController(logger, Address, problem);
        return false;
    }

    private sealed class Files(ControllerConnection connection, ILogger logger)
    {
        public CredentialFile<X509Certificate2Collection>? Authorities { get; } =
            connection.CaFile is { } ca ? Credentials.Authorities("--controller-ca", ca, logger) : null;
        public CredentialFile<X509Certificate2>? Certificate { get; } = connection is { CertificateFile: { } cert, KeyFile: { } key }
            ? Credentials.CertificateWithKey("--controller-cert/--controller-key", cert, key, logger) : null;
        public CredentialFile<string>? Token { get; } =
            connection.TokenFile is { } token ? Credentials.Token("--controller-token-file", token, logger) : null;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4152, Level = LogLevel.Error, Message = "Not trusting controller {Controller} (--controller-ca): {Problem}")]
        public static partial void UntrustedController(ILogger logger, Uri controller, string problem);
    }
}
