using System.Collections.Immutable;
using System.Net;
using BgpLb.Config;

namespace BgpLb.Speaker.Allocations;

/// <summary>
/// Where the speaker learns which addresses its Services hold: from bgplb-controller (<see cref="ControllerAllocations"/>)
/// or from its own allocator (<see cref="InProcessAllocations"/>). Keys are "namespace/name".
/// </summary>
public interface IAllocationSource
{
    /// <summary>
    /// Increases whenever the allocations change on their own, not through a new configuration (a controller snapshot).
    /// </summary>
    long Version { get; }

    /// <summary>The addresses per Service under <paramref name="config"/>; null while not known yet (announce nothing).</summary>
    IReadOnlyDictionary<string, ImmutableArray<IPAddress>>? AddressesFor(BgpLbConfig config);

    /// <summary>Returns once <see cref="Version"/> is above <paramref name="version"/>.</summary>
    Task WaitForChangeAsync(long version, CancellationToken cancellationToken);
}
