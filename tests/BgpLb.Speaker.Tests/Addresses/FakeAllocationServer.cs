using System.Net;
using System.Threading.Channels;
using BgpLb.Allocation;
using BgpLb.Allocation.Client;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using V1 = BgpLb.Allocation.V1;

namespace BgpLb.Speaker.Tests.Addresses;

/// <summary>
/// bgplb-controller's allocation service as the test scripts it, over real gRPC on a loopback port: every
/// WatchAllocations call is handed to the test (<see cref="NextWatchAsync"/>), which decides what the stream sends and
/// how it ends.
/// </summary>
internal sealed class FakeAllocationServer : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly WebApplication _app;
    private readonly Hub _hub;

    private FakeAllocationServer(WebApplication app, Hub hub, int port)
    {
        _app = app;
        _hub = hub;
        Port = port;
    }

    public int Port { get; }

    public Uri Uri => new($"http://127.0.0.1:{Port}");

    /// <param name="port">0 for a free port; a given port to stand in for a controller that restarted.</param>
    public static async Task<FakeAllocationServer> StartAsync(int port = 0)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port, o => o.Protocols = HttpProtocols.Http2));
        builder.Logging.ClearProviders();
        var hub = new Hub();
        builder.Services.AddSingleton(hub);
        builder.Services.AddGrpc();
        var app = builder.Build();
        app.MapGrpcService<Service>();
        await app.StartAsync().WaitAsync(Timeout);
        var bound = app.Urls.Select(u => new Uri(u).Port).Single();
        return new FakeAllocationServer(app, hub, bound);
    }

    /// <summary>The next WatchAllocations call a client made.</summary>
    public async Task<WatchCall> NextWatchAsync() => await _hub.Calls.Reader.ReadAsync().AsTask().WaitAsync(Timeout);

    public async ValueTask DisposeAsync()
    {
        // Open streams would hold up the shutdown: end them first (clients see the connection go away).
        _hub.Stopping.Cancel();
        await _app.StopAsync().WaitAsync(Timeout);
        await _app.DisposeAsync();
        _hub.Stopping.Dispose();
    }

    public static V1.WatchAllocationsResponse Snapshot(ulong epoch, ulong revision, params AllocationEntry[] entries)
    {
        var message = new V1.WatchAllocationsResponse { Epoch = epoch, Revision = revision, Snapshot = true };
        message.Allocations.AddRange(entries.Select(AllocationProto.ToProto));
        return message;
    }

    public static V1.WatchAllocationsResponse Changes(ulong epoch, ulong revision, AllocationEntry[] upserted, params string[] removed)
    {
        var message = new V1.WatchAllocationsResponse { Epoch = epoch, Revision = revision };
        message.Allocations.AddRange(upserted.Select(AllocationProto.ToProto));
        message.Removed.AddRange(removed);
        return message;
    }

    public static AllocationEntry Allocated(string key, string pool, params string[] addresses) =>
        new(key, pool, [.. addresses.Select(IPAddress.Parse)], AllocationFailure.None, "");

    public static AllocationEntry Failed(string key) => new(key, null, [], AllocationFailure.PoolExhausted, "no free address");

    private sealed class Hub
    {
        public Channel<WatchCall> Calls { get; } = Channel.CreateUnbounded<WatchCall>();
        public CancellationTokenSource Stopping { get; } = new();
    }

    private sealed class Service(Hub hub) : V1.AllocationService.AllocationServiceBase
    {
        public override async Task WatchAllocations(V1.WatchAllocationsRequest request, IServerStreamWriter<V1.WatchAllocationsResponse> responseStream,
            ServerCallContext context)
        {
            using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, hub.Stopping.Token);
            var call = new WatchCall(request.Epoch, request.Revision);
            hub.Calls.Writer.TryWrite(call);
            try
            {
                await foreach (var step in call.Steps.Reader.ReadAllAsync(ended.Token))
                {
                    if (step.Fail)
                        throw new RpcException(new Status(StatusCode.Unavailable, "the test fails this call"));
                    await responseStream.WriteAsync(step.Message!, ended.Token);
                    step.Written.TrySetResult();
                }
            }
            catch (OperationCanceledException) when (hub.Stopping.IsCancellationRequested)
            {
                context.GetHttpContext().Abort();
            }
        }
    }
}

/// <summary>One WatchAllocations call: the position the client resumes from, and what the test makes the stream do.</summary>
internal sealed class WatchCall(ulong epoch, ulong revision)
{
    public ulong Epoch { get; } = epoch;
    public ulong Revision { get; } = revision;

    internal Channel<Step> Steps { get; } = Channel.CreateUnbounded<Step>();

    /// <summary>Sends one message; returns once the server has written it.</summary>
    public async Task SendAsync(V1.WatchAllocationsResponse message)
    {
        var step = new Step(message, false);
        Steps.Writer.TryWrite(step);
        await step.Written.Task.WaitAsync(FakeAllocationServer.Timeout);
    }

    /// <summary>The controller ends the stream normally (as when it stops).</summary>
    public void End() => Steps.Writer.TryComplete();

    /// <summary>The call fails with UNAVAILABLE.</summary>
    public void Fail() => Steps.Writer.TryWrite(new Step(null, true));

    internal sealed record Step(V1.WatchAllocationsResponse? Message, bool Fail)
    {
        public TaskCompletionSource Written { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
