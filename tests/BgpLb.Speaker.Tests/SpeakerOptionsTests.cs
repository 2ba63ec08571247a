using System.Net;
using BgpLb.Hosting;
using BgpLb.Speaker;
using Microsoft.Extensions.Logging;

namespace BgpLb.Speaker.Tests;

public sealed class SpeakerOptionsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bgplb-opts").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Func<string, string?> Env(params (string Key, string Value)[] values) =>
        key => values.FirstOrDefault(v => v.Key == key).Value;

    [Fact]
    public void Defaults_follow_the_contract()
    {
        var options = SpeakerOptions.Parse(["--node", "n1", "--config", _dir], Env());
        Assert.Equal("n1", options.NodeName);
        Assert.Equal(IPEndPoint.Parse("0.0.0.0:179"), options.BgpListen);
        Assert.Equal(IPEndPoint.Parse("127.0.0.1:7474"), options.MetricsListen);
        Assert.Equal(7946, options.MemberlistPort);
        Assert.Equal(LogLevel.Information, options.LogLevel);
    }

    [Fact]
    public void Lb_class_and_ignore_exclude_lb_come_from_flags_or_environment()
    {
        Assert.Equal(new ServiceScope(null, false), SpeakerOptions.Parse(["--node", "n1", "--config", _dir], Env()).Scope);
        Assert.Equal(new ServiceScope("example.com/lb", true),
            SpeakerOptions.Parse(["--node", "n1", "--config", _dir, "--lb-class", "example.com/lb", "--ignore-exclude-lb"], Env()).Scope);
        var env = Env(("BGPLB_LB_CLASS", "env/lb"), ("BGPLB_IGNORE_EXCLUDE_LB", "1"));
        Assert.Equal(new ServiceScope("env/lb", true), SpeakerOptions.Parse(["--node", "n1", "--config", _dir], env).Scope);
        Assert.Equal(new ServiceScope(null, true), SpeakerOptions.Parse(["--node", "n1", "--config", _dir, "--lb-class", ""], env).Scope);
    }

    [Fact]
    public void Environment_supplies_every_flag_and_the_command_line_wins()
    {
        var env = Env(("BGPLB_NODE", "env-node"), ("BGPLB_CONFIG", _dir), ("BGPLB_BGP_LISTEN", "127.0.0.1:1179"),
            ("BGPLB_METRICS_LISTEN", "127.0.0.1:9999"), ("BGPLB_LOG_LEVEL", "debug"), ("BGPLB_MEMBERLIST_PORT", "8000"));
        var fromEnv = SpeakerOptions.Parse([], env);
        Assert.Equal("env-node", fromEnv.NodeName);
        Assert.Equal(IPEndPoint.Parse("127.0.0.1:1179"), fromEnv.BgpListen);
        Assert.Equal(IPEndPoint.Parse("127.0.0.1:9999"), fromEnv.MetricsListen);
        Assert.Equal(LogLevel.Debug, fromEnv.LogLevel);
        Assert.Equal(8000, fromEnv.MemberlistPort);

        var overridden = SpeakerOptions.Parse(["--node", "cli-node", "--log-level", "warning"], env);
        Assert.Equal("cli-node", overridden.NodeName);
        Assert.Equal(LogLevel.Warning, overridden.LogLevel);
    }

    [Fact]
    public void L2_liveness_runs_with_a_key_file_or_an_explicit_opt_out_and_never_both()
    {
        Assert.False(SpeakerOptions.Parse(["--node", "n", "--config", _dir], Env()).MembershipEnabled);
        var insecure = SpeakerOptions.Parse(["--node", "n", "--config", _dir, "--memberlist-insecure"], Env());
        Assert.True(insecure.MembershipEnabled && insecure.MemberlistKeys is null);

        var keyFile = Path.Combine(_dir, "memberlist.key");
        File.WriteAllText(keyFile, "0123456789abcdef-new\n0123456789abcdef-old\n");
        var keyed = SpeakerOptions.Parse(["--node", "n", "--config", _dir], Env(("BGPLB_MEMBERLIST_SECRET_FILE", keyFile)));
        Assert.True(keyed.MembershipEnabled);
        Assert.Equal(2, keyed.MemberlistKeys!.Count);

        Assert.Contains("exclude each other", Assert.Throws<CommandLineException>(() =>
            SpeakerOptions.Parse(["--node", "n", "--config", _dir, "--memberlist-secret-file", keyFile, "--memberlist-insecure"], Env())).Message, StringComparison.Ordinal);
        File.WriteAllText(keyFile, "too-short\n");
        var weak = Assert.Throws<CommandLineException>(() => SpeakerOptions.Parse(["--node", "n", "--config", _dir, "--memberlist-secret-file", keyFile], Env()));
        Assert.Equal($"--memberlist-secret-file: {keyFile}: key 1 is 9 bytes; at least 16 are needed", weak.Message);
        var missing = Assert.Throws<CommandLineException>(() =>
            SpeakerOptions.Parse(["--node", "n", "--config", _dir, "--memberlist-secret-file", Path.Combine(_dir, "none")], Env()));
        Assert.StartsWith($"--memberlist-secret-file: {Path.Combine(_dir, "none")}: ", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Kubernetes_mode_takes_a_kubeconfig_or_the_in_cluster_account()
    {
        var kubeconfig = Path.Combine(_dir, "kubeconfig");
        File.WriteAllText(kubeconfig, "");
        var fromFile = SpeakerOptions.Parse(["--node", "n", "--kubeconfig", kubeconfig], Env());
        Assert.Equal(new BgpLb.Kubernetes.KubernetesConnection(kubeconfig, false), fromFile.Kubernetes);
        Assert.Null(fromFile.ConfigDirectory);
        Assert.Equal($"kubeconfig {kubeconfig}", fromFile.SourceDescription);
        Assert.Equal(new BgpLb.Kubernetes.KubernetesConnection(null, true), SpeakerOptions.Parse(["--node", "n", "--in-cluster"], Env()).Kubernetes);
        Assert.Null(SpeakerOptions.Parse(["--node", "n", "--config", _dir], Env()).Kubernetes);
        var missing = Assert.Throws<CommandLineException>(() => SpeakerOptions.Parse(["--node", "n", "--kubeconfig", Path.Combine(_dir, "missing")], Env()));
        Assert.Contains("--kubeconfig: file", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Controller_url_selects_controller_allocations_and_its_absence_in_process_allocation()
    {
        Assert.Null(SpeakerOptions.Parse(["--node", "n", "--config", _dir], Env()).Controller?.Address);
        Assert.Equal(new Uri("http://198.18.0.1:7473"), SpeakerOptions.Parse(["--node", "n", "--config", _dir, "--controller", "http://198.18.0.1:7473"], Env()).Controller?.Address);
        Assert.Equal(new Uri("https://ctl.example:8443"), SpeakerOptions.Parse(["--node", "n", "--config", _dir], Env(("BGPLB_CONTROLLER", "https://ctl.example:8443"))).Controller?.Address);
    }

    [Fact]
    public void Port_zero_disables_the_listener() =>
        Assert.Null(SpeakerOptions.Parse(["--node", "n", "--config", _dir, "--bgp-listen", "0.0.0.0:0"], Env()).BgpListen);

    [Theory]
    [InlineData(new[] { "--config", "DIR" }, "--node is required")]
    [InlineData(new[] { "--node", "n" }, "exactly one of --config")]
    [InlineData(new[] { "--node", "n", "--config", "DIR", "--in-cluster" }, "exactly one of --config")]
    [InlineData(new[] { "--node", "n", "--config", "/nonexistent/bgplb" }, "does not exist")]
    [InlineData(new[] { "--node", "n", "--config", "DIR", "--bgp-listen", "nonsense" }, "--bgp-listen: 'nonsense'")]
    [InlineData(new[] { "--node", "n", "--config", "DIR", "--metrics-listen", "1.2.3.4" }, "--metrics-listen")]
    [InlineData(new[] { "--node", "n", "--config", "DIR", "--log-level", "loud" }, "--log-level: 'loud'")]
    [InlineData(new[] { "--node", "n", "--config", "DIR", "--memberlist-port", "70000" }, "--memberlist-port")]
    [InlineData(new[] { "--node", "n", "--config", "DIR", "--bogus" }, "--bogus")]
    [InlineData(new[] { "--node", "n", "--config", "DIR", "--controller", "198.18.0.1:7473" }, "--controller: '198.18.0.1:7473'")]
    [InlineData(new[] { "--node", "n", "--config", "DIR", "--controller", "ftp://ctl:7473" }, "--controller: 'ftp://ctl:7473'")]
    [InlineData(new[] { "--node", "n", "--config", "DIR", "--controller", "http://ctl:7473/v1" }, "no path")]
    public void Bad_flags_are_refused_with_a_message_naming_the_flag(string[] args, string expected)
    {
        var resolved = args.Select(a => a == "DIR" ? _dir : a).ToArray();
        var error = Assert.Throws<CommandLineException>(() => SpeakerOptions.Parse(resolved, Env()));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Controller_credentials_come_from_flags_or_environment_and_are_checked_at_start()
    {
        using var key = System.Security.Cryptography.ECDsa.Create();
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=ca", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        using var ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var caFile = Path.Combine(_dir, "ca.crt");
        var certFile = Path.Combine(_dir, "node.crt");
        var keyFile = Path.Combine(_dir, "node.key");
        var tokenFile = Path.Combine(_dir, "token");
        File.WriteAllText(caFile, ca.ExportCertificatePem());
        File.WriteAllText(certFile, ca.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(tokenFile, "token\n");

        var connection = SpeakerOptions.Parse(["--node", "n", "--config", _dir], Env(
            ("BGPLB_CONTROLLER", "https://198.18.0.1:7473"), ("BGPLB_CONTROLLER_CA", caFile), ("BGPLB_CONTROLLER_CERT", certFile),
            ("BGPLB_CONTROLLER_KEY", keyFile), ("BGPLB_CONTROLLER_TOKEN_FILE", tokenFile))).Controller;
        Assert.Equal(new BgpLb.Allocation.Client.ControllerConnection(new Uri("https://198.18.0.1:7473"))
        {
            CaFile = caFile, CertificateFile = certFile, KeyFile = keyFile, TokenFile = tokenFile,
        }, connection);

        string Refusal(params string[] args) =>
            Assert.Throws<CommandLineException>(() => SpeakerOptions.Parse(["--node", "n", "--config", _dir, .. args], Env())).Message;
        Assert.Equal("--controller-ca, --controller-cert, --controller-key and --controller-token-file need --controller URL",
            Refusal("--controller-token-file", tokenFile));
        Assert.Equal("--controller-ca, --controller-cert and --controller-token-file need an https:// --controller URL, not 'http://198.18.0.1:7473/'",
            Refusal("--controller", "http://198.18.0.1:7473", "--controller-token-file", tokenFile));
        Assert.Equal("--controller-cert and --controller-key go together (the client certificate and its private key, PEM)",
            Refusal("--controller", "https://198.18.0.1:7473", "--controller-cert", certFile));
        Assert.StartsWith($"--controller-ca: '{tokenFile}': no PEM CERTIFICATE block",
            Refusal("--controller", "https://198.18.0.1:7473", "--controller-ca", tokenFile), StringComparison.Ordinal);
        Assert.StartsWith($"--controller-token-file: cannot read '{_dir}/missing'",
            Refusal("--controller", "https://198.18.0.1:7473", "--controller-token-file", Path.Combine(_dir, "missing")), StringComparison.Ordinal);
    }
}
