using BgpLb.Hosting;

namespace BgpLb.Controller.Tests;

public sealed class ControllerOptionsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bgplb-ctl-opt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ControllerOptions Parse(string[] args, Dictionary<string, string>? env = null) =>
        ControllerOptions.Parse(args, name => env?.GetValueOrDefault(name));

    [Fact]
    public void Defaults_follow_the_design_contract()
    {
        var options = Parse(["--config", _dir]);
        Assert.Equal(Path.Combine(_dir, ".bgplb-state.json"), options.StateFile);
        Assert.Equal("127.0.0.1:7473", options.GrpcListen.ToString());
        Assert.Equal("127.0.0.1:7472", options.MetricsListen.ToString());
    }

    [Fact]
    public void Lb_class_and_ignore_exclude_lb_come_from_flags_or_environment()
    {
        Assert.Equal(new ServiceScope(null, false), Parse(["--config", _dir]).Scope);
        Assert.Equal(new ServiceScope("example.com/lb", true), Parse(["--config", _dir, "--lb-class", "example.com/lb", "--ignore-exclude-lb"]).Scope);
        var env = new Dictionary<string, string> { ["BGPLB_LB_CLASS"] = "env/lb", ["BGPLB_IGNORE_EXCLUDE_LB"] = "true" };
        Assert.Equal(new ServiceScope("env/lb", true), Parse(["--config", _dir], env).Scope);
        Assert.Equal("cli/lb", Parse(["--config", _dir, "--lb-class", "cli/lb"], env).LoadBalancerClass);
    }

    [Fact]
    public void Every_flag_reads_its_environment_variable_and_the_command_line_wins()
    {
        var env = new Dictionary<string, string>
        {
            ["BGPLB_CONFIG"] = _dir,
            ["BGPLB_STATE"] = Path.Combine(_dir, "state.json"),
            ["BGPLB_GRPC_LISTEN"] = "127.0.0.1:9000",
            ["BGPLB_METRICS_LISTEN"] = "127.0.0.1:9001",
            ["BGPLB_LOG_LEVEL"] = "debug",
        };
        var options = Parse(["--grpc-listen", "127.0.0.1:9100"], env);
        Assert.Equal(Path.Combine(_dir, "state.json"), options.StateFile);
        Assert.Equal(9100, options.GrpcListen.Port);
        Assert.Equal(9001, options.MetricsListen.Port);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Debug, options.LogLevel);
    }

    [Fact]
    public void Kubernetes_mode_takes_a_kubeconfig_or_the_in_cluster_account_and_no_state_file()
    {
        var kubeconfig = Path.Combine(_dir, "kubeconfig");
        File.WriteAllText(kubeconfig, "");
        var fromFile = Parse(["--kubeconfig", kubeconfig]);
        Assert.Equal(new BgpLb.Kubernetes.KubernetesConnection(kubeconfig, false), fromFile.Kubernetes);
        Assert.Null(fromFile.ConfigDirectory);
        Assert.Null(fromFile.StateFile);

        var inCluster = Parse(["--in-cluster"]);
        Assert.Equal(new BgpLb.Kubernetes.KubernetesConnection(null, true), inCluster.Kubernetes);
        Assert.Null(Parse(["--config", _dir]).Kubernetes);

        Assert.Contains("--kubeconfig: file", Assert.Throws<CommandLineException>(() => Parse(["--kubeconfig", Path.Combine(_dir, "missing")])).Message, StringComparison.Ordinal);
        Assert.Contains("--state is for standalone mode", Assert.Throws<CommandLineException>(() => Parse(["--in-cluster", "--state", Path.Combine(_dir, "s.json")])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Exactly_one_source_is_required()
    {
        Assert.Contains("exactly one of", Assert.Throws<CommandLineException>(() => Parse([])).Message, StringComparison.Ordinal);
        Assert.Contains("exactly one of", Assert.Throws<CommandLineException>(() => Parse(["--config", _dir, "--in-cluster"])).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--config", "/nonexistent/dir", "does not exist")]
    [InlineData("--grpc-listen", "localhost", "not ADDR:PORT")]
    [InlineData("--metrics-listen", "1.2.3.4:99999", "not ADDR:PORT")]
    [InlineData("--log-level", "loud", "--log-level")]
    [InlineData("--state", "/nonexistent/dir/state.json", "--state")]
    [InlineData("--state", "STATE.yaml", "would be read as configuration")]
    [InlineData("--webhook-listen", "0.0.0.0", "--webhook-listen: '0.0.0.0' is not ADDR:PORT")]
    public void Bad_values_are_refused_with_the_flag_named(string flag, string value, string message)
    {
        var args = flag == "--config" ? new[] { flag, value } : ["--config", _dir, flag, value.Replace("STATE", _dir + "/s", StringComparison.Ordinal)];
        Assert.Contains(message, Assert.Throws<CommandLineException>(() => Parse(args)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_webhook_is_off_unless_listened_for_and_its_flags_read_the_environment()
    {
        Assert.Null(Parse(["--config", _dir]).Webhook);
        var managed = Parse(["--config", _dir, "--webhook-listen", "0.0.0.0:9443"]).Webhook!;
        Assert.Equal("0.0.0.0:9443", managed.Listen.ToString());
        Assert.True(managed.ManagesCertificate);

        var pki = new TestPki(_dir);
        var issued = pki.Issue(pki.CreateAuthority("ca"), "webhook", server: true);
        var env = new Dictionary<string, string>
        {
            ["BGPLB_WEBHOOK_LISTEN"] = "127.0.0.1:9443",
            ["BGPLB_WEBHOOK_CERT"] = issued.CertificateFile,
            ["BGPLB_WEBHOOK_KEY"] = issued.KeyFile,
        };
        var files = Parse(["--config", _dir], env).Webhook!;
        Assert.Equal(new Controller.Webhook.WebhookOptions(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 9443), issued.CertificateFile, issued.KeyFile), files);
        Assert.False(files.ManagesCertificate);
        Assert.Equal(9000, Parse(["--config", _dir, "--webhook-listen", "127.0.0.1:9000"], env).Webhook!.Listen.Port);
    }

    [Fact]
    public void Webhook_certificate_flags_go_together_with_a_listener_and_a_readable_pair()
    {
        var pki = new TestPki(_dir);
        var issued = pki.Issue(pki.CreateAuthority("ca"), "webhook", server: true);
        string Refused(params string[] args) => Assert.Throws<CommandLineException>(() => Parse(["--config", _dir, .. args])).Message;

        Assert.Contains("--webhook-cert and --webhook-key go together", Refused("--webhook-listen", "127.0.0.1:9443", "--webhook-cert", issued.CertificateFile), StringComparison.Ordinal);
        Assert.Contains("need --webhook-listen", Refused("--webhook-cert", issued.CertificateFile, "--webhook-key", issued.KeyFile), StringComparison.Ordinal);
        Assert.StartsWith("--webhook-cert/--webhook-key: cannot read", Refused("--webhook-listen", "127.0.0.1:9443",
            "--webhook-cert", Path.Combine(_dir, "missing.crt"), "--webhook-key", issued.KeyFile), StringComparison.Ordinal);
    }
}
