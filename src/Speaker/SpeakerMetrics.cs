using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using BgpLb.L2.Announcing;
using BgpLb.Planning;

namespace BgpLb.Speaker;

/// <summary>Speaker-level metrics under MetalLB's names: what this node announces (the configuration's are <see cref="BgpLb.Config.ConfigMetrics"/>).</summary>
public sealed class SpeakerMetrics : ISpeakerObserver
{
    public const string MeterName = "BgpLb.Speaker";

    // Only Services with something announced, so that a scrape walks what it reports.
    private readonly ConcurrentDictionary<string, ServicePlan> _announcing = new(StringComparer.Ordinal);
    // Only Services with an address that no node announces, with their distinct reasons.
    private readonly ConcurrentDictionary<string, AnnounceReason[]> _unannounced = new(StringComparer.Ordinal);
    private readonly Func<IEnumerable<IPAddress>> _conflicts;

    public SpeakerMetrics(IMeterFactory meterFactory, SpeakerOptions options, L2Announcer announcer)
        : this(meterFactory, options, () => announcer.Conflicts.Select(c => c.Address))
    {
    }

    /// <param name="conflicts">The owned addresses another host also answers for (not announced).</param>
    internal SpeakerMetrics(IMeterFactory meterFactory, SpeakerOptions options, Func<IEnumerable<IPAddress>> conflicts)
    {
        _conflicts = conflicts;
        ArgumentNullException.ThrowIfNull(meterFactory);
        ArgumentNullException.ThrowIfNull(options);
        var meter = meterFactory.Create(MeterName);
        meter.CreateObservableGauge("metallb_speaker_announced", () => Announced(options.NodeName),
            description: "Service addresses this node announces (1 per service, protocol and address)");
        meter.CreateObservableGauge(UnannouncedName, Unannounced, description: UnannouncedDescription);
    }

    public const string UnannouncedName = "bgplb_service_unannounced";

    public const string UnannouncedDescription =
        "1 per Service and reason while the Service has an address that, as far as this speaker can tell, no node announces: "
        + "a reason that holds for every node (no ready endpoint, no advertisement for the pool, Service not selected, address in no pool) "
        + "or, in L2 mode, no node is eligible. Reasons of this node only (node selectors, exclude label, externalTrafficPolicy Local "
        + "without a local endpoint, another L2 owner) are not counted; /status lists them. An L2 address that another host "
        + "also answers for counts as AddressConflict on its owner. Use max by (service, reason) across speakers.";

    public void Applied(SpeakerPass pass)
    {
        ArgumentNullException.ThrowIfNull(pass);
        foreach (var (service, _, after) in pass.Changes.Plans)
        {
            if (after is not null && after.Addresses.Any(a => a.Bgp is { Announced: true } || a.L2 is { Announced: true }))
                _announcing[service] = after;
            else
                _announcing.TryRemove(service, out _);
            if (after is not null && after.Addresses.Any(a => a.Unannounced is not null))
                _unannounced[service] = [.. after.Addresses.Select(a => a.Unannounced).OfType<AnnounceReason>().Distinct()];
            else
                _unannounced.TryRemove(service, out _);
        }
    }

    private IEnumerable<Measurement<int>> Announced(string node) =>
        _announcing.Values.SelectMany(plan => plan.Addresses.SelectMany(a => Protocols(a).Select(protocol => new Measurement<int>(1,
            new KeyValuePair<string, object?>("service", plan.Service),
            new KeyValuePair<string, object?>("protocol", protocol),
            new KeyValuePair<string, object?>("node", node),
            new KeyValuePair<string, object?>("ip", a.Address.ToString())))));

    private IEnumerable<Measurement<int>> Unannounced()
    {
        var conflicts = _conflicts().ToHashSet();
        var conflicted = conflicts.Count == 0 ? [] : _announcing.Values
            .Where(p => p.Addresses.Any(a => a.L2 is { Announced: true } && conflicts.Contains(a.Address)))
            .Select(p => (p.Service, AnnounceReason.AddressConflict));
        return _unannounced.SelectMany(entry => entry.Value.Select(reason => (entry.Key, reason))).Concat(conflicted)
            .Select(s => new Measurement<int>(1,
                new KeyValuePair<string, object?>("service", s.Item1),
                new KeyValuePair<string, object?>("reason", ReasonNames[(int)s.Item2])));
    }

    private static readonly string[] ReasonNames = Enum.GetNames<AnnounceReason>();

    private static IEnumerable<string> Protocols(AddressPlan address)
    {
        if (address.Bgp is { Announced: true })
            yield return "bgp";
        if (address.L2 is { Announced: true })
            yield return "layer2";
    }
}
