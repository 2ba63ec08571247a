using BgpLb.Config;

namespace BgpLb.Kubernetes;

/// <summary>
/// What a component's ConfigurationState says about the current problems: Invalid with one line per error (object and
/// field included), or Valid; warnings (e.g. a pool that no advertisement selects) are listed apart and never make it Invalid.
/// </summary>
public sealed record ConfigurationSummary(ConfigurationResult Result, string ErrorSummary, string WarningSummary)
{
    public static ConfigurationSummary Of(IEnumerable<ConfigError> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        var list = problems as IReadOnlyCollection<ConfigError> ?? [.. problems];
        var errors = Lines(list, ConfigSeverity.Error);
        return new(errors.Length == 0 ? ConfigurationResult.Valid : ConfigurationResult.Invalid, errors, Lines(list, ConfigSeverity.Warning));
    }

    private static string Lines(IEnumerable<ConfigError> problems, ConfigSeverity severity) =>
        string.Join('\n', problems.Where(p => p.Severity == severity).Select(p => p.ToString()).Distinct(StringComparer.Ordinal));
}
