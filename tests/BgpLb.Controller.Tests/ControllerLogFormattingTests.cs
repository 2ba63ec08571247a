using System.Net;
using BgpLb.Allocation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace BgpLb.Controller.Tests;

/// <summary>The controller's log lines print address lists readably, never a type name.</summary>
public sealed class ControllerLogFormattingTests
{
    private static readonly EquatableArray<IPAddress> DualStack = [IPAddress.Parse("203.0.113.10"), IPAddress.Parse("2001:db8::10")];

    private readonly FakeLogger _logger = new();

    private string Line() => Assert.Single(_logger.Collector.GetSnapshot()).Message;

    [Fact]
    public void Allocated_lists_the_addresses()
    {
        ControllerLog.Allocated(_logger, LogLevel.Information, "default/web", DualStack, "main");
        Assert.Equal("Allocated default/web: 203.0.113.10, 2001:db8::10 from pool main", Line());
    }

    [Fact]
    public void The_allocation_line_of_the_owner_lists_the_addresses()
    {
        var entry = new AllocationEntry("default/web", "main", [.. DualStack], AllocationFailure.None, "first free address");
        ControllerLog.Allocated(_logger, LogLevel.Information, entry.Key, entry.Addresses, entry.Pool!);
        Assert.Equal("Allocated default/web: 203.0.113.10, 2001:db8::10 from pool main", Line());
    }

    [Fact]
    public void Moved_lists_both_address_sets()
    {
        ControllerLog.Moved(_logger, LogLevel.Warning, "default/web", [IPAddress.Parse("198.51.100.7")], DualStack, "main");
        Assert.Equal("Moved default/web from 198.51.100.7 to 203.0.113.10, 2001:db8::10 (pool main)", Line());
    }

    [Fact]
    public void Released_lists_the_addresses()
    {
        ControllerLog.Released(_logger, LogLevel.Information, "default/web", DualStack);
        Assert.Equal("Released default/web (203.0.113.10, 2001:db8::10)", Line());
    }
}
