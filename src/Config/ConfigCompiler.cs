using System.Collections.Immutable;
using BgpLb.Config.Resources;
using k8s;
using k8s.Models;

namespace BgpLb.Config;

/// <summary>
/// Turns resource snapshots from any source into validated configurations, and the one place that keeps the
/// "last good version per object" in force: an object that fails to parse or validate is replaced by the version that
/// was last accepted under the same key (kind/namespace/name), if any; objects of unreadable files keep their last good
/// versions; everything else valid takes effect. Not thread-safe: one compiler per consumer, called sequentially.
/// </summary>
public sealed class ConfigCompiler(ConfigOptions options)
{
    // Kinds in dependency order: later kinds are validated against the accepted objects of earlier ones.
    private static readonly string[] KindOrder =
        ["Secret", "Namespace", "Node", "Service", "EndpointSlice", "BFDProfile", "Community", "IPAddressPool", "BGPPeer", "BGPAdvertisement", "L2Advertisement"];

    private Dictionary<ResourceKey, Accepted> _lastGood = [];

    private sealed record Accepted(RawResource Raw, string Content);

    public ConfigUpdate Compile(ResourceSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var errors = snapshot.Errors.ToBuilder();
        var current = new Dictionary<ResourceKey, RawResource>();
        foreach (var raw in snapshot.Resources)
        {
            if (current.TryGetValue(raw.Key, out var first))
            {
                errors.Add(new ConfigError(ConfigSeverity.Error, raw.Origin, raw.Key, "metadata.name",
                    $"duplicate object: already defined in {first.Origin}; this definition is ignored", raw.Line));
                continue;
            }
            current[raw.Key] = raw;
        }
        foreach (var (key, good) in _lastGood)
        {
            if (snapshot.UnreadableOrigins.Contains(good.Raw.Origin))
            {
                current.TryAdd(key, good.Raw);
            }
        }

        var validator = new ConfigValidator(options);
        var accepted = new Dictionary<ResourceKey, Accepted>();
        foreach (var kind in KindOrder)
        {
            var candidates = current.Where(p => p.Key.Kind == kind)
                .Select(p => (p.Key, Raw: p.Value, Content: Content(p.Value.Resource)))
                .Select(c => (c.Key, c.Raw, c.Content, Previous: _lastGood.GetValueOrDefault(c.Key)))
                .ToList();
            // Versions that were accepted last time go first so a new or edited object cannot evict an unchanged one.
            var ordered = candidates
                .OrderBy(c => c.Previous is not null && c.Previous.Content == c.Content ? 0 : 1)
                .ThenBy(c => c.Key.Namespace, StringComparer.Ordinal)
                .ThenBy(c => c.Key.Name, StringComparer.Ordinal);
            foreach (var (key, raw, content, previous) in ordered)
            {
                if (raw.Resource is not null)
                {
                    var problems = validator.TryAdd(raw.Resource);
                    if (!problems.Any(p => p.Severity == ConfigSeverity.Error))
                    {
                        accepted[key] = new Accepted(raw, content);
                        errors.AddRange(problems.Select(p => new ConfigError(p.Severity, raw.Origin, key, p.Field, p.Message, raw.Line)));
                        continue;
                    }
                    var fallback = previous is not null && previous.Content != content && validator.TryAddValid(previous.Raw.Resource!);
                    var outcome = fallback ? " (the last good version stays in force)" : previous is null ? "" : " (object ignored)";
                    foreach (var problem in problems.Where(p => p.Severity == ConfigSeverity.Error))
                    {
                        errors.Add(new ConfigError(ConfigSeverity.Error, raw.Origin, key, problem.Field, problem.Message + outcome, raw.Line));
                    }
                    if (fallback)
                    {
                        accepted[key] = previous!;
                    }
                }
                else if (previous is not null && validator.TryAddValid(previous.Raw.Resource!))
                {
                    accepted[key] = previous;
                }
            }
        }
        _lastGood = accepted;
        return new ConfigUpdate(validator.Build(), errors.ToImmutable());
    }

    // Only metallb.io objects can fail validation, so only they need a content fingerprint.
    private static string Content(IKubernetesObject<V1ObjectMeta>? resource) =>
        resource is null || resource.GetType().Namespace == typeof(V1Service).Namespace ? "" : KubernetesJson.Serialize(resource);
}
