using BgpLb.Config;
using BgpLb.Planning;

namespace BgpLb.Speaker.Addresses;

/// <summary>
/// Kubernetes mode without --controller: the addresses are what bgplb-controller wrote into each Service's
/// <c>status.loadBalancer.ingress</c> (and the pool into <c>metallb.io/ip-allocated-from-pool</c>), as MetalLB's speaker
/// reads them. A Service without status is not announced: a requested address is only an allocation once the controller
/// accepted it. They change with the Services, so a Service's change is its addresses' change.
/// </summary>
public sealed class StatusAddresses : IAddressSource
{
    private ClusterState? _state;

    public bool IsKnown => true;

    public void Update(ClusterState state, ClusterDelta delta, ISet<string> changed)
    {
        ArgumentNullException.ThrowIfNull(delta);
        ArgumentNullException.ThrowIfNull(changed);
        _state = state;
        changed.UnionWith(delta.Services);
    }

    public ServiceAddresses? AddressesOf(string service) =>
        _state is not null && _state.Services.TryGetValue(service, out var info) && !info.Ingress.IsEmpty
            ? new ServiceAddresses(info.Ingress, info.AllocatedFromPool)
            : null;
}
