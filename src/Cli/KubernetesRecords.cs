using System.Globalization;
using System.Net;
using System.Text.Json;
using BgpLb.Config;
using BgpLb.Kubernetes;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace BgpLb.Cli;

/// <summary>
/// Kubernetes mode: what the daemons recorded about one Service in the API server: its Events (the controller's
/// allocation, the speakers' announcements and warnings) and the speakers' ServiceBGPStatus / ServiceL2Status objects.
/// Each is read where RBAC allows; a kind that cannot be read is named in <see cref="Unread"/> rather than failing explain.
/// </summary>
public sealed record KubernetesRecords(IReadOnlyList<ServiceEvent> Events, IReadOnlyList<AnnouncementRecord> Announcements, IReadOnlyList<string> Unread)
{
    public static readonly KubernetesRecords None = new([], [], []);

    /// <summary>At most this many Events are shown, the newest first.</summary>
    public const int MaxEvents = 10;

    private const string StatusVersion = "v1beta1";

    /// <exception cref="SourceUnreachableException">The API server does not answer within <paramref name="timeout"/> or fails otherwise than forbidden.</exception>
    public static async Task<KubernetesRecords> ReadAsync(IKubernetes client, string systemNamespace, string serviceKey, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(serviceKey);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            return await ReadAsync(client, systemNamespace, serviceKey, deadline.Token);
        }
        catch (OperationCanceledException e) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new SourceUnreachableException($"the Service's Events and status objects: no answer from the API server within {timeout.TotalSeconds:0} s", e);
        }
    }

    private static async Task<KubernetesRecords> ReadAsync(IKubernetes client, string systemNamespace, string serviceKey, CancellationToken cancellationToken)
    {
        var slash = serviceKey.IndexOf('/', StringComparison.Ordinal);
        var (ns, name) = (serviceKey[..slash], serviceKey[(slash + 1)..]);
        var unread = new List<string>();

        var events = await ReadOrNoteAsync(unread, $"list on events in {ns}", async () =>
        {
            var list = await client.CoreV1.ListNamespacedEventAsync(ns, cancellationToken: cancellationToken);
            return list.Items
                .Where(e => e.InvolvedObject is { Kind: "Service" } o && o.Name == name)
                .Select(e => new ServiceEvent(e.Type ?? "", e.Reason ?? "", e.Message ?? "", Component(e), e.Count ?? 1, LastSeen(e)))
                .OrderByDescending(e => e.LastSeen ?? DateTimeOffset.MinValue)
                .Take(MaxEvents)
                .ToList();
        });

        var selector = $"{StatusLabels.ServiceName}={name},{StatusLabels.ServiceNamespace}={ns}";
        var announcements = new List<AnnouncementRecord>();
        foreach (var (plural, protocol) in new[] { ("servicebgpstatuses", "BGP"), ("servicel2statuses", "L2") })
        {
            announcements.AddRange(await ReadOrNoteAsync(unread, $"list on {plural} in {systemNamespace}", async () =>
            {
                var list = await client.CustomObjects.ListNamespacedCustomObjectAsync<JsonElement>(ObjectProjector.MetalLbGroup, StatusVersion, systemNamespace, plural,
                    labelSelector: selector, cancellationToken: cancellationToken);
                return list.GetProperty("items").EnumerateArray().Select(item => Announcement(item, protocol)).OfType<AnnouncementRecord>().ToList();
            }));
        }
        return new KubernetesRecords(events, [.. announcements.OrderBy(a => a.Node, StringComparer.Ordinal).ThenBy(a => a.Protocol, StringComparer.Ordinal)], unread);
    }

    /// <summary>The list, or (forbidden) a note of what to grant and an empty list; any other failure is the source's.</summary>
    private static async Task<IReadOnlyList<T>> ReadOrNoteAsync<T>(List<string> unread, string grant, Func<Task<List<T>>> read)
    {
        try
        {
            return await read();
        }
        catch (HttpOperationException e) when (IsForbidden(e))
        {
            unread.Add(Unreadable(e, grant));
            return [];
        }
        catch (HttpOperationException e)
        {
            throw new SourceUnreachableException($"the API server answered {(int)e.Response.StatusCode} on {e.Request.RequestUri.AbsolutePath}", e);
        }
    }

    /// <summary>RBAC's answer (or no credentials): what explain goes on without.</summary>
    internal static bool IsForbidden(HttpOperationException e) => e.Response.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized;

    /// <summary>"403 Forbidden on PATH (grant WHAT)".</summary>
    internal static string Unreadable(HttpOperationException e, string grant) =>
        $"{(int)e.Response.StatusCode} {e.Response.StatusCode} on {e.Request.RequestUri.AbsolutePath} (grant {grant})";

    private static AnnouncementRecord? Announcement(JsonElement item, string protocol)
    {
        if (!item.TryGetProperty("status", out var status) || status.ValueKind != JsonValueKind.Object
            || !status.TryGetProperty("node", out var node) || node.ValueKind != JsonValueKind.String)
            return null;
        IEnumerable<string> targets = protocol == "BGP"
            ? Strings(status, "peers", p => p.ValueKind == JsonValueKind.String ? p.GetString() : null)
            : Strings(status, "interfaces", i => i.ValueKind == JsonValueKind.Object && i.TryGetProperty("name", out var n) ? n.GetString() : null);
        return new AnnouncementRecord(node.GetString()!, protocol, [.. targets]);
    }

    private static IEnumerable<string> Strings(JsonElement status, string property, Func<JsonElement, string?> value) =>
        status.TryGetProperty(property, out var array) && array.ValueKind == JsonValueKind.Array
            ? array.EnumerateArray().Select(value).OfType<string>()
            : [];

    private static string Component(Corev1Event e) =>
        e.ReportingComponent is { Length: > 0 } reporting ? reporting : e.Source?.Component ?? "";

    private static DateTimeOffset? LastSeen(Corev1Event e)
    {
        var time = e.LastTimestamp ?? e.EventTime ?? e.FirstTimestamp ?? e.Metadata?.CreationTimestamp;
        return time is { } t ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)) : null;
    }
}

/// <summary>An Event about the Service.</summary>
/// <param name="Source">The component that reported it (e.g. bgplb-controller, bgplb-speaker).</param>
public sealed record ServiceEvent(string Type, string Reason, string Message, string Source, int Count, DateTimeOffset? LastSeen)
{
    public override string ToString() =>
        $"{Type} {Reason} from {(Source.Length == 0 ? "(unknown)" : Source)}"
        + (Count > 1 ? string.Create(CultureInfo.InvariantCulture, $" ({Count}x)") : "")
        + (LastSeen is { } at ? string.Create(CultureInfo.InvariantCulture, $", last at {at:O}") : "")
        + $": {Message}";
}

/// <summary>A speaker's ServiceBGPStatus (peers) or ServiceL2Status (interfaces) for the Service.</summary>
public sealed record AnnouncementRecord(string Node, string Protocol, IReadOnlyList<string> Targets);
