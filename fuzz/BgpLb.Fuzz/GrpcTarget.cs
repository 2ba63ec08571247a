using System.Net;
using System.Text.Json;
using BgpLb.Allocation;
using BgpLb.Controller;
using BgpLb.Model;
using Google.Protobuf;
using Grpc.Core;
using V1 = BgpLb.Allocation.V1;

namespace BgpLb.Fuzz;

/// <summary>
/// Feeds a request body to the generated protobuf parser and the controller's validation, as the allocation service
/// receives it; an Allocate that passes validation goes through the state file's JSON form and into a trial allocation.
/// Byte 0 picks the method (Allocate, Release, GetAllocation, WatchAllocations); the rest is the message. Expected
/// outcomes: a parse error (the gRPC framework answers it) or INVALID_ARGUMENT; a request that passes validation with
/// values outside the domain the allocator expects, any other exception, or a state-file round trip that changes the
/// request is a finding.
/// </summary>
internal sealed class GrpcTarget : FuzzTarget
{
    private static readonly AddressPool[] Pools =
        [new() { Name = "default", Cidrs = [IPNetwork.Parse("198.51.100.0/28"), IPNetwork.Parse("2001:db8::/124")] }];

    private static readonly MessageParser[] Methods =
        [V1.AllocateRequest.Parser, V1.ReleaseRequest.Parser, V1.GetAllocationRequest.Parser, V1.WatchAllocationsRequest.Parser];

    public override string Name => "grpc";

    public override int MaxInputLength => 16 << 10;

    protected override void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
            return;
        IMessage message;
        try
        {
            message = Methods[input[0] % Methods.Length].ParseFrom(input[1..].ToArray());
        }
        catch (InvalidProtocolBufferException)
        {
            return;
        }
        if (message is V1.AllocateRequest allocate)
            Allocate(allocate);
    }

    private static void Allocate(V1.AllocateRequest request)
    {
        ExternalRequest stored;
        try
        {
            stored = AllocationGrpcService.ToExternalRequest(request);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument)
        {
            return;
        }

        if (!Enum.IsDefined(request.FamilyPolicy) || request.Families.Any(f => !Enum.IsDefined(f)))
            throw new FuzzFindingException($"accepted family policy {request.FamilyPolicy}, families [{string.Join(", ", request.Families)}]");
        if (stored.Ports.FirstOrDefault(p => p.Port is < 1 or > 65535 || p.Protocol is not ("TCP" or "UDP" or "SCTP")) is { Protocol: not null } port)
            throw new FuzzFindingException($"accepted port {port}");
        var reread = JsonSerializer.Deserialize<ExternalRequest>(JsonSerializer.Serialize(stored, StateFile.Json), StateFile.Json);
        if (reread is null || !reread.SameAs(stored))
            throw new FuzzFindingException("the state file does not read back the request it wrote");

        var allocation = stored.ToRequest(request.Name);
        var validated = request.Addresses.Select(a => StrictIP.TryParse(a, out var address) ? address : null);
        var asked = allocation.RequestedAddresses;
        if (validated.Any(a => a is null || !asked.Contains(a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a)))
            throw new FuzzFindingException($"validated [{string.Join(", ", request.Addresses)}], the allocator is asked for [{string.Join(", ", asked)}]");

        var table = new AllocationTable([.. Pools]);
        using var trial = table.ApplyTentatively(new AllocationBatch { Upserted = [allocation] });
        if (table[request.Name] is null)
            throw new FuzzFindingException($"no entry for '{request.Name}' after allocating it");
    }

    /// <summary>Requests as the client tools send them (the generated writer).</summary>
    public override IEnumerable<(string Name, byte[] Input)> Seeds()
    {
        var dual = new V1.AllocateRequest
        {
            Name = "db-vip",
            Pool = "default",
            FamilyPolicy = V1.FamilyPolicy.RequireDualStack,
            SharingKey = "db",
            Families = { V1.IpFamily.Ipv6, V1.IpFamily.Ipv4 },
            Addresses = { "2001:db8::5", "198.51.100.5" },
            Ports = { new V1.Port { Protocol = "TCP", Number = 5432 }, new V1.Port { Protocol = "UDP", Number = 53 } },
        };
        yield return Seed("allocate-minimal", 0, new V1.AllocateRequest { Name = "vip" });
        yield return Seed("allocate-dual-stack", 0, dual);
        yield return Seed("allocate-invalid-name", 0, new V1.AllocateRequest { Name = "ns/vip", Addresses = { "198.51.100.300" } });
        yield return Seed("release", 1, new V1.ReleaseRequest { Name = "db-vip" });
        yield return Seed("get-allocation", 2, new V1.GetAllocationRequest { Key = "default/web" });
        yield return Seed("watch-allocations", 3, new V1.WatchAllocationsRequest { Epoch = 0x5EED, Revision = 42 });
    }

    private static (string, byte[]) Seed(string name, byte method, IMessage message) => (name, [method, .. message.ToByteArray()]);
}
