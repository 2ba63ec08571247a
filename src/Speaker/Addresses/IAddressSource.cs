using BgpLb.Config;
using BgpLb.Planning;

namespace BgpLb.Speaker.Addresses;

/// <summary>
/// Where the speaker learns which addresses its Services hold: bgplb-controller (<see cref="ControllerAddresses"/>), its
/// own allocator (<see cref="InProcessAddresses"/>) or the Services' status in Kubernetes mode
/// (<see cref="StatusAddresses"/>). Called by the reconcile loop only.
/// </summary>
public interface IAddressSource
{
    /// <summary>False while the addresses are not known yet (before the controller's first snapshot): nothing is announced.</summary>
    bool IsKnown { get; }

    /// <summary>
    /// Follows a change of the cluster state and adds to <paramref name="changed"/> the Services whose addresses changed,
    /// together with those whose addresses changed on their own (a controller message) since the last call.
    /// </summary>
    void Update(ClusterState state, ClusterDelta delta, ISet<string> changed);

    /// <summary>The addresses of <paramref name="service"/>, or null when it has none.</summary>
    ServiceAddresses? AddressesOf(string service);
}
