using System.Collections.Immutable;
using BgpLb.Config.Resources;

namespace BgpLb.Config;

/// <summary>
/// Compiles the metallb.io objects into a <see cref="MetalLbConfig"/> with MetalLB's webhook rules, and is the one place
/// that keeps the "last good version per object" in force: an object that fails validation is replaced by the version
/// last accepted under the same key, if any; unchanged objects are validated first so that a new or edited object cannot
/// evict an accepted one. The objects are few (tens), so every change compiles them all; Services never pass here.
/// Not thread-safe: one compiler per consumer, called sequentially.
/// </summary>
public sealed class MetalLbCompiler
{
    // Kinds in dependency order: later kinds are validated against the accepted objects of earlier ones.
    private static readonly string[] KindOrder = ["BFDProfile", "Community", "IPAddressPool", "BGPPeer", "BGPAdvertisement", "L2Advertisement"];

    private readonly ConfigOptions _options;
    private readonly bool _describeOutcome;
    private IReadOnlyDictionary<ResourceKey, MetalLbObject> _lastGood;

    public MetalLbCompiler(ConfigOptions options) : this(options, new Dictionary<ResourceKey, MetalLbObject>(), describeOutcome: true)
    {
    }

    /// <param name="lastGood">The versions accepted so far (<see cref="Accepted"/> of another compiler).</param>
    /// <param name="describeOutcome">Whether an error says what stays in force instead ("the last good version stays in
    /// force"); a judge of a change not yet made (<see cref="ConfigAdmission"/>) leaves that out.</param>
    internal MetalLbCompiler(ConfigOptions options, IReadOnlyDictionary<ResourceKey, MetalLbObject> lastGood, bool describeOutcome)
    {
        _options = options;
        _lastGood = lastGood;
        _describeOutcome = describeOutcome;
    }

    /// <summary>The versions accepted by the last <see cref="Compile"/>: the ones in force.</summary>
    public IReadOnlyDictionary<ResourceKey, MetalLbObject> Accepted => _lastGood;

    /// <summary>How the warning about a pool that no advertisement selects starts.</summary>
    public const string UnadvertisedPool = "no BGPAdvertisement or L2Advertisement selects pool";

    public (MetalLbConfig Config, ImmutableArray<ConfigError> Problems) Compile(
        IReadOnlyDictionary<ResourceKey, MetalLbObject> objects,
        IReadOnlyDictionary<(string Namespace, string Name), SecretInfo> secrets,
        IReadOnlyCollection<NodeInfo> nodes)
    {
        ArgumentNullException.ThrowIfNull(objects);
        var errors = ImmutableArray.CreateBuilder<ConfigError>();
        var validator = new ConfigValidator(_options, secrets, nodes);
        var accepted = new Dictionary<ResourceKey, MetalLbObject>();
        foreach (var kind in KindOrder)
        {
            // Versions that were accepted last time go first so a new or edited object cannot evict an unchanged one.
            var ordered = objects.Values.Where(o => o.Key.Kind == kind)
                .Select(o => (Object: o, Previous: _lastGood.GetValueOrDefault(o.Key)))
                .OrderBy(c => c.Previous is not null && c.Previous.Content == c.Object.Content ? 0 : 1)
                .ThenBy(c => c.Object.Key.Namespace, StringComparer.Ordinal)
                .ThenBy(c => c.Object.Key.Name, StringComparer.Ordinal);
            foreach (var (current, previous) in ordered)
            {
                var problems = validator.TryAdd(current);
                if (!problems.Any(p => p.Severity == ConfigSeverity.Error))
                {
                    accepted[current.Key] = current;
                    errors.AddRange(problems.Select(p => Error(current, p.Severity, p.Field, p.Message)));
                    continue;
                }
                var fallback = previous is not null && previous.Content != current.Content && validator.TryAddValid(previous);
                var outcome = !_describeOutcome ? "" : fallback ? " (the last good version stays in force)" : previous is null ? "" : " (object ignored)";
                foreach (var problem in problems.Where(p => p.Severity == ConfigSeverity.Error))
                    errors.Add(Error(current, ConfigSeverity.Error, problem.Field, problem.Message + outcome));
                if (fallback)
                    accepted[current.Key] = previous!;
            }
        }
        _lastGood = accepted;
        var config = validator.Build();
        foreach (var pool in UnadvertisedPools(config))
        {
            var key = new ResourceKey("IPAddressPool", _options.MetalLbNamespace, pool);
            if (accepted.TryGetValue(key, out var resource))
            {
                errors.Add(Error(resource, ConfigSeverity.Warning, "metadata.name",
                    $"{UnadvertisedPool} '{pool}': its addresses are allocated but never announced"));
            }
        }
        return (config, errors.ToImmutable());
    }

    private static IEnumerable<string> UnadvertisedPools(MetalLbConfig config)
    {
        var selected = config.BgpAdvertisements.SelectMany(a => a.Pools).Concat(config.L2Advertisements.SelectMany(a => a.Pools)).ToHashSet(StringComparer.Ordinal);
        return config.Pools.Select(p => p.Name).Where(name => !selected.Contains(name));
    }

    private static ConfigError Error(MetalLbObject resource, ConfigSeverity severity, string field, string message) =>
        new(severity, resource.Origin, resource.Key, field, message, resource.Line);
}
