using BgpLb.Allocation;
using BgpLb.Planning;

namespace BgpLb.Cli;

/// <summary>What to change for each reason the allocator and the planner give.</summary>
public static class Fixes
{
    public static string For(AllocationFailure failure) => failure switch
    {
        AllocationFailure.InvalidRequest => "correct the Service's metallb.io annotations or spec.loadBalancerIP as the reason says",
        AllocationFailure.PoolNotFound => $"name an existing IPAddressPool in {MetalLbNames.AddressPoolAnnotation}, or create that pool",
        AllocationFailure.PoolNotAllowed => "let the pool's spec.serviceAllocation (namespaces, namespaceSelectors, serviceSelectors) admit the Service, "
            + "and request an address inside the pool the annotation names",
        AllocationFailure.NotInAnyPool => "request an address inside an IPAddressPool's spec.addresses, or add the address to a pool",
        AllocationFailure.AddressInUse => $"another Service holds the address: give both the same {MetalLbNames.AllowSharedIPAnnotation} key with no port "
            + "in common (and the same pod selector with externalTrafficPolicy Local), or request another address",
        AllocationFailure.FamilyMismatch => "make spec.ipFamilies / spec.ipFamilyPolicy and the requested addresses match the families of the pools",
        AllocationFailure.PoolExhausted => "add addresses to the pool (spec.addresses) or release some",
        AllocationFailure.NoPoolAvailable => $"create an IPAddressPool with autoAssign that admits the Service, or name one in {MetalLbNames.AddressPoolAnnotation}",
        _ => "",
    };

    /// <returns>Null when there is nothing to change (announced, or another node announces).</returns>
    public static string? For(AnnounceReason reason) => reason switch
    {
        AnnounceReason.AddressNotInPool => "the address is in no IPAddressPool: add it to a pool's spec.addresses, or clear the Service's address so it gets one",
        AnnounceReason.NoAdvertisementForPool => "add the pool to spec.ipAddressPools (or ipAddressPoolSelectors) of a BGPAdvertisement or L2Advertisement, or create one for it",
        AnnounceReason.ServiceNotSelected => "make the advertisements' spec.serviceSelectors match the Service's labels, or label the Service",
        AnnounceReason.NodeNotSelected => "make the advertisements' spec.nodeSelectors select the nodes that should announce (or label those nodes)",
        AnnounceReason.NodeExcluded => $"remove the {MetalLbNames.ExcludeFromLoadBalancersLabel} label from the node, or run the speakers with --ignore-exclude-lb",
        AnnounceReason.NodeNetworkUnavailable => "the node has the NetworkUnavailable condition: repair its network (CNI) first",
        AnnounceReason.NoReadyEndpoint => "the Service has no ready endpoint: check its selector and that its pods are Ready "
            + $"(kubectl get endpointslices -l {MetalLbNames.ServiceNameLabel}=NAME); in a config directory, add its EndpointSlice",
        AnnounceReason.NoLocalReadyEndpoint => "externalTrafficPolicy Local announces only from nodes with a ready endpoint: run a ready pod on a node "
            + "the advertisements select, or use externalTrafficPolicy Cluster",
        AnnounceReason.NoPeerForNode => "the advertisements' spec.peers name none of the node's BGPPeers: correct spec.peers or the BGPPeers' nodeSelectors",
        AnnounceReason.ConflictingLocalPref => "give the BGPAdvertisements that select the address the same localPref",
        AnnounceReason.SpeakerNotLive => "run bgplb-speaker on the node with L2 liveness (--memberlist-secret-file) and let UDP 7946 pass between the nodes",
        AnnounceReason.SpeakerNotRunning => "the speaker DaemonSet has no Running pod on the node: check its pods (kubectl get pods -l component=speaker -o wide) "
            + "and its nodeSelector and tolerations against the node",
        AnnounceReason.AddressConflict => "another host answers for the address: remove it from that host (or from its DHCP range), or give the Service another address",
        _ => null,
    };
}
