using BgpLb.Hosting;
using BgpLb.Kubernetes.Testing;

namespace BgpLb.Controller.Tests;

/// <summary>The gRPC security flags of DESIGN.md §3: combinations and files checked at start-up, beyond loopback only with TLS and authentication.</summary>
public sealed class GrpcSecurityOptionsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bgplb-ctl-sec-").FullName;
    private readonly TestPki.Issued _server;
    private readonly TestPki.Authority _ca;
    private readonly string _tokens;

    public GrpcSecurityOptionsTests()
    {
        var pki = new TestPki(_dir);
        _ca = pki.CreateAuthority("ca");
        _server = pki.Issue(_ca, "controller", server: true);
        _tokens = Path.Combine(_dir, "tokens");
        File.WriteAllText(_tokens, "token\n");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private ControllerOptions Parse(params string[] args) => ControllerOptions.Parse(["--config", _dir, .. args], _ => null);

    private string Refusal(params string[] args) => Assert.Throws<CommandLineException>(() => Parse(args)).Message;

    [Fact]
    public void Beyond_loopback_the_service_needs_tls_with_authentication_or_an_explicit_insecure_flag()
    {
        const string expected = "--grpc-listen 0.0.0.0:7473 is beyond loopback: serve TLS (--grpc-tls-cert, --grpc-tls-key) with authentication "
            + "(--grpc-client-ca and/or --grpc-token-file), or accept anyone who can reach it with --grpc-insecure";
        Assert.Equal(expected, Refusal("--grpc-listen", "0.0.0.0:7473"));
        Assert.Equal(expected, Refusal("--grpc-listen", "0.0.0.0:7473", "--grpc-tls-cert", _server.CertificateFile, "--grpc-tls-key", _server.KeyFile));
        Assert.Equal(expected, Refusal("--grpc-listen", "0.0.0.0:7473", "--grpc-token-file", _tokens));

        Assert.True(Parse("--grpc-listen", "0.0.0.0:7473", "--grpc-insecure").GrpcSecurity.Insecure);
        Assert.Equal(_tokens, Parse("--grpc-listen", "[::]:7473", "--grpc-tls-cert", _server.CertificateFile, "--grpc-tls-key", _server.KeyFile,
            "--grpc-token-file", _tokens).GrpcSecurity.TokenFile);
        Assert.Equal(_ca.CertificateFile, Parse("--grpc-listen", "0.0.0.0:7473", "--grpc-tls-cert", _server.CertificateFile, "--grpc-tls-key", _server.KeyFile,
            "--grpc-client-ca", _ca.CertificateFile).GrpcSecurity.ClientCaFile);
        Assert.False(Parse().GrpcSecurity.Tls); // loopback: cleartext without authentication, as before
    }

    [Fact]
    public void Every_security_flag_reads_its_environment_variable()
    {
        var env = new Dictionary<string, string>
        {
            ["BGPLB_GRPC_LISTEN"] = "0.0.0.0:7473",
            ["BGPLB_GRPC_TLS_CERT"] = _server.CertificateFile,
            ["BGPLB_GRPC_TLS_KEY"] = _server.KeyFile,
            ["BGPLB_GRPC_CLIENT_CA"] = _ca.CertificateFile,
            ["BGPLB_GRPC_TOKEN_FILE"] = _tokens,
            ["BGPLB_GRPC_INSECURE"] = "true",
        };
        var security = ControllerOptions.Parse(["--config", _dir], env.GetValueOrDefault).GrpcSecurity;
        Assert.Equal(new GrpcSecurityOptions
        {
            CertificateFile = _server.CertificateFile,
            KeyFile = _server.KeyFile,
            ClientCaFile = _ca.CertificateFile,
            TokenFile = _tokens,
            Insecure = true,
        }, security);
    }

    [Fact]
    public void Bad_combinations_and_files_are_refused_naming_the_flag_and_the_file()
    {
        Assert.Equal("--grpc-tls-cert and --grpc-tls-key go together (the server certificate and its private key, PEM)",
            Refusal("--grpc-tls-cert", _server.CertificateFile));
        Assert.Equal("--grpc-tls-cert and --grpc-tls-key go together (the server certificate and its private key, PEM)",
            Refusal("--grpc-tls-key", _server.KeyFile));
        Assert.Equal("--grpc-client-ca needs --grpc-tls-cert and --grpc-tls-key (client certificates are presented over TLS)",
            Refusal("--grpc-client-ca", _ca.CertificateFile));

        var missing = Path.Combine(_dir, "missing.crt");
        Assert.StartsWith($"--grpc-tls-cert/--grpc-tls-key: cannot read '{missing}'", Refusal("--grpc-tls-cert", missing, "--grpc-tls-key", _server.KeyFile), StringComparison.Ordinal);
        Assert.StartsWith($"--grpc-tls-cert/--grpc-tls-key: '{_server.KeyFile}', '{_server.KeyFile}': ",
            Refusal("--grpc-tls-cert", _server.KeyFile, "--grpc-tls-key", _server.KeyFile), StringComparison.Ordinal);
        Assert.StartsWith($"--grpc-client-ca: '{_tokens}': no PEM CERTIFICATE block",
            Refusal("--grpc-tls-cert", _server.CertificateFile, "--grpc-tls-key", _server.KeyFile, "--grpc-client-ca", _tokens), StringComparison.Ordinal);
        var empty = Path.Combine(_dir, "empty");
        File.WriteAllText(empty, "\n# nothing\n");
        Assert.StartsWith($"--grpc-token-file: '{empty}': no token", Refusal("--grpc-token-file", empty), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_controller_refuses_to_listen_beyond_loopback_unprotected_with_exit_code_2_and_one_line()
    {
        var (exitCode, line) = await DaemonProcess.RunUntilRefusedAsync("bgplb-controller.dll",
            ["--config", _dir, "--grpc-listen", "0.0.0.0:0", "--metrics-listen", "127.0.0.1:0"], TimeSpan.FromSeconds(60));
        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.Equal("bgplb-controller: --grpc-listen 0.0.0.0:0 is beyond loopback: serve TLS (--grpc-tls-cert, --grpc-tls-key) with authentication "
            + "(--grpc-client-ca and/or --grpc-token-file), or accept anyone who can reach it with --grpc-insecure", line);
    }
}
