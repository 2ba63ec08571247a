extern alias controller;

using System.Net;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using BgpLb.Allocation.Client;
using BgpLb.Config;
using BgpLb.Model;
using controller::BgpLb.Controller;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BgpLb.Benchmarks;

/// <summary>
/// bgplb-controller's WatchAllocations fan-out on loopback: one operation adds (or, every other time, removes)
/// <see cref="Services"/> Services and lasts until all 100 watching clients (<see cref="AllocationWatcher"/>, one HTTP/2
/// connection each, as speakers use) have received the <see cref="AllocationUpdate"/> of the new revision. Includes
/// applying the change to the cluster state, allocation and the state file save (fsync). The benchmark drives the
/// controller's <see cref="AllocationOwner"/> with a cluster state of its own; the configuration directory never changes,
/// so the controller's own reconcile loop stays idle.
/// </summary>
[Config(typeof(FanOutConfig))]
public class WatchFanOutBenchmarks
{
    public const int Clients = 100;

    private readonly List<Task> _watchers = [];
    private readonly CancellationTokenSource _stop = new();
    private const string PoolYaml =
        "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: { name: main, namespace: metallb-system }\nspec: { addresses: [198.18.0.0/18] }\n";

    private string _directory = "";
    private ControllerHost? _controller;
    private readonly ClusterState _state = new(new BgpLb.Config.ConfigOptions());
    private ServiceInfo[] _services = [];
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
        await File.WriteAllTextAsync(Path.Combine(_directory, "pool.yaml"), PoolYaml);
        _controller = await ControllerHost.StartAsync(new ControllerOptions
        {
            ConfigDirectory = _directory,
            StateFile = Path.Combine(_directory, "state.json"),
            GrpcListen = new IPEndPoint(IPAddress.Loopback, 0),
            MetricsListen = new IPEndPoint(IPAddress.Loopback, 0),
            LogLevel = LogLevel.Warning,
        }, CancellationToken.None);
        await _controller.Owner.Ready;
        var initial = new ResourceBatch { IsInitial = true };
        initial.Changes.AddRange(ManifestParser.Parse("pool.yaml", PoolYaml, new BgpLb.Config.ConfigOptions()).Objects.Select(o => new ResourceChange(o.Key, o.Value)));
        await _controller.Owner.ApplyAsync(_state, _state.Apply(initial), StatusDecides.Never, CancellationToken.None);
        _services = [.. Enumerable.Range(0, Services).Select(Service)];

        var uri = new Uri($"http://{_controller.GrpcEndPoint}");
        Expect(_controller.Owner.Current.Revision);
        for (var i = 0; i < Clients; i++)
        {
            var watcher = new AllocationWatcher(new ControllerConnection(uri), NullLogger<AllocationWatcher>.Instance);
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
        var batch = new ResourceBatch();
        foreach (var service in _services)
            batch.Changes.Add(new ResourceChange(new ResourceKey("Service", service.Namespace, service.Name), _nextIsFull ? service : null));
        _nextIsFull = !_nextIsFull;
        Expect(_controller!.Owner.Current.Revision + 1);
        await _controller.Owner.ApplyAsync(_state, _state.Apply(batch), StatusDecides.Never, CancellationToken.None);
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
            await foreach (var update in watcher.WatchAsync(_stop.Token))
            {
                var target = Volatile.Read(ref _target);
                if ((long)update.Revision >= target && counted < target)
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

    private static ServiceInfo Service(int i) => new()
    {
        Key = $"bench/svc-{i:D5}",
        Namespace = "bench",
        Ports = [new ServicePort("TCP", 80)],
    };
}
