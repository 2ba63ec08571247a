using System.Net;
using BgpLb.Allocation.Client;
using BgpLb.Allocation.V1;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;

namespace BgpLb.Controller.Tests;

/// <summary>A configuration directory and in-process controllers on ephemeral loopback ports; removes everything on dispose.</summary>
public sealed class ControllerFixture : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private readonly List<GrpcChannel> _channels = [];

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("bgplb-ctl-e2e-").FullName;
    public ControllerHost? Host { get; private set; }
    public string StatePath => Path.Combine(Directory, ".bgplb-state.json");

    public static string Pool(string name, string addresses) => $"""
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata:
          name: {name}
          namespace: metallb-system
        spec:
          addresses: [{addresses}]
        ---

        """;

    public static string Service(string name, string extra = "") => $"""
        apiVersion: v1
        kind: Service
        metadata:
          name: {name}
          namespace: default
        {extra}
        spec:
          type: LoadBalancer
          ports: [{"{"}port: 80{"}"}]
        ---

        """;

    public void Write(string file, string yaml) => File.WriteAllText(Path.Combine(Directory, file), yaml);

    public async Task<ControllerHost> StartAsync(int grpcPort = 0, Func<ControllerOptions, ControllerOptions>? configure = null)
    {
        configure ??= o => o;
        var options = configure(new ControllerOptions
        {
            ConfigDirectory = Directory,
            StateFile = StatePath,
            GrpcListen = new IPEndPoint(IPAddress.Loopback, grpcPort),
            MetricsListen = new IPEndPoint(IPAddress.Loopback, 0),
            LogLevel = LogLevel.Warning,
        });
        Host = await ControllerHost.StartAsync(options, CancellationToken.None);
        await Host.Owner.Ready.WaitAsync(Timeout);
        return Host;
    }

    public async Task StopAsync()
    {
        if (Host is not null)
            await Host.DisposeAsync();
        Host = null;
    }

    public Uri GrpcUri => new($"http://{Host!.GrpcEndPoint}");
    public Uri GrpcsUri => new($"https://{Host!.GrpcEndPoint}");

    public AllocationService.AllocationServiceClient Client() => Client(new ControllerConnection(GrpcUri));

    /// <summary>A client over its own channel (a new connection) with <paramref name="connection"/>'s credentials.</summary>
    public AllocationService.AllocationServiceClient Client(ControllerConnection connection)
    {
        var channel = connection.CreateChannel(Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        _channels.Add(channel);
        return new AllocationService.AllocationServiceClient(channel);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var channel in _channels)
            channel.Dispose();
        _channels.Clear();
        await StopAsync();
        if (System.IO.Directory.Exists(Directory))
            System.IO.Directory.Delete(Directory, recursive: true);
    }
}
