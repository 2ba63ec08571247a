using System.Collections.Immutable;
using BgpLb.Config.Resources;

namespace BgpLb.Config;

/// <summary>
/// What the metallb.io configuration was built from at the last compile (<see cref="ClusterState.Basis"/>): every
/// object, the versions in force, and the Secrets and Nodes the rules read. Immutable, so a judge on another thread
/// reads it while the state moves on.
/// </summary>
public sealed record ConfigBasis(
    IReadOnlyDictionary<ResourceKey, MetalLbObject> Objects,
    IReadOnlyDictionary<ResourceKey, MetalLbObject> Accepted,
    IReadOnlyDictionary<(string Namespace, string Name), SecretInfo> Secrets,
    IReadOnlyCollection<NodeInfo> Nodes);

/// <summary>
/// The judgement of a change: the errors that refuse it (the changed object's own, or those it would cause on other
/// objects) and the warnings it would bring.
/// </summary>
public sealed record AdmissionVerdict(ImmutableArray<ConfigError> Errors, ImmutableArray<ConfigError> Warnings)
{
    public bool Allowed => Errors.IsEmpty;
}

/// <summary>
/// Judges a change of one metallb.io object before it is made (the admission webhook) with the same rules and
/// messages as the configuration itself (<see cref="MetalLbCompiler"/>, <see cref="ConfigValidator"/>): the
/// configuration is compiled with the object replaced (or removed), the versions in force going first as they always
/// do, so a new object is judged against all the accepted ones.
/// </summary>
public static class ConfigAdmission
{
    /// <param name="replacement">The new version of the object under <paramref name="key"/>; null judges deleting it.</param>
    public static AdmissionVerdict Judge(ConfigOptions options, ConfigBasis basis, ResourceKey key, MetalLbObject? replacement)
    {
        ArgumentNullException.ThrowIfNull(basis);
        var changed = new Dictionary<ResourceKey, MetalLbObject>(basis.Objects);
        if (replacement is null)
            changed.Remove(key);
        else
            changed[key] = replacement;
        var before = Compile(options, basis, basis.Objects).ToHashSet();
        var after = Compile(options, basis, changed);

        var own = after.Where(p => p.Resource == key).ToList();
        var errors = own.Where(p => p.Severity == ConfigSeverity.Error).ToImmutableArray();
        if (!errors.IsEmpty)
            return new AdmissionVerdict(errors, [.. own.Where(p => p.Severity == ConfigSeverity.Warning)]);
        // Problems the change causes elsewhere: a reference it breaks, a rule another object now fails.
        var caused = after.Where(p => p.Resource != key && !before.Contains(p)).ToList();
        return new AdmissionVerdict(
            [.. caused.Where(p => p.Severity == ConfigSeverity.Error)],
            [.. own.Concat(caused).Where(p => p.Severity == ConfigSeverity.Warning)]);
    }

    private static ImmutableArray<ConfigError> Compile(ConfigOptions options, ConfigBasis basis, IReadOnlyDictionary<ResourceKey, MetalLbObject> objects) =>
        new MetalLbCompiler(options, basis.Accepted, describeOutcome: false).Compile(objects, basis.Secrets, basis.Nodes).Problems;
}
