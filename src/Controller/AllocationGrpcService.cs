using System.Collections.Immutable;
using BgpLb.Allocation;
using BgpLb.Allocation.Client;
using V1 = BgpLb.Allocation.V1;
using BgpLb.Config;
using Grpc.Core;

namespace BgpLb.Controller;

/// <summary>proto/allocation.proto served from the <see cref="AllocationOwner"/>'s published state.</summary>
public sealed class AllocationGrpcService(AllocationOwner owner, IHostApplicationLifetime lifetime) : V1.AllocationService.AllocationServiceBase
{
    public override async Task<V1.ListAllocationsResponse> ListAllocations(V1.ListAllocationsRequest request, ServerCallContext context)
    {
        await owner.Ready.WaitAsync(context.CancellationToken);
        var state = owner.Current;
        var response = new V1.ListAllocationsResponse { Epoch = owner.Epoch, Revision = state.Revision };
        response.Allocations.AddRange(state.Result.Entries.Values.Select(AllocationProto.ToProto));
        return response;
    }

    public override async Task<V1.Allocation> GetAllocation(V1.GetAllocationRequest request, ServerCallContext context)
    {
        await owner.Ready.WaitAsync(context.CancellationToken);
        return owner.Current.Result.Entries.TryGetValue(request.Key, out var entry)
            ? AllocationProto.ToProto(entry)
            : throw new RpcException(new Status(StatusCode.NotFound,
                $"no allocation for '{request.Key}' (Services are keyed namespace/name and must be type LoadBalancer)"));
    }

    public override async Task<V1.GetPoolUsageResponse> GetPoolUsage(V1.GetPoolUsageRequest request, ServerCallContext context)
    {
        await owner.Ready.WaitAsync(context.CancellationToken);
        var response = new V1.GetPoolUsageResponse();
        response.Pools.AddRange(owner.Current.Result.Pools.Select(p => new V1.PoolUsage
        {
            Pool = p.Pool,
            TotalAddresses = p.TotalAddresses,
            AddressesInUse = (uint)p.AddressesInUse,
            Consumers = (uint)p.Consumers,
        }));
        return response;
    }

    /// <summary>
    /// Waits for the first allocation (an empty snapshot from a controller that has not read its configuration yet would
    /// withdraw everything), then streams a snapshot or the missed changes, then each new revision. A watcher that falls
    /// behind the history gets a snapshot instead of a queue: nothing is buffered per client. Streams end when the
    /// controller stops, so shutdown does not wait for watchers (they reconnect and resume).
    /// </summary>
    public override async Task WatchAllocations(V1.WatchAllocationsRequest request, IServerStreamWriter<V1.WatchAllocationsResponse> responseStream, ServerCallContext context)
    {
        using var watch = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        try
        {
            await StreamAsync(request, responseStream, watch.Token);
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested)
        {
        }
    }

    private async Task StreamAsync(V1.WatchAllocationsRequest request, IServerStreamWriter<V1.WatchAllocationsResponse> responseStream, CancellationToken cancellationToken)
    {
        await owner.Ready.WaitAsync(cancellationToken);
        var sent = request.Epoch == owner.Epoch ? request.Revision : ulong.MaxValue;
        while (true)
        {
            var state = owner.Current;
            if (sent != ulong.MaxValue && state.TryGetChangesSince(sent, out var changes))
            {
                foreach (var change in changes)
                    await responseStream.WriteAsync(Changes(change), cancellationToken);
            }
            else
            {
                await responseStream.WriteAsync(Snapshot(state), cancellationToken);
            }
            sent = state.Revision;
            await owner.WaitForChangeAsync(sent, cancellationToken);
        }
    }

    public override async Task<V1.Allocation> Allocate(V1.AllocateRequest request, ServerCallContext context)
    {
        var stored = ToExternalRequest(request) with { Caller = GrpcSecurity.CallerOf(context) };
        AllocationEntry entry;
        try
        {
            entry = await owner.AllocateAsync(request.Name, stored, context.CancellationToken);
        }
        catch (ExternalRefusedException e)
        {
            throw Refused(e);
        }
        if (entry.IsAllocated)
            return AllocationProto.ToProto(entry);
        var code = entry.Failure == AllocationFailure.InvalidRequest ? StatusCode.InvalidArgument : StatusCode.FailedPrecondition;
        throw new RpcException(new Status(code, $"{entry.Failure}: {entry.Reason}"));
    }

    public override async Task<V1.ReleaseResponse> Release(V1.ReleaseRequest request, ServerCallContext context)
    {
        try
        {
            return new() { Released = await owner.ReleaseAsync(request.Name, GrpcSecurity.CallerOf(context), context.CancellationToken) };
        }
        catch (ExternalRefusedException e)
        {
            throw Refused(e);
        }
    }

    private static RpcException Refused(ExternalRefusedException refused) => new(new Status(
        refused.Refusal == ExternalRefusal.LimitReached ? StatusCode.ResourceExhausted : StatusCode.PermissionDenied, refused.Message));

    /// <summary>The request as stored; INVALID_ARGUMENT for anything the allocator could not take as a Service's request.</summary>
    internal static ExternalRequest ToExternalRequest(V1.AllocateRequest request)
    {
        if (Validate(request) is { } problem)
            throw new RpcException(new Status(StatusCode.InvalidArgument, problem));
        return new ExternalRequest
        {
            Policy = (FamilyPolicy)request.FamilyPolicy,
            Families = [.. request.Families.Select(f => f == V1.IpFamily.Ipv6 ? "IPv6" : "IPv4")],
            Pool = request.Pool.Length == 0 ? null : request.Pool,
            Addresses = [.. request.Addresses],
            SharingKey = request.SharingKey.Length == 0 ? null : request.SharingKey,
            Ports = [.. request.Ports.Select(p => new ServicePort(p.Protocol.Length == 0 ? "TCP" : p.Protocol, p.Number))],
        };
    }

    // Unknown enum values are kept by the protobuf parser; ports follow Kubernetes' rules for Service ports.
    private static string? Validate(V1.AllocateRequest request) =>
        AllocationRequest.ValidateExternalName(request.Name)
        ?? request.Addresses.Where(a => !StrictIP.TryParse(a, out _)).Select(a => $"'{a}' is not an IP address").FirstOrDefault()
        ?? (Enum.IsDefined(request.FamilyPolicy) ? null : $"unknown family policy {(int)request.FamilyPolicy}")
        ?? request.Families.Where(f => !Enum.IsDefined(f)).Select(f => $"unknown IP family {(int)f}").FirstOrDefault()
        ?? request.Ports.Where(p => p.Number is < 1 or > 65535 || p.Protocol is not ("" or "TCP" or "UDP" or "SCTP"))
            .Select(p => $"port '{p.Protocol}/{p.Number}' is not a protocol (TCP, UDP or SCTP) and a number 1-65535").FirstOrDefault();

    private V1.WatchAllocationsResponse Snapshot(AllocationState state)
    {
        var message = new V1.WatchAllocationsResponse { Epoch = owner.Epoch, Revision = state.Revision, Snapshot = true };
        message.Allocations.AddRange(state.Result.Entries.Values.Select(AllocationProto.ToProto));
        return message;
    }

    private V1.WatchAllocationsResponse Changes(RevisionChange change)
    {
        var message = new V1.WatchAllocationsResponse { Epoch = owner.Epoch, Revision = change.Revision };
        message.Allocations.AddRange(change.Upserted.Select(AllocationProto.ToProto));
        message.Removed.AddRange(change.Removed);
        return message;
    }
}
