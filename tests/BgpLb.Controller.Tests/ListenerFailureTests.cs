using System.Net;
using System.Net.Sockets;
using BgpLb.Hosting;
using BgpLb.Kubernetes.Testing;

namespace BgpLb.Controller.Tests;

/// <summary>A listener that cannot open ends bgplb-controller with exit code 3 and one line naming the flag, the address and why.</summary>
public sealed class ListenerFailureTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly string _directory = Directory.CreateTempSubdirectory("bgplb-listen-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private async Task<string> RunAsync(params string[] flags)
    {
        var config = Directory.CreateDirectory(Path.Combine(_directory, "config")).FullName;
        var (exitCode, line) = await DaemonProcess.RunUntilRefusedAsync("bgplb-controller.dll",
            ["--config", config, "--state", Path.Combine(_directory, "state.json"), .. flags], Timeout);
        Assert.Equal(ExitCodes.CannotListen, exitCode);
        return line;
    }

    [Fact]
    public async Task An_address_that_is_not_on_the_host_is_named_with_its_flag()
    {
        var line = await RunAsync("--grpc-listen", "192.0.2.1:7473", "--grpc-insecure", "--metrics-listen", "127.0.0.1:0");
        Assert.Equal("bgplb-controller: cannot listen on 192.0.2.1:7473 (--grpc-listen): the address is not on this host", line);
    }

    [Fact]
    public async Task A_metrics_port_in_use_is_named_with_its_flag()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;
        var line = await RunAsync("--grpc-listen", "127.0.0.1:0", "--metrics-listen", $"127.0.0.1:{port}");
        Assert.Equal($"bgplb-controller: cannot listen on 127.0.0.1:{port} (--metrics-listen): the port is already in use", line);
    }

    [Fact]
    public async Task A_webhook_address_that_is_not_on_the_host_is_named_with_its_flag()
    {
        var line = await RunAsync("--grpc-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--webhook-listen", "192.0.2.1:9443");
        Assert.Equal("bgplb-controller: cannot listen on 192.0.2.1:9443 (--webhook-listen): the address is not on this host", line);
    }
}
