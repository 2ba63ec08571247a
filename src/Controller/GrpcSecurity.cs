using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using BgpLb.Allocation.Client;
using BgpLb.Logging;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace BgpLb.Controller;

/// <summary>The allocation service's TLS and caller authentication flags (DESIGN.md §3).</summary>
public sealed record GrpcSecurityOptions
{
    /// <summary>--grpc-tls-cert and --grpc-tls-key (PEM): serve TLS; null: cleartext HTTP/2.</summary>
    public string? CertificateFile { get; init; }
    public string? KeyFile { get; init; }
    /// <summary>--grpc-client-ca (PEM): every call must come with a client certificate this CA issued.</summary>
    public string? ClientCaFile { get; init; }
    /// <summary>--grpc-token-file: every call must carry <c>authorization: Bearer TOKEN</c> with a token of this file.</summary>
    public string? TokenFile { get; init; }
    /// <summary>--grpc-insecure: allow listening beyond loopback without TLS and authentication.</summary>
    public bool Insecure { get; init; }

    public bool Tls => CertificateFile is not null;
    public bool Authenticates => ClientCaFile is not null || TokenFile is not null;
}

/// <summary>
/// TLS and caller authentication of the allocation service. Each configured method is required: with --grpc-client-ca a
/// client certificate issued by that CA, with --grpc-token-file a bearer token from that file; a call without them is
/// answered UNAUTHENTICATED before the service sees it. The caller's identity (certificate subject, else token name, else
/// <see cref="AnonymousCaller"/>) decides who owns an external allocation. Every file is re-read when it changes
/// (<see cref="CredentialFile{T}"/>): the next handshake or call uses the new content.
/// </summary>
public sealed partial class GrpcSecurity
{
    /// <summary>The one identity of callers when no authentication is configured.</summary>
    public const string AnonymousCaller = "anonymous";

    private readonly CredentialFile<X509Certificate2>? _certificate;
    private readonly CredentialFile<X509Certificate2Collection>? _clientAuthorities;
    private readonly CredentialFile<BearerTokens>? _tokens;
    private readonly ILogger _logger;
    private readonly LogRateLimiter _refusalLog;

    /// <exception cref="CredentialException">A file cannot be read or parsed; the message names the flag and the file.</exception>
    public GrpcSecurity(GrpcSecurityOptions options, ILogger<GrpcSecurity> logger, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _logger = logger;
        _refusalLog = new LogRateLimiter(time);
        if (options is { CertificateFile: { } cert, KeyFile: { } key })
            _certificate = Credentials.CertificateWithKey("--grpc-tls-cert/--grpc-tls-key", cert, key, logger);
        if (options.ClientCaFile is { } ca)
            _clientAuthorities = Credentials.Authorities("--grpc-client-ca", ca, logger);
        if (options.TokenFile is { } tokens)
            _tokens = new CredentialFile<BearerTokens>("--grpc-token-file", [tokens], text => BearerTokens.Parse(text[0]), logger);
    }

    /// <summary>Serves TLS on the listener when a certificate is configured, asking for (not yet checking) a client certificate.</summary>
    public void Configure(ListenOptions listen)
    {
        ArgumentNullException.ThrowIfNull(listen);
        if (_certificate is not { } certificate)
            return;
        listen.UseHttps(new HttpsConnectionAdapterOptions
        {
            ServerCertificateSelector = (_, _) => certificate.Current,
            ClientCertificateMode = _clientAuthorities is null ? ClientCertificateMode.NoCertificate : ClientCertificateMode.AllowCertificate,
            // Checked per call in Authenticate instead (the CA file may change), so a bad certificate gets UNAUTHENTICATED
            // and a reason rather than a failed handshake.
            ClientCertificateValidation = (_, _, _) => true,
        });
    }

    /// <summary>The caller's identity.</summary>
    /// <exception cref="RpcException">UNAUTHENTICATED, with what is missing or wrong.</exception>
    public string Authenticate(ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        string? caller = null;
        if (_clientAuthorities is not null)
        {
            if (context.GetHttpContext().Connection.ClientCertificate is not { } certificate)
                throw Refuse(context, "a client certificate is required (the controller runs with --grpc-client-ca)");
            if (!Credentials.IsIssuedBy(certificate, _clientAuthorities.Current, Credentials.ClientAuthentication, [], out var problem))
                throw Refuse(context, problem);
            caller = certificate.Subject;
        }
        if (_tokens is not null)
        {
            var header = context.RequestHeaders.GetValue("authorization");
            if (header is null || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
                throw Refuse(context, "a bearer token is required (authorization: Bearer TOKEN; the controller runs with --grpc-token-file)");
            caller ??= _tokens.Current.Find(header["Bearer ".Length..].Trim()) ?? throw Refuse(context, "the bearer token is not valid");
        }
        return caller ?? AnonymousCaller;
    }

    /// <summary>The identity that <see cref="CallerAuthentication"/> found for this call.</summary>
    public static string CallerOf(ServerCallContext context) =>
        context?.UserState.TryGetValue(typeof(GrpcSecurity), out var caller) == true ? (string)caller : AnonymousCaller;

    private RpcException Refuse(ServerCallContext context, string reason)
    {
        if (_refusalLog.TryAcquire(out var notLogged))
            Log.Refused(_logger, context.Peer, context.Method, reason, notLogged);
        return new RpcException(new Status(StatusCode.Unauthenticated, reason));
    }

    /// <summary>
    /// The tokens of --grpc-token-file: one per line, optionally followed by white space and the caller's name (default
    /// "token"); blank lines and lines starting with # are ignored. Several lines let a token be rotated without a gap.
    /// Tokens are compared as SHA-256 digests in constant time.
    /// </summary>
    private sealed class BearerTokens(List<(byte[] Digest, string Name)> tokens)
    {
        public static BearerTokens Parse(string text)
        {
            var tokens = new List<(byte[], string)>();
            foreach (var line in text.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (line.StartsWith('#'))
                    continue;
                var parts = line.Split((char[]?)null, 2, StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                tokens.Add((Digest(parts[0]), parts.Length == 2 ? parts[1] : "token"));
            }
            return tokens.Count > 0 ? new BearerTokens(tokens) : throw new FormatException("no token (one per line: TOKEN [CALLER-NAME])");
        }

        public string? Find(string presented)
        {
            var digest = Digest(presented);
            string? name = null;
            foreach (var token in tokens)
                if (CryptographicOperations.FixedTimeEquals(digest, token.Digest))
                    name ??= token.Name;
            return name;
        }

        private static byte[] Digest(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4030, Level = LogLevel.Warning, Message = "Refused {Method} from {Peer}: {Reason} ({NotLogged} more refusals since the last of these lines)")]
        public static partial void Refused(ILogger logger, string peer, string method, string reason, long notLogged);
    }
}

/// <summary>Authenticates every call of the allocation service (<see cref="GrpcSecurity.Authenticate"/>) before it runs.</summary>
public sealed class CallerAuthentication(GrpcSecurity security) : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Identify(context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Identify(context);
        return continuation(request, responseStream, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream,
        ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Identify(context);
        return continuation(requestStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream,
        IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Identify(context);
        return continuation(requestStream, responseStream, context);
    }

    private void Identify(ServerCallContext context) => context.UserState[typeof(GrpcSecurity)] = security.Authenticate(context);
}
