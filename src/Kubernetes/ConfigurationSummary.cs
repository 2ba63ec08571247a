using BgpLb.Config;

namespace BgpLb.Kubernetes;

/// <summary>What a component's ConfigurationState says about the current problems.</summary>
public static class ConfigurationSummary
{
    /// <summary>Invalid with one line per error (object and field included), or Valid with an empty summary; warnings are not listed.</summary>
    public static (ConfigurationResult Result, string ErrorSummary) Of(IEnumerable<ConfigError> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        var errors = problems.Where(e => e.Severity == ConfigSeverity.Error).Select(e => e.ToString()).ToList();
        return errors.Count == 0 ? (ConfigurationResult.Valid, "") : (ConfigurationResult.Invalid, string.Join('\n', errors));
    }
}
