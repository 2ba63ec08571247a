namespace BgpLb.Model;

/// <summary>
/// Kubernetes' own bounds on metadata and label selectors (apimachinery validation): what the API server refuses is
/// refused here too, so that no object, from a file or the API, makes BgpLb do unbounded work.
/// </summary>
public static class KubernetesLimits
{
    /// <summary>metadata.name of most kinds: a DNS subdomain.</summary>
    public const int NameLength = 253;
    /// <summary>metadata.namespace: a DNS label.</summary>
    public const int NamespaceLength = 63;
    /// <summary>All annotations together, keys and values (TotalAnnotationSizeLimitB).</summary>
    public const int AnnotationsBytes = 256 * 1024;
    /// <summary>A label value, and the name part of a label key.</summary>
    public const int LabelLength = 63;
    /// <summary>The prefix of a label key ("example.com/"): a DNS subdomain.</summary>
    public const int LabelPrefixLength = 253;
    /// <summary>One object in its JSON form: etcd's default request limit (1.5 MiB), which bounds every object the API server stores.</summary>
    public const int ObjectBytes = 1536 * 1024;

    /// <summary>Null when <paramref name="key"/> ([prefix/]name) and <paramref name="value"/> are within the label limits, else what is wrong.</summary>
    public static string? CheckLabel(string key, string value)
    {
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        var (prefix, name) = slash < 0 ? (0, key.Length) : (slash, key.Length - slash - 1);
        if (name > LabelLength || prefix > LabelPrefixLength)
            return $"label key is longer than Kubernetes' limit ({LabelPrefixLength} characters of prefix, {LabelLength} of name)";
        return value.Length > LabelLength ? $"label value is {value.Length} characters, more than Kubernetes' limit of {LabelLength}" : null;
    }
}
