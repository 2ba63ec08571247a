using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace BgpLb.Allocation.Client;

/// <summary>A credential file is unreadable or does not hold what its flag needs; the message names the flag and the file.</summary>
public sealed class CredentialException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A credential (certificate and key, CA bundle, token) parsed from its files and re-read whenever their content
/// changes: each use (a TLS handshake, a call) reads the files and compares the bytes, so the first connection or call
/// after a rotation uses the new credential, with no restart and no file watch to miss an atomic rename or a Kubernetes
/// Secret's symlink swap. Content that cannot be read or parsed is logged once and the last good credential stays in force.
/// </summary>
public sealed partial class CredentialFile<T> where T : class
{
    private readonly Lock _lock = new();
    private readonly string _flags;
    private readonly string[] _paths;
    private readonly string _files;
    private readonly Func<string[], T> _parse;
    private readonly ILogger _logger;
    private byte[][] _seen;
    private string? _problem;
    private T _current;

    /// <param name="flags">The flags that name the files, for messages ("--grpc-tls-cert/--grpc-tls-key").</param>
    /// <param name="parse">Builds the credential from the files' text; throws <see cref="CryptographicException"/>,
    /// <see cref="FormatException"/> or <see cref="ArgumentException"/> on bad content.</param>
    /// <exception cref="CredentialException">The files cannot be read or parsed now.</exception>
    public CredentialFile(string flags, string[] paths, Func<string[], T> parse, ILogger logger)
    {
        _flags = flags;
        _paths = paths;
        _parse = parse;
        _logger = logger;
        _files = string.Join(", ", paths);
        if (TryRead(out _seen) is { } unreadable)
            throw new CredentialException(unreadable);
        _current = TryParse(_seen, out var problem) ?? throw new CredentialException(problem!);
    }

    public T Current
    {
        get
        {
            lock (_lock)
            {
                var problem = TryRead(out var content);
                if (problem is null)
                {
                    if (Same(content, _seen))
                        return _current;
                    _seen = content;
                    if (TryParse(content, out problem) is { } fresh)
                    {
                        _current = fresh;
                        _problem = null;
                        Log.Reloaded(_logger, _flags, _files);
                        return _current;
                    }
                }
                if (problem != _problem)
                    Log.Rejected(_logger, problem!);
                _problem = problem;
                return _current;
            }
        }
    }

    private string? TryRead(out byte[][] content)
    {
        content = new byte[_paths.Length][];
        for (var i = 0; i < _paths.Length; i++)
        {
            try
            {
                content[i] = File.ReadAllBytes(_paths[i]);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return $"{_flags}: cannot read '{_paths[i]}': {e.Message}";
            }
        }
        return null;
    }

    private T? TryParse(byte[][] content, out string? problem)
    {
        try
        {
            problem = null;
            return _parse([.. content.Select(c => System.Text.Encoding.UTF8.GetString(c))]);
        }
        catch (Exception e) when (e is CryptographicException or FormatException or ArgumentException)
        {
            problem = $"{_flags}: '{string.Join("', '", _paths)}': {e.Message}";
            return null;
        }
    }

    private static bool Same(byte[][] a, byte[][] b)
    {
        for (var i = 0; i < a.Length; i++)
            if (!a[i].AsSpan().SequenceEqual(b[i]))
                return false;
        return true;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4150, Level = LogLevel.Information, Message = "Reloaded {Flags} from {Files}")]
        public static partial void Reloaded(ILogger logger, string flags, string files);

        [LoggerMessage(EventId = 4151, Level = LogLevel.Error, Message = "Keeping the last good credential: {Problem}")]
        public static partial void Rejected(ILogger logger, string problem);
    }
}

/// <summary>Parsers of the PEM files and token files behind the gRPC flags, and the one certificate check both ends use.</summary>
public static class Credentials
{
    public const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";
    public const string ClientAuthentication = "1.3.6.1.5.5.7.3.2";

    /// <summary>A certificate (the first of the file; a chain after it is ignored) with its private key (PEM, PKCS#8, PKCS#1 or SEC1).</summary>
    public static CredentialFile<X509Certificate2> CertificateWithKey(string flags, string certificateFile, string keyFile, ILogger logger) =>
        new(flags, [certificateFile, keyFile], pem =>
        {
            var certificate = X509Certificate2.CreateFromPem(pem[0], pem[1]);
            return certificate.NotAfter < DateTime.Now ? throw new FormatException($"the certificate expired on {certificate.NotAfter:u}") : certificate;
        }, logger);

    /// <summary>One or more CA certificates (PEM).</summary>
    public static CredentialFile<X509Certificate2Collection> Authorities(string flag, string file, ILogger logger) =>
        new(flag, [file], pem =>
        {
            var authorities = new X509Certificate2Collection();
            authorities.ImportFromPem(pem[0]);
            return authorities.Count > 0 ? authorities : throw new FormatException("no PEM CERTIFICATE block");
        }, logger);

    /// <summary>A bearer token: the file's first line, without surrounding white space.</summary>
    public static CredentialFile<string> Token(string flag, string file, ILogger logger) =>
        new(flag, [file], text =>
        {
            var token = text[0].Split('\n')[0].Trim();
            return token.Length > 0 && token.All(c => c is > ' ' and <= '~') ? token
                : throw new FormatException("the first line must hold the token (printable ASCII, no spaces)");
        }, logger);

    /// <summary>
    /// Whether <paramref name="certificate"/> chains to one of <paramref name="authorities"/> (and only to them), is
    /// within its validity period and allowed for <paramref name="usage"/> (when it lists extended key usages).
    /// </summary>
    public static bool IsIssuedBy(X509Certificate2 certificate, X509Certificate2Collection authorities, string usage,
        IEnumerable<X509Certificate2> intermediates, out string problem)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.ExtraStore.AddRange(intermediates.ToArray());
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(usage));
        if (chain.Build(certificate))
        {
            problem = "";
            return true;
        }
        problem = $"certificate '{certificate.Subject}' is not valid for this CA: "
            + string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
        return false;
    }
}
