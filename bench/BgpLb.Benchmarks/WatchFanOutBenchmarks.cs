extern alias controller;

using System.Net;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using BgpLb.Allocation.Client;
using BgpLb.Config;
using controller::BgpLb.Controller;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BgpLb.Benchmarks;

/// <summary>
/// bgplb-controller's WatchAllocations fan-out on loopback: one operation adds (or, every other time, removes)
/// <see cref="Services"/> Services and lasts until all 100 watching clients (<see cref="AllocationWatcher"/>, one HTTP/2
/// connection each, as speakers use) hold the new revision. Includes allocation and the state file save (fsync).
/// </summary>
[Config(typeof(FanOutConfig))]
public class WatchFanOutBenchmarks
{
    public const int Clients = 100;

    private readonly List<Task> _watchers = [];
    private readonly CancellationTokenSource _stop = new();
    private string _directory = "";
    private ControllerHost? _controller;
    private BgpLbConfig _empty = BgpLbConfig.Empty;
    private BgpLbConfig _full = BgpLbConfig.Empty;
    private bool _nextIsFull = true;
    private long _target;
    private int _remaining;
    private TaskCompletionSource _allReceived = new(TaskCreationOptions.RunContinuationsAsynchronously);

    [Params(1, 100, 1000)]
    public int Services { get; set; }

    private sealed class FanOutConfig : ManualConfig
    {
        public FanOutConfig() => AddJob(Job.Default
            .WithStrategy(RunStrategy.Monitoring)
            .WithWarmupCount(4)
            .WithIterationCount(30)
            .WithToolchain(InProcessEmitToolchain.Instance));
    }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _directory = Directory.CreateTempSubdirectory("bgplb-bench-fanout-").FullName;
        await File.WriteAllTextAsync(Path.Combine(_directory, "pool.yaml"),
            "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: { name: main, namespace: metallb-system }\nspec: { addresses: [198.18.0.0/18] }\n");
        _controller = await ControllerHost.StartAsync(new ControllerOptions
        {
            ConfigDirectory = _directory,
            StateFile = Path.Combine(_directory, "state.json"),
            GrpcListen = new IPEndPoint(IPAddress.Loopback, 0),
            MetricsListen = new IPEndPoint(IPAddress.Loopback, 0),
            LogLevel = LogLevel.Warning,
        }, CancellationToken.None);
        await _controller.Owner.Ready;
        var pool = new AddressPool { Name = "main", Cidrs = [IPNetwork.Parse("198.18.0.0/18")] };
        _empty = new BgpLbConfig { Pools = [pool] };
        _full = _empty with { Services = [.. Enumerable.Range(0, Services).Select(Service)] };
        await _controller.Owner.ApplyConfigAsync(_empty, CancellationToken.None);

        var uri = new Uri($"http://{_controller.GrpcEndPoint}");
        Expect(_controller.Owner.Current.Revision);
        for (var i = 0; i < Clients; i++)
        {
            var watcher = new AllocationWatcher(uri, NullLogger<AllocationWatcher>.Instance);
            _watchers.Add(Task.Run(() => WatchAsync(watcher)));
        }
        await _allReceived.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_watchers);
        if (_controller is not null)
            await _controller.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(Description = "Change of N Services reaches 100 watchers")]
    public async Task ChangeReachesEveryWatcher()
    {
        var config = _nextIsFull ? _full : _empty;
        _nextIsFull = !_nextIsFull;
        Expect(_controller!.Owner.Current.Revision + 1);
        await _controller.Owner.ApplyConfigAsync(config, CancellationToken.None);
        await _allReceived.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    private void Expect(ulong revision)
    {
        _allReceived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _remaining, Clients);
        Volatile.Write(ref _target, (long)revision);
    }

    private async Task WatchAsync(AllocationWatcher watcher)
    {
        long counted = -1;
        try
        {
            await foreach (var snapshot in watcher.WatchAsync(_stop.Token))
            {
                var target = Volatile.Read(ref _target);
                if ((long)snapshot.Revision >= target && counted < target)
                {
                    counted = target;
                    if (Interlocked.Decrement(ref _remaining) == 0)
                        _allReceived.TrySetResult();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static V1Service Service(int i) => new()
    {
        Metadata = new V1ObjectMeta { Name = $"svc-{i:D5}", NamespaceProperty = "bench" },
        Spec = new V1ServiceSpec { Type = "LoadBalancer", Ports = [new V1ServicePort { Port = 80, Protocol = "TCP" }] },
    };
}
