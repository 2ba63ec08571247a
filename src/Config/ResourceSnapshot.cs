using System.Collections.Immutable;
using k8s;
using k8s.Models;

namespace BgpLb.Config;

/// <summary>
/// One object read from a source. <see cref="Resource"/> is null when the object could be identified but not parsed
/// (for example a misspelt field); its last good version then stays in force.
/// </summary>
public sealed record RawResource(ResourceKey Key, string Origin, IKubernetesObject<V1ObjectMeta>? Resource, int? Line = null);

/// <summary>
/// Everything a resource source currently holds, before validation.
/// <see cref="UnreadableOrigins"/> lists origins (files) that could not be read at all, e.g. a YAML syntax error:
/// every object last seen there keeps its last good version.
/// </summary>
public sealed record ResourceSnapshot(
    ImmutableArray<RawResource> Resources,
    ImmutableArray<ConfigError> Errors,
    ImmutableHashSet<string> UnreadableOrigins);
