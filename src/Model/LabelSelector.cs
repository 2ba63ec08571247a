using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace BgpLb.Model;

/// <summary>
/// A validated Kubernetes label selector (metav1.LabelSelector semantics): every matchLabels pair AND every
/// matchExpressions requirement must hold. An empty selector matches everything.
/// </summary>
public sealed class LabelSelector
{
    public static IReadOnlyList<string> Operators { get; } = ["In", "NotIn", "Exists", "DoesNotExist"];

    public static LabelSelector Everything { get; } = new(ImmutableSortedDictionary<string, string>.Empty, []);

    public ImmutableSortedDictionary<string, string> MatchLabels { get; }
    public ImmutableArray<LabelRequirement> MatchExpressions { get; }

    private LabelSelector(ImmutableSortedDictionary<string, string> matchLabels, ImmutableArray<LabelRequirement> matchExpressions)
    {
        MatchLabels = matchLabels;
        MatchExpressions = matchExpressions;
    }

    /// <summary>Validates <paramref name="selector"/>; on failure <paramref name="error"/> says what is wrong (relative field, message).</summary>
    public static bool TryCreate(LabelSelectorSpec? selector, out LabelSelector result, out (string Field, string Message) error)
    {
        result = Everything;
        error = default;
        if (selector is null)
        {
            return true;
        }
        var expressions = ImmutableArray.CreateBuilder<LabelRequirement>();
        var index = 0;
        foreach (var requirement in selector.MatchExpressions ?? [])
        {
            var field = $"matchExpressions[{index++}]";
            if (string.IsNullOrEmpty(requirement.Key))
            {
                error = (field + ".key", "key must not be empty");
                return false;
            }
            var labelProblem = KubernetesLimits.CheckLabel(requirement.Key, "");
            foreach (var value in requirement.Values ?? [])
                labelProblem ??= KubernetesLimits.CheckLabel(requirement.Key, value);
            if (labelProblem is not null)
            {
                error = (field, labelProblem);
                return false;
            }
            var values = requirement.Values?.ToImmutableSortedSet(StringComparer.Ordinal) ?? [];
            switch (requirement.Operator)
            {
                case "In" or "NotIn" when values.Count == 0:
                    error = (field + ".values", $"operator {requirement.Operator} needs at least one value");
                    return false;
                case "Exists" or "DoesNotExist" when values.Count != 0:
                    error = (field + ".values", $"operator {requirement.Operator} takes no values");
                    return false;
                case "In" or "NotIn" or "Exists" or "DoesNotExist":
                    break;
                default:
                    error = (field + ".operator", $"unknown operator '{requirement.Operator}' (In, NotIn, Exists, DoesNotExist)");
                    return false;
            }
            expressions.Add(new LabelRequirement(requirement.Key, requirement.Operator, values));
        }
        foreach (var (key, value) in selector.MatchLabels ?? new Dictionary<string, string>())
        {
            if (KubernetesLimits.CheckLabel(key, value) is { } problem)
            {
                error = ($"matchLabels.{key}", problem);
                return false;
            }
        }
        var labels = (selector.MatchLabels ?? new Dictionary<string, string>()).ToImmutableSortedDictionary(StringComparer.Ordinal, StringComparer.Ordinal);
        result = labels.Count == 0 && expressions.Count == 0 ? Everything : new LabelSelector(labels, expressions.ToImmutable());
        return true;
    }

    public bool IsEverything => MatchLabels.Count == 0 && MatchExpressions.IsEmpty;

    /// <summary>True when <paramref name="labels"/> (an object's labels; null = none) satisfy the selector.</summary>
    public bool Matches(IEnumerable<KeyValuePair<string, string>>? labels)
    {
        foreach (var (key, value) in MatchLabels)
        {
            if (Lookup(labels, key) != value)
            {
                return false;
            }
        }
        foreach (var requirement in MatchExpressions)
        {
            var actual = Lookup(labels, requirement.Key);
            var present = actual is not null;
            var holds = requirement.Operator switch
            {
                "In" => present && requirement.Values.Contains(actual!),
                "NotIn" => !present || !requirement.Values.Contains(actual!),
                "Exists" => present,
                _ => !present,
            };
            if (!holds)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>MetalLB's list semantics: selectors are ORed and an empty list matches everything.</summary>
    public static bool MatchesAny(IReadOnlyCollection<LabelSelector> selectors, IEnumerable<KeyValuePair<string, string>>? labels) =>
        selectors.Count == 0 || selectors.Any(s => s.Matches(labels));

    private static string? Lookup(IEnumerable<KeyValuePair<string, string>>? labels, string key) => labels switch
    {
        null => null,
        IDictionary<string, string> dictionary => dictionary.TryGetValue(key, out var value) ? value : null,
        IReadOnlyDictionary<string, string> dictionary => dictionary.TryGetValue(key, out var value) ? value : null,
        _ => labels.Where(p => p.Key == key).Select(p => p.Value).FirstOrDefault(),
    };

    /// <summary>The selector in Kubernetes string syntax, e.g. <c>zone=a,tier in (x,y),!gpu</c>; stable, usable as a key.</summary>
    public override string ToString() => string.Join(',',
        MatchLabels.Select(p => $"{p.Key}={p.Value}").Concat(MatchExpressions.Select(e => e.ToString())));

    public override bool Equals(object? obj) => obj is LabelSelector other && ToString() == other.ToString();

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(ToString());
}

public sealed record LabelRequirement(string Key, string Operator, ImmutableSortedSet<string> Values)
{
    public override string ToString() => Operator switch
    {
        "In" => $"{Key} in ({string.Join(',', Values)})",
        "NotIn" => $"{Key} notin ({string.Join(',', Values)})",
        "Exists" => Key,
        _ => "!" + Key,
    };
}

/// <summary>metav1.LabelSelector as written in a manifest (before validation by <see cref="LabelSelector.TryCreate"/>).</summary>
public sealed class LabelSelectorSpec
{
    [JsonPropertyName("matchLabels")] public IDictionary<string, string>? MatchLabels { get; set; }
    [JsonPropertyName("matchExpressions")] public IList<LabelSelectorRequirementSpec>? MatchExpressions { get; set; }
}

public sealed class LabelSelectorRequirementSpec
{
    [JsonPropertyName("key")] public string? Key { get; set; }
    [JsonPropertyName("operator")] public string? Operator { get; set; }
    [JsonPropertyName("values")] public IList<string>? Values { get; set; }
}
