using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using BgpLb.Config.Resources;

namespace BgpLb.Config;

/// <summary>A problem with one object; <see cref="Field"/> is a JSON path such as <c>spec.peerASN</c>.</summary>
internal sealed record Problem(ConfigSeverity Severity, string Field, string Message);

/// <summary>
/// MetalLB's webhook rules. Objects are offered one at a time (dependencies first); an object is checked on its own and
/// against the objects accepted so far, and is added only when it has no errors.
/// </summary>
internal sealed class ConfigValidator(ConfigOptions options, IReadOnlyDictionary<(string Namespace, string Name), SecretInfo> secrets, IReadOnlyCollection<NodeInfo> nodes)
{
    private const string BasicAuthSecretType = "kubernetes.io/basic-auth";

    private readonly SortedDictionary<string, BfdProfileConfig> _bfdProfiles = new(StringComparer.Ordinal);
    private readonly HashSet<string> _invalidBfdProfiles = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Owner, uint? Community, LargeCommunity? Large)> _communityAliases = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, AddressPool> _pools = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, PeerConfig> _peers = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, BgpAdvertisementConfig> _bgpAdvertisements = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, L2AdvertisementConfig> _l2Advertisements = new(StringComparer.Ordinal);

    public bool TryAddValid(MetalLbObject resource) => !TryAdd(resource).Any(p => p.Severity == ConfigSeverity.Error);

    public List<Problem> TryAdd(MetalLbObject resource)
    {
        var problems = new List<Problem>();
        if (resource.Key.Namespace != options.MetalLbNamespace)
        {
            problems.Add(new(ConfigSeverity.Error, "metadata.namespace",
                $"resource must be created in the {options.MetalLbNamespace} namespace, not '{resource.Key.Namespace}'"));
        }
        switch (resource.Spec)
        {
            case BFDProfileSpec spec:
                var profile = Validate(resource, spec, problems);
                if (HasErrors(problems))
                    _invalidBfdProfiles.Add(profile.Name);
                else
                    _bfdProfiles[profile.Name] = profile;
                break;
            case CommunitySpec spec when Validate(resource, spec, problems) is { } aliases && !HasErrors(problems):
                foreach (var (name, value) in aliases)
                {
                    _communityAliases[name] = (resource.Name, value.Community, value.Large);
                }
                break;
            case IPAddressPoolSpec spec when Validate(resource, spec, problems) is { } compiled && !HasErrors(problems):
                _pools[compiled.Name] = compiled;
                break;
            case BGPPeerSpec spec when Validate(resource, spec, problems) is { } compiled && !HasErrors(problems):
                _peers[compiled.Name] = compiled;
                break;
            case BGPAdvertisementSpec spec when Validate(resource, spec, problems) is { } compiled && !HasErrors(problems):
                _bgpAdvertisements[compiled.Name] = compiled;
                break;
            case L2AdvertisementSpec spec when Validate(resource, spec, problems) is { } compiled && !HasErrors(problems):
                _l2Advertisements[compiled.Name] = compiled;
                break;
        }
        return problems;
    }

    public MetalLbConfig Build() => new()
    {
        Pools = [.. _pools.Values],
        Peers = [.. _peers.Values],
        BgpAdvertisements = [.. _bgpAdvertisements.Values],
        L2Advertisements = [.. _l2Advertisements.Values],
        BfdProfiles = [.. _bfdProfiles.Values],
    };

    private static bool HasErrors(List<Problem> problems) => problems.Any(p => p.Severity == ConfigSeverity.Error);

    private static void Error(List<Problem> problems, string field, string message) => problems.Add(new(ConfigSeverity.Error, field, message));

    // ---- BFDProfile ----

    private static BfdProfileConfig Validate(MetalLbObject profile, BFDProfileSpec spec, List<Problem> problems)
    {
        if (spec.EchoMode)
        {
            // Echo packets must be looped back by the router's forwarding plane: that needs raw frames to the router's
            // MAC, which the speaker does not send. Refused rather than accepted and ignored.
            Error(problems, "spec.echoMode", "BFD echo mode is not supported by bgplb: remove echoMode (asynchronous mode "
                + "with transmitInterval/receiveInterval detects the same failures)");
        }
        uint InRange(uint? value, string field, uint min, uint max, uint fallback)
        {
            if (value is { } v && (v < min || v > max))
            {
                Error(problems, "spec." + field, $"{field} {v} is out of range {min}..{max}");
            }
            return value ?? fallback;
        }
        InRange(spec.EchoInterval, "echoInterval", 10, 60000, 50);
        return new BfdProfileConfig
        {
            Name = profile.Name,
            ReceiveInterval = TimeSpan.FromMilliseconds(InRange(spec.ReceiveInterval, "receiveInterval", 10, 60000, 300)),
            TransmitInterval = TimeSpan.FromMilliseconds(InRange(spec.TransmitInterval, "transmitInterval", 10, 60000, 300)),
            DetectMultiplier = (int)InRange(spec.DetectMultiplier, "detectMultiplier", 2, 255, 3),
            PassiveMode = spec.PassiveMode,
            MinimumTtl = (int)InRange(spec.MinimumTtl, "minimumTtl", 1, 254, 254),
        };
    }

    // ---- Community ----

    private Dictionary<string, (uint? Community, LargeCommunity? Large)> Validate(MetalLbObject community, CommunitySpec spec, List<Problem> problems)
    {
        var aliases = new Dictionary<string, (uint?, LargeCommunity?)>(StringComparer.Ordinal);
        var index = 0;
        foreach (var alias in spec.Communities ?? [])
        {
            var field = $"spec.communities[{index++}]";
            if (string.IsNullOrEmpty(alias.Name))
            {
                Error(problems, field + ".name", "community alias has no name");
                continue;
            }
            if (aliases.ContainsKey(alias.Name))
            {
                Error(problems, field + ".name", $"duplicate community alias '{alias.Name}'");
                continue;
            }
            if (_communityAliases.TryGetValue(alias.Name, out var existing))
            {
                Error(problems, field + ".name", $"duplicate community alias '{alias.Name}': already defined in Community {existing.Owner}");
                continue;
            }
            if (!Communities.TryParse(alias.Value ?? "", out var value, out var large, out var error))
            {
                Error(problems, field + ".value", error);
                continue;
            }
            aliases[alias.Name] = (value, large);
        }
        return aliases;
    }

    // ---- IPAddressPool ----

    private AddressPool Validate(MetalLbObject pool, IPAddressPoolSpec spec, List<Problem> problems)
    {
        var cidrs = new List<IPNetwork>();
        if (spec.Addresses is not { Count: > 0 })
        {
            Error(problems, "spec.addresses", "the pool has no addresses");
        }
        var index = 0;
        foreach (var address in spec.Addresses ?? [])
        {
            var field = $"spec.addresses[{index++}]";
            if (!AddressRanges.TryParse(address ?? "", out var networks, out var error))
            {
                Error(problems, field, error);
                continue;
            }
            var overlap = networks.Select(n => OverlapMessage(cidrs, n)).FirstOrDefault(m => m is not null);
            if (overlap is not null)
            {
                Error(problems, field, $"'{address}' {overlap}");
            }
            cidrs.AddRange(networks);
        }
        ServiceAllocation? allocation = null;
        if (spec.ServiceAllocation is { } sa)
        {
            var namespaces = ImmutableArray.CreateBuilder<string>();
            index = 0;
            foreach (var ns in sa.Namespaces ?? [])
            {
                if (namespaces.Contains(ns))
                {
                    Error(problems, $"spec.serviceAllocation.namespaces[{index}]", $"duplicate namespace '{ns}'");
                }
                namespaces.Add(ns);
                index++;
            }
            allocation = new ServiceAllocation
            {
                Priority = sa.Priority,
                Namespaces = namespaces.ToImmutable(),
                NamespaceSelectors = Selectors(sa.NamespaceSelectors, "spec.serviceAllocation.namespaceSelectors", problems),
                ServiceSelectors = Selectors(sa.ServiceSelectors, "spec.serviceAllocation.serviceSelectors", problems),
            };
        }
        return new AddressPool
        {
            Name = pool.Name,
            Labels = pool.Labels,
            Cidrs = cidrs.ToEquatableArray(),
            AutoAssign = spec.AutoAssign ?? true,
            AvoidBuggyIPs = spec.AvoidBuggyIPs,
            ServiceAllocation = allocation,
        };
    }

    private string? OverlapMessage(IEnumerable<IPNetwork> samePool, IPNetwork network)
    {
        foreach (var candidate in samePool)
        {
            if (AddressRanges.Overlaps(candidate, network))
            {
                return $"overlaps with {candidate} in the same pool";
            }
        }
        foreach (var other in _pools.Values)
        {
            foreach (var candidate in other.Cidrs)
            {
                if (AddressRanges.Overlaps(candidate, network))
                {
                    return $"overlaps with {candidate} in IPAddressPool {other.Name}";
                }
            }
        }
        return null;
    }

    // ---- BGPPeer ----

    private PeerConfig? Validate(MetalLbObject peer, BGPPeerSpec spec, List<Problem> problems)
    {
        if (spec.MyASN is null or 0)
        {
            Error(problems, "spec.myASN", "myASN is missing or 0");
        }
        var peerAsn = spec.PeerASN is 0 ? null : spec.PeerASN;
        var dynamicAsn = PeerDynamicAsn.None;
        switch (spec.DynamicASN)
        {
            case null or "":
                break;
            case "internal":
                dynamicAsn = PeerDynamicAsn.Internal;
                break;
            case "external":
                dynamicAsn = PeerDynamicAsn.External;
                break;
            default:
                Error(problems, "spec.dynamicASN", $"dynamicASN must be 'internal' or 'external', not '{spec.DynamicASN}'");
                break;
        }
        if ((peerAsn is null) == (spec.DynamicASN is null or ""))
        {
            Error(problems, "spec.peerASN", "exactly one of peerASN and dynamicASN must be set");
        }
        if (spec.LocalASN is not null)
        {
            Error(problems, "spec.localASN", "localASN is not supported");
        }
        if (!string.IsNullOrEmpty(spec.Vrf))
        {
            Error(problems, "spec.vrf", "vrf is not supported");
        }
        IPAddress? address = null;
        var hasAddress = !string.IsNullOrEmpty(spec.PeerAddress);
        var hasInterface = !string.IsNullOrEmpty(spec.Interface);
        if (hasAddress == hasInterface)
        {
            Error(problems, "spec.peerAddress", "exactly one of peerAddress and interface must be set");
        }
        else if (hasInterface)
        {
            Error(problems, "spec.interface", "unnumbered BGP over an interface is not supported yet; set peerAddress instead");
        }
        else if (!StrictIP.TryParse(spec.PeerAddress, out address))
        {
            Error(problems, "spec.peerAddress", $"invalid IP address '{spec.PeerAddress}'");
        }
        var source = OptionalAddress(spec.SourceAddress, "spec.sourceAddress", problems);
        var routerId = OptionalAddress(spec.RouterID, "spec.routerID", problems);
        if (routerId is { AddressFamily: not AddressFamily.InterNetwork })
        {
            Error(problems, "spec.routerID", $"routerID must be an IPv4 address, not '{spec.RouterID}'");
        }
        if (spec.PeerPort is < 1 or > ushort.MaxValue)
        {
            Error(problems, "spec.peerPort", $"peerPort {spec.PeerPort} is out of range 1..65535");
        }
        var isInternal = peerAsn is { } asn ? asn == spec.MyASN : dynamicAsn == PeerDynamicAsn.Internal;
        if (spec.EbgpMultiHop && isInternal)
        {
            Error(problems, "spec.ebgpMultiHop", "ebgpMultiHop cannot be set on an iBGP peer (peerASN equals myASN)");
        }
        var (hold, keepalive) = Timers(spec, problems);
        var connect = Duration(spec.ConnectTime, "spec.connectTime", problems);
        if (connect is { } ct && (ct < TimeSpan.FromSeconds(1) || ct > TimeSpan.FromSeconds(65535) || ct.Ticks % TimeSpan.TicksPerSecond != 0))
        {
            Error(problems, "spec.connectTime", $"connectTime '{spec.ConnectTime}' must be whole seconds between 1s and 65535s");
        }
        var password = string.IsNullOrEmpty(spec.Password) ? null : spec.Password;
        if (spec.PasswordSecret is { } secretRef)
        {
            if (password is not null)
            {
                Error(problems, "spec.passwordSecret", "password and passwordSecret cannot both be set");
            }
            else
            {
                password = ResolvePassword(secretRef, problems);
            }
        }
        if (!string.IsNullOrEmpty(spec.BfdProfile) && !_bfdProfiles.ContainsKey(spec.BfdProfile))
        {
            Error(problems, "spec.bfdProfile", _invalidBfdProfiles.Contains(spec.BfdProfile)
                ? $"BFDProfile '{spec.BfdProfile}' is invalid (see its own error)"
                : $"BFDProfile '{spec.BfdProfile}' does not exist");
        }
        var nodeSelectors = Selectors(spec.NodeSelectors, "spec.nodeSelectors", problems);
        if (HasErrors(problems) || address is null)
        {
            return null;
        }
        var result = new PeerConfig
        {
            Name = peer.Name,
            Labels = peer.Labels,
            Address = address,
            Port = (ushort)(spec.PeerPort ?? 179),
            MyAsn = spec.MyASN!.Value,
            PeerAsn = peerAsn,
            DynamicAsn = dynamicAsn,
            SourceAddress = source,
            HoldTime = hold,
            KeepaliveTime = keepalive,
            ConnectTime = connect,
            RouterId = routerId,
            Password = password,
            EbgpMultiHop = spec.EbgpMultiHop,
            DisableMP = spec.DisableMP,
            BfdProfile = string.IsNullOrEmpty(spec.BfdProfile) ? null : spec.BfdProfile,
            EnableGracefulRestart = spec.EnableGracefulRestart,
            DualStackAddressFamily = spec.DualStackAddressFamily,
            NodeSelectors = nodeSelectors,
        };
        var duplicate = _peers.Values.FirstOrDefault(p => p.Address.Equals(result.Address) && p.Port == result.Port
            && Equals(p.SourceAddress, result.SourceAddress) && p.MyAsn == result.MyAsn
            && p.NodeSelectors.ToHashSet().SetEquals(result.NodeSelectors));
        if (duplicate is not null)
        {
            Error(problems, "spec.peerAddress", $"duplicate peer: BGPPeer {duplicate.Name} already peers with {result.Address} port {result.Port} from the same nodes");
        }
        return result;
    }

    private static (TimeSpan? Hold, TimeSpan? Keepalive) Timers(BGPPeerSpec spec, List<Problem> problems)
    {
        var hold = Duration(spec.HoldTime, "spec.holdTime", problems);
        var keepalive = Duration(spec.KeepaliveTime, "spec.keepaliveTime", problems);
        if (hold is null && keepalive is null)
        {
            return (null, null);
        }
        var derivedHold = hold is null;
        var h = hold ?? keepalive!.Value * 3;
        var k = keepalive ?? h / 3;
        if (h < TimeSpan.Zero || (h != TimeSpan.Zero && h < TimeSpan.FromSeconds(3)))
        {
            Error(problems, derivedHold ? "spec.keepaliveTime" : "spec.holdTime", derivedHold
                ? $"keepaliveTime {GoDuration.Format(k)} implies holdTime {GoDuration.Format(h)}, but holdTime must be 0 or at least 3s"
                : $"holdTime {GoDuration.Format(h)} must be 0 or at least 3s");
        }
        else if (k < TimeSpan.Zero || k > h)
        {
            Error(problems, "spec.keepaliveTime", $"keepaliveTime {GoDuration.Format(k)} must not be negative or greater than holdTime {GoDuration.Format(h)}");
        }
        return (h, k);
    }

    private static TimeSpan? Duration(string? text, string field, List<Problem> problems)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }
        if (!GoDuration.TryParse(text, out var value))
        {
            Error(problems, field, $"invalid duration '{text}' (examples: 90s, 1m30s, 500ms)");
            return null;
        }
        return value;
    }

    private string? ResolvePassword(SecretReference reference, List<Problem> problems)
    {
        var ns = string.IsNullOrEmpty(reference.Namespace) ? options.MetalLbNamespace : reference.Namespace;
        if (string.IsNullOrEmpty(reference.Name))
        {
            Error(problems, "spec.passwordSecret.name", "passwordSecret has no name");
            return null;
        }
        if (ns != options.MetalLbNamespace)
        {
            Error(problems, "spec.passwordSecret.namespace", $"the password Secret must be in the {options.MetalLbNamespace} namespace, not '{ns}'");
            return null;
        }
        if (!options.ReadSecrets)
        {
            return null;
        }
        if (!secrets.TryGetValue((ns, reference.Name), out var secret))
        {
            Error(problems, "spec.passwordSecret", $"Secret {ns}/{reference.Name} does not exist");
            return null;
        }
        if (secret.Type != BasicAuthSecretType)
        {
            Error(problems, "spec.passwordSecret", $"Secret {ns}/{reference.Name} must be of type {BasicAuthSecretType}, not '{secret.Type}'");
            return null;
        }
        if (secret.Password is { } password)
        {
            return password;
        }
        Error(problems, "spec.passwordSecret", $"Secret {ns}/{reference.Name} has no 'password' key");
        return null;
    }

    // ---- BGPAdvertisement ----

    private BgpAdvertisementConfig Validate(MetalLbObject advertisement, BGPAdvertisementSpec spec, List<Problem> problems)
    {
        var aggregation = spec.AggregationLength ?? 32;
        var aggregationV6 = spec.AggregationLengthV6 ?? 128;
        if (aggregation is < 1 or > 32)
        {
            Error(problems, "spec.aggregationLength", $"aggregationLength {aggregation} is out of range 1..32");
        }
        if (aggregationV6 is < 1 or > 128)
        {
            Error(problems, "spec.aggregationLengthV6", $"aggregationLengthV6 {aggregationV6} is out of range 1..128");
        }
        var communities = ImmutableArray.CreateBuilder<uint>();
        var large = ImmutableArray.CreateBuilder<LargeCommunity>();
        var index = 0;
        foreach (var text in spec.Communities ?? [])
        {
            var field = $"spec.communities[{index++}]";
            uint? community;
            LargeCommunity? largeCommunity;
            if (Communities.IsLiteral(text))
            {
                if (!Communities.TryParse(text, out community, out largeCommunity, out var error))
                {
                    Error(problems, field, error);
                    continue;
                }
            }
            else if (_communityAliases.TryGetValue(text, out var alias))
            {
                (community, largeCommunity) = (alias.Community, alias.Large);
            }
            else
            {
                Error(problems, field, $"unknown community alias '{text}' (no Community object defines it)");
                continue;
            }
            if (community is { } c && !communities.Contains(c))
            {
                communities.Add(c);
            }
            if (largeCommunity is { } l && !large.Contains(l))
            {
                large.Add(l);
            }
        }
        var pools = SelectPools(spec.IPAddressPools, spec.IPAddressPoolSelectors, problems);
        foreach (var pool in HasErrors(problems) ? [] : pools.Select(p => _pools[p]))
        {
            foreach (var cidr in pool.Cidrs)
            {
                var (length, field) = cidr.BaseAddress.AddressFamily == AddressFamily.InterNetwork
                    ? (aggregation, "spec.aggregationLength")
                    : (aggregationV6, "spec.aggregationLengthV6");
                if (cidr.PrefixLength > length)
                {
                    Error(problems, field, $"aggregation length {length} is shorter than prefix {cidr} of IPAddressPool {pool.Name}");
                }
            }
        }
        var serviceSelectors = Selectors(spec.ServiceSelectors, "spec.serviceSelectors", problems);
        if (serviceSelectors.Length > 0 && (aggregation != 32 || aggregationV6 != 128))
        {
            Error(problems, "spec.serviceSelectors", "serviceSelectors cannot be combined with a non-default aggregationLength or aggregationLengthV6");
        }
        var result = new BgpAdvertisementConfig
        {
            Name = advertisement.Name,
            AggregationLength = aggregation,
            AggregationLengthV6 = aggregationV6,
            LocalPref = spec.LocalPref,
            Communities = communities.ToImmutable(),
            LargeCommunities = large.ToImmutable(),
            Pools = pools,
            NodeSelectors = Selectors(spec.NodeSelectors, "spec.nodeSelectors", problems),
            Peers = [.. (spec.Peers ?? []).Distinct(StringComparer.Ordinal)],
            ServiceSelectors = serviceSelectors,
        };
        if (HasErrors(problems))
        {
            return result;
        }
        foreach (var other in _bgpAdvertisements.Values)
        {
            if (SameContent(other, result))
            {
                Error(problems, "spec", $"duplicate advertisement: identical to BGPAdvertisement {other.Name}");
            }
            else if (other.LocalPref != result.LocalPref
                && other.Pools.Intersect(result.Pools).Any()
                && (other.AggregationLength == result.AggregationLength || other.AggregationLengthV6 == result.AggregationLengthV6)
                && (other.Peers.IsEmpty || result.Peers.IsEmpty || other.Peers.Intersect(result.Peers).Any())
                && NodesOverlap(other.NodeSelectors, result.NodeSelectors))
            {
                Error(problems, "spec.localPref",
                    $"localPref {result.LocalPref} conflicts with localPref {other.LocalPref} of BGPAdvertisement {other.Name} for the same pools, peers and nodes");
            }
        }
        return result;
    }

    private static bool SameContent(BgpAdvertisementConfig a, BgpAdvertisementConfig b) =>
        a.AggregationLength == b.AggregationLength && a.AggregationLengthV6 == b.AggregationLengthV6 && a.LocalPref == b.LocalPref
        && a.Communities.ToHashSet().SetEquals(b.Communities) && a.LargeCommunities.ToHashSet().SetEquals(b.LargeCommunities)
        && a.Pools.ToHashSet().SetEquals(b.Pools) && a.Peers.ToHashSet().SetEquals(b.Peers)
        && a.NodeSelectors.ToHashSet().SetEquals(b.NodeSelectors) && a.ServiceSelectors.ToHashSet().SetEquals(b.ServiceSelectors);

    private bool NodesOverlap(EquatableArray<LabelSelector> a, EquatableArray<LabelSelector> b) =>
        a.IsEmpty || b.IsEmpty || a.Intersect(b).Any()
        || nodes.Any(n => LabelSelector.MatchesAny(a, n.Labels) && LabelSelector.MatchesAny(b, n.Labels));

    // ---- L2Advertisement ----

    private L2AdvertisementConfig Validate(MetalLbObject advertisement, L2AdvertisementSpec spec, List<Problem> problems)
    {
        var index = 0;
        foreach (var name in spec.Interfaces ?? [])
        {
            if (string.IsNullOrWhiteSpace(name))
            {
                Error(problems, $"spec.interfaces[{index}]", "interface name is empty");
            }
            index++;
        }
        var preferred = new List<WeightedNodeSelector>();
        index = 0;
        foreach (var preference in spec.PreferredNodeSelectors ?? [])
        {
            var field = $"spec.preferredNodeSelectors[{index++}]";
            if (preference.Weight is < 1 or > 100)
            {
                Error(problems, field + ".weight", $"weight {preference.Weight} is out of range 1..100");
            }
            if (!LabelSelector.TryCreate(preference.Preference, out var selector, out var error))
            {
                Error(problems, $"{field}.preference.{error.Field}", error.Message);
            }
            preferred.Add(new WeightedNodeSelector(preference.Weight, selector));
        }
        return new L2AdvertisementConfig
        {
            Name = advertisement.Name,
            Pools = SelectPools(spec.IPAddressPools, spec.IPAddressPoolSelectors, problems),
            NodeSelectors = Selectors(spec.NodeSelectors, "spec.nodeSelectors", problems),
            Interfaces = [.. (spec.Interfaces ?? []).Distinct(StringComparer.Ordinal)],
            ServiceSelectors = Selectors(spec.ServiceSelectors, "spec.serviceSelectors", problems),
            PreferredNodeSelectors = preferred.ToEquatableArray(),
        };
    }

    // ---- shared ----

    /// <summary>Pool names by name and by selector; neither given means all pools. An unknown pool name is a warning.</summary>
    private EquatableArray<string> SelectPools(IList<string>? names, IList<LabelSelectorSpec>? selectorSpecs, List<Problem> problems)
    {
        var selectors = Selectors(selectorSpecs, "spec.ipAddressPoolSelectors", problems);
        if (names is not { Count: > 0 } && selectors.IsEmpty)
        {
            return [.. _pools.Keys];
        }
        var selected = new SortedSet<string>(StringComparer.Ordinal);
        var index = 0;
        foreach (var name in names ?? [])
        {
            if (_pools.ContainsKey(name))
            {
                selected.Add(name);
            }
            else
            {
                problems.Add(new(ConfigSeverity.Warning, $"spec.ipAddressPools[{index}]", $"IPAddressPool '{name}' does not exist (or is invalid); ignored"));
            }
            index++;
        }
        foreach (var pool in _pools.Values)
        {
            if (selectors.Any(s => s.Matches(pool.Labels)))
            {
                selected.Add(pool.Name);
            }
        }
        return [.. selected];
    }

    private static EquatableArray<LabelSelector> Selectors(IList<LabelSelectorSpec>? selectors, string field, List<Problem> problems)
    {
        var result = ImmutableArray.CreateBuilder<LabelSelector>();
        var index = 0;
        foreach (var selector in selectors ?? [])
        {
            var itemField = $"{field}[{index++}]";
            if (!LabelSelector.TryCreate(selector, out var compiled, out var error))
            {
                Error(problems, $"{itemField}.{error.Field}", error.Message);
            }
            else if (result.Contains(compiled))
            {
                Error(problems, itemField, $"duplicate selector '{compiled}'");
            }
            else
            {
                result.Add(compiled);
            }
        }
        return result.ToImmutable();
    }

    private static IPAddress? OptionalAddress(string? text, string field, List<Problem> problems)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }
        if (!StrictIP.TryParse(text, out var address))
        {
            Error(problems, field, $"invalid IP address '{text}'");
        }
        return address;
    }

}
