using BgpLb.Allocation.V1;
using FamilyPolicy = BgpLb.Allocation.V1.FamilyPolicy;
using Grpc.Core;

namespace BgpLb.Controller.Tests;

/// <summary>What AllocationGrpcService.Allocate accepts before the allocator sees a request (fuzz target grpc).</summary>
public class AllocateRequestValidationTests
{
    public static TheoryData<string, AllocateRequest> Invalid() => new()
    {
        { "empty name", new AllocateRequest() },
        { "name with '/'", new AllocateRequest { Name = "default/web" } },
        { "IPv4 with a leading zero (read as octal by IPAddress.Parse)", new AllocateRequest { Name = "vip", Addresses = { "010.0.0.1" } } },
        { "unknown family policy", new AllocateRequest { Name = "vip", FamilyPolicy = (FamilyPolicy)3 } },
        { "unknown IP family", new AllocateRequest { Name = "vip", Families = { (IpFamily)2 } } },
        { "port 0", new AllocateRequest { Name = "vip", Ports = { new Port { Number = 0 } } } },
        { "port above 65535", new AllocateRequest { Name = "vip", Ports = { new Port { Protocol = "UDP", Number = 65536 } } } },
        { "unknown protocol", new AllocateRequest { Name = "vip", Ports = { new Port { Protocol = "tcp", Number = 80 } } } },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Invalid_requests_get_INVALID_ARGUMENT(string why, AllocateRequest request)
    {
        var e = Assert.Throws<RpcException>(() => AllocationGrpcService.ToExternalRequest(request));
        Assert.True(e.StatusCode == StatusCode.InvalidArgument, why);
    }

    [Fact]
    public void A_valid_request_is_stored_as_sent()
    {
        var stored = AllocationGrpcService.ToExternalRequest(new AllocateRequest
        {
            Name = "db",
            Addresses = { "2001:db8::5", "198.51.100.5" },
            FamilyPolicy = FamilyPolicy.RequireDualStack,
            Families = { IpFamily.Ipv6, IpFamily.Ipv4 },
            Ports = { new Port { Number = 5432 }, new Port { Protocol = "SCTP", Number = 65535 } },
        });
        Assert.Equal(BgpLb.Model.FamilyPolicy.RequireDualStack, stored.Policy);
        Assert.Equal(["IPv6", "IPv4"], stored.Families.ToArray());
        Assert.Equal(["2001:db8::5", "198.51.100.5"], stored.Addresses.ToArray());
        Assert.Equal([new ServicePort("TCP", 5432), new ServicePort("SCTP", 65535)], stored.Ports.ToArray());
    }
}
