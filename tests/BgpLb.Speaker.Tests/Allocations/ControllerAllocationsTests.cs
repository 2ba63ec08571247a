using System.Net;
using System.Net.Sockets;
using BgpLb.Allocation.Client;
using BgpLb.Config;
using BgpLb.Controller;
using BgpLb.Speaker.Allocations;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using static BgpLb.Speaker.Tests.Allocations.InProcessAllocationsTests;

namespace BgpLb.Speaker.Tests.Allocations;

/// <summary>ControllerAllocations against a real bgplb-controller on a loopback port, stopped and restarted.</summary>
public sealed class ControllerAllocationsTests : IAsyncLifetime, IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private const string Pool = """
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: { name: main, namespace: metallb-system }
        spec: { addresses: [203.0.113.0/29] }
        ---

        """;

    private readonly string _directory = Directory.CreateTempSubdirectory("bgplb-spk-ctl-").FullName;
    private readonly int _port = FreePort();
    private ControllerHost? _controller;
    private ControllerAllocations? _source;

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await DisposeAsync();

    public async ValueTask DisposeAsync()
    {
        if (_source is not null)
            await _source.StopAsync(CancellationToken.None);
        _source?.Dispose();
        _source = null;
        await StopControllerAsync();
        if (Directory.Exists(_directory))
            Directory.Delete(_directory, recursive: true);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private async Task StartControllerAsync(string yaml)
    {
        await File.WriteAllTextAsync(Path.Combine(_directory, "config.yaml"), yaml);
        _controller = await ControllerHost.StartAsync(new ControllerOptions
        {
            ConfigDirectory = _directory,
            StateFile = Path.Combine(_directory, "state.json"),
            GrpcListen = new IPEndPoint(IPAddress.Loopback, _port),
            MetricsListen = new IPEndPoint(IPAddress.Loopback, 0),
            LogLevel = LogLevel.Warning,
        }, CancellationToken.None);
    }

    private async Task StopControllerAsync()
    {
        if (_controller is not null)
            await _controller.DisposeAsync();
        _controller = null;
    }

    private async Task<ControllerAllocations> StartSourceAsync()
    {
        var uri = new Uri($"http://127.0.0.1:{_port}");
        var watcher = new AllocationWatcher(uri, NullLogger<AllocationWatcher>.Instance, TimeProvider.System,
            new AllocationWatcherOptions { InitialBackoff = TimeSpan.FromMilliseconds(50), MaxBackoff = TimeSpan.FromMilliseconds(300) });
        _source = new ControllerAllocations(watcher, uri, NullLogger<ControllerAllocations>.Instance);
        await _source.StartAsync(CancellationToken.None);
        return _source;
    }

    private static Dictionary<string, string> Texts(ControllerAllocations source) =>
        source.AddressesFor(BgpLbConfig.Empty)!.ToDictionary(p => p.Key, p => string.Join(",", p.Value));

    [Fact]
    public async Task Nothing_is_known_until_the_controller_answers_then_exactly_its_allocations()
    {
        var source = await StartSourceAsync();
        await Task.Delay(300); // several connection attempts to the closed port
        Assert.Null(source.AddressesFor(BgpLbConfig.Empty));
        Assert.Equal(0, source.Version);

        // The speaker's own configuration does not matter: the controller's allocations are announced as they are.
        await StartControllerAsync(Pool + Service("a") + Service("b") + Service("c", extra: ", annotations: { metallb.io/loadBalancerIPs: 192.0.2.1 }"));
        await source.WaitForChangeAsync(0, new CancellationTokenSource(Timeout).Token);

        Assert.Equal(new Dictionary<string, string> { ["default/a"] = "203.0.113.0", ["default/b"] = "203.0.113.1" }, Texts(source));
        Assert.Equal(Texts(source), source.AddressesFor(InProcessAllocationsTests.Config(Pool))!.ToDictionary(p => p.Key, p => string.Join(",", p.Value)));
    }

    [Fact]
    public async Task Losing_the_controller_keeps_the_last_allocations_and_a_restart_changes_no_address()
    {
        await StartControllerAsync(Pool + Service("m") + Service("n"));
        var source = await StartSourceAsync();
        await source.WaitForChangeAsync(0, new CancellationTokenSource(Timeout).Token);
        var before = Texts(source);
        var version = source.Version;

        await StopControllerAsync();
        // While the controller is away (and the watcher retries), nothing changes and nothing is forgotten.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(1);
        while (DateTime.UtcNow < deadline)
        {
            Assert.Equal(before, Texts(source));
            Assert.Equal(version, source.Version);
            await Task.Delay(50);
        }

        // Restarted with a Service that sorts first: it gets a free address, m and n keep theirs (state file).
        await StartControllerAsync(Pool + Service("a") + Service("m") + Service("n"));
        await source.WaitForChangeAsync(version, new CancellationTokenSource(Timeout).Token);

        var after = Texts(source);
        Assert.Equal(before["default/m"], after["default/m"]);
        Assert.Equal(before["default/n"], after["default/n"]);
        Assert.Equal("203.0.113.2", after["default/a"]);
    }
}
