using System.Globalization;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace BgpLb.Kubernetes;

/// <summary>A Service announced over BGP from this node and the BGPPeers it is configured to reach.</summary>
public sealed record ServiceBgpStatusEntry(string ServiceNamespace, string ServiceName, IReadOnlyList<string> Peers);

/// <summary>A Service announced over L2 from this node and the interfaces it is announced on.</summary>
public sealed record ServiceL2StatusEntry(string ServiceNamespace, string ServiceName, IReadOnlyList<string> Interfaces);

/// <summary>
/// Converges this node's ServiceBGPStatus objects (metallb.io/v1beta1, named <c>bgp-*</c>, labelled with node and
/// Service) to the given set. <paramref name="owner"/> (the speaker pod) makes them go away with the pod.
/// </summary>
public sealed class BgpStatusWriter(IKubernetes client, string metalLbNamespace, string node, V1OwnerReference? owner, ILogger<BgpStatusWriter> logger)
{
    private readonly PerServiceStatusSet _set = new(new StatusObjects(client, metalLbNamespace, "servicebgpstatuses", "ServiceBGPStatus", owner, logger), node, "bgp-");

    public Task ConvergeAsync(IReadOnlyCollection<ServiceBgpStatusEntry> desired, CancellationToken cancellationToken) =>
        _set.ConvergeAsync(desired.Select(d => (d.ServiceNamespace, d.ServiceName, Status(d.Peers))), cancellationToken);

    /// <summary>One Service's object: announced to <paramref name="peers"/>, or (null) not announced from this node.</summary>
    public Task SetAsync(string serviceNamespace, string serviceName, IReadOnlyList<string>? peers, CancellationToken cancellationToken) =>
        _set.SetAsync(serviceNamespace, serviceName, peers is null ? null : Status(peers), cancellationToken);

    private static JsonObject Status(IReadOnlyList<string> peers) =>
        new() { ["peers"] = new JsonArray([.. peers.Order(StringComparer.Ordinal).Select(p => JsonValue.Create(p))]) };
}

/// <summary>Converges this node's ServiceL2Status objects (named <c>l2-*</c>) to the given set, like <see cref="BgpStatusWriter"/>.</summary>
public sealed class L2StatusWriter(IKubernetes client, string metalLbNamespace, string node, V1OwnerReference? owner, ILogger<L2StatusWriter> logger)
{
    private readonly PerServiceStatusSet _set = new(new StatusObjects(client, metalLbNamespace, "servicel2statuses", "ServiceL2Status", owner, logger), node, "l2-");

    public Task ConvergeAsync(IReadOnlyCollection<ServiceL2StatusEntry> desired, CancellationToken cancellationToken) =>
        _set.ConvergeAsync(desired.Select(d => (d.ServiceNamespace, d.ServiceName, Status(d.Interfaces))), cancellationToken);

    /// <summary>One Service's object: answered for on <paramref name="interfaces"/>, or (null) not from this node.</summary>
    public Task SetAsync(string serviceNamespace, string serviceName, IReadOnlyList<string>? interfaces, CancellationToken cancellationToken) =>
        _set.SetAsync(serviceNamespace, serviceName, interfaces is null ? null : Status(interfaces), cancellationToken);

    private static JsonObject Status(IReadOnlyList<string> interfaces) =>
        new() { ["interfaces"] = new JsonArray([.. interfaces.Order(StringComparer.Ordinal).Select(i => new JsonObject { ["name"] = i })]) };
}

public enum ConfigurationResult
{
    Valid,
    Invalid,
    Unknown,
}

/// <summary>
/// Writes a component's ConfigurationState (metallb.io/v1beta1): <c>status.result</c>, <c>status.errorSummary</c> and
/// <c>status.conditions</c>, labelled <c>metallb.io/component-type</c> and, for speakers, <c>metallb.io/node-name</c>.
/// The object is named <c>controller</c> or <c>speaker-NODE</c>. The conditions are MetalLB's
/// <c>configReconcilerValid</c> and ours, <c>configWarnings</c>: True while the configuration has warnings, listed in
/// its message (the configuration stays Valid).
/// </summary>
public sealed class ConfigurationStateWriter
{
    public const string ValidCondition = "configReconcilerValid";
    public const string WarningsCondition = "configWarnings";
    /// <summary>The CRD's (metav1.Condition's) limit on a condition message.</summary>
    private const int MaxConditionMessage = 32768;

    private readonly StatusObjects _objects;
    private readonly string _name;
    private readonly Dictionary<string, string> _labels;
    private readonly TimeProvider _time;

    /// <param name="componentType"><c>controller</c> or <c>speaker</c>.</param>
    /// <param name="node">The speaker's node; null for the controller.</param>
    public ConfigurationStateWriter(IKubernetes client, string metalLbNamespace, string componentType, string? node, V1OwnerReference? owner,
        TimeProvider time, ILogger<ConfigurationStateWriter> logger)
    {
        _objects = new StatusObjects(client, metalLbNamespace, "configurationstates", "ConfigurationState", owner, logger);
        _name = node is null ? componentType : $"{componentType}-{node}";
        _labels = new Dictionary<string, string> { [StatusLabels.ComponentType] = componentType };
        if (node is not null)
        {
            _labels[StatusLabels.NodeName] = node;
        }
        _time = time;
    }

    public async Task WriteAsync(ConfigurationSummary summary, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(summary);
        var now = _time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var valid = summary.Result == ConfigurationResult.Valid;
        var warned = summary.WarningSummary.Length > 0;
        var status = new JsonObject
        {
            ["result"] = summary.Result.ToString(),
            ["conditions"] = new JsonArray(
                Condition(ValidCondition, valid, valid ? "Reconciled" : "ConfigurationError", summary.ErrorSummary, now),
                Condition(WarningsCondition, warned, warned ? "ConfigurationWarning" : "NoWarnings", summary.WarningSummary, now)),
        };
        if (!valid)
        {
            status["errorSummary"] = summary.ErrorSummary;
        }
        if (await _objects.GetAsync(_name, cancellationToken) is { } current && await _objects.UpdateStatusAsync(current, status, cancellationToken) is not null)
        {
            return;
        }
        await _objects.CreateAsync(_name, null, _labels, status, cancellationToken);
    }

    private static JsonObject Condition(string type, bool status, string reason, string message, string now) => new()
    {
        ["type"] = type,
        ["status"] = status ? "True" : "False",
        ["reason"] = reason,
        ["message"] = message.Length > MaxConditionMessage ? message[..MaxConditionMessage] : message,
        ["lastTransitionTime"] = now,
    };
}
