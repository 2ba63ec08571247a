using System.Diagnostics;
using static BgpLb.Controller.Tests.ControllerFixture;

namespace BgpLb.Controller.Tests;

/// <summary>The real bgplb-controller executable: exit codes and messages of DESIGN.md §3.</summary>
public sealed class ControllerProcessTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bgplb-ctl-proc-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Process Start(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "bgplb-controller.dll"));
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        return Process.Start(info)!;
    }

    private static async Task<(int ExitCode, string Stderr)> RunAsync(params string[] args)
    {
        using var process = Start(args);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!process.HasExited)
                process.Kill();
        }
        return (process.ExitCode, await stderr);
    }

    [Fact]
    public async Task An_unusable_kubeconfig_exits_1_naming_the_problem()
    {
        var kubeconfig = Path.Combine(_dir, "kubeconfig");
        File.WriteAllText(kubeconfig, "apiVersion: v1\nkind: Config\ncurrent-context: nowhere\n");
        var (code, stderr) = await RunAsync("--kubeconfig", kubeconfig, "--grpc-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0");
        Assert.Equal(1, code);
        Assert.Contains("Refusing to start: cannot use the Kubernetes API", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_webhook_listen_value_exits_2_naming_the_flag()
    {
        var (code, stderr) = await RunAsync("--config", _dir, "--webhook-listen", "localhost:9443");
        Assert.Equal(2, code);
        Assert.Equal("bgplb-controller: --webhook-listen: 'localhost:9443' is not ADDR:PORT (for example 127.0.0.1:7474 or [::]:179)", stderr.Trim());
    }

    [Fact]
    public async Task A_corrupt_state_file_exits_1_and_is_left_as_it_was()
    {
        File.WriteAllText(Path.Combine(_dir, "config.yaml"), Pool("main", "203.0.113.0/30"));
        var state = Path.Combine(_dir, ".bgplb-state.json");
        File.WriteAllText(state, "{\"vers");

        var (code, stderr) = await RunAsync("--config", _dir, "--grpc-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0");
        Assert.Equal(1, code);
        Assert.Contains($"state file {state} is corrupt", stderr, StringComparison.Ordinal);
        Assert.Equal("{\"vers", File.ReadAllText(state));
    }

    [Fact]
    public async Task Sigterm_stops_the_controller_with_exit_code_0()
    {
        File.WriteAllText(Path.Combine(_dir, "config.yaml"), Pool("main", "203.0.113.0/30") + Service("web"));
        using var process = Start("--config", _dir, "--grpc-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            string? line;
            while ((line = await process.StandardError.ReadLineAsync(timeout.Token)) is not null && !line.Contains("Allocated default/web: 203.0.113.0", StringComparison.Ordinal))
            {
            }
            Assert.NotNull(line);
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                await kill.WaitForExitAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            Assert.Equal(0, process.ExitCode);
            Assert.Contains("\"default/web\"", File.ReadAllText(Path.Combine(_dir, ".bgplb-state.json")), StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited)
                process.Kill();
        }
    }

    [Fact]
    public async Task Lb_class_allocates_for_its_class_only_and_says_which_Services_it_skips()
    {
        File.WriteAllText(Path.Combine(_dir, "config.yaml"), Pool("main", "203.0.113.0/30") + Service("plain")
            + Service("mine").Replace("  type: LoadBalancer", "  type: LoadBalancer\n  loadBalancerClass: example.com/lb", StringComparison.Ordinal));
        using var process = Start("--config", _dir, "--grpc-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--lb-class", "example.com/lb");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var lines = new List<string>();
        try
        {
            string? line;
            while ((line = await process.StandardError.ReadLineAsync(timeout.Token)) is not null && !line.Contains("Allocated default/mine: 203.0.113.0", StringComparison.Ordinal))
                lines.Add(line);
            Assert.NotNull(line);
            Assert.Single(lines, l => l.Contains(
                "Skipping Service default/plain: its loadBalancerClass is (none), this daemon handles example.com/lb (--lb-class)", StringComparison.Ordinal));
            Assert.DoesNotContain(lines, l => l.Contains("Allocated default/plain", StringComparison.Ordinal));
        }
        finally
        {
            if (!process.HasExited)
                process.Kill();
        }
    }
}
