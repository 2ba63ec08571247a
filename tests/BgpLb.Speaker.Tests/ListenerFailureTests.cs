using System.Net;
using System.Net.Sockets;
using BgpLb.Hosting;
using BgpLb.Kubernetes.Testing;

namespace BgpLb.Speaker.Tests;

/// <summary>
/// A listener the flags ask for that cannot open ends bgplb-speaker with exit code 3 and one line naming the flag, the
/// address and the reason: no stack trace. 192.0.2.1 (TEST-NET-1) is on no interface here; ports are held by the test.
/// </summary>
public sealed class ListenerFailureTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly string _config = Directory.CreateTempSubdirectory("bgplb-listen-").FullName;

    public void Dispose() => Directory.Delete(_config, recursive: true);

    private async Task<string> RunAsync(params string[] flags)
    {
        var (exitCode, line) = await DaemonProcess.RunUntilRefusedAsync("bgplb-speaker.dll", ["--node", "node-1", "--config", _config, .. flags], Timeout);
        Assert.Equal(ExitCodes.CannotListen, exitCode);
        return line;
    }

    [Fact]
    public async Task An_address_that_is_not_on_the_host_is_named_with_its_flag()
    {
        var line = await RunAsync("--metrics-listen", "192.0.2.1:7474", "--bgp-listen", "127.0.0.1:0");
        Assert.Equal("bgplb-speaker: cannot listen on 192.0.2.1:7474 (--metrics-listen): the address is not on this host", line);
    }

    [Fact]
    public async Task A_bgp_port_in_use_is_named_with_its_flag()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;
        var line = await RunAsync("--bgp-listen", $"127.0.0.1:{port}", "--metrics-listen", "127.0.0.1:0");
        Assert.Equal($"bgplb-speaker: cannot listen on 127.0.0.1:{port} (--bgp-listen): the port is already in use", line);
    }

    [Fact]
    public async Task A_memberlist_port_in_use_is_named_with_its_flag()
    {
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        holder.Bind(new IPEndPoint(IPAddress.Any, 0));
        var port = ((IPEndPoint)holder.LocalEndPoint!).Port;
        var line = await RunAsync("--memberlist-port", $"{port}", "--memberlist-insecure", "--bgp-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0");
        Assert.Equal($"bgplb-speaker: cannot listen on 0.0.0.0:{port} (--memberlist-port): the port is already in use", line);
    }
}
