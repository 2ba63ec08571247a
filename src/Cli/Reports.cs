using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using BgpLb.Planning;

namespace BgpLb.Cli;

public enum Verdict
{
    Held,
    Failed,
    NotApplicable,
}

/// <summary>The document <c>bgplb explain -o json</c> prints; fields are only ever added within one version.</summary>
/// <param name="FailedSteps">The numbers of the steps that failed; empty: the Service's path holds.</param>
/// <param name="Events">Kubernetes: the Service's Events, newest first.</param>
/// <param name="Unread">Kubernetes: the Service's records RBAC did not allow to read, and what to grant (the speakers' /status: step 5).</param>
public sealed record Explanation(
    int Version, string Service, Verdict Verdict, IReadOnlyList<int> FailedSteps, IReadOnlyList<string> Addresses, string? Pool,
    IReadOnlyList<ExplainStep> Steps, IReadOnlyList<NodeDecision> Nodes, IReadOnlyList<PeerRoute> Routes, IReadOnlyList<L2Answer> L2Answers,
    IReadOnlyList<ServiceEvent> Events, IReadOnlyList<string> Unread)
{
    public const int CurrentVersion = 1;

    public int ExitCode => Verdict == Verdict.Failed ? CliExitCodes.Failed : CliExitCodes.Held;
}

/// <summary>One step of the path.</summary>
/// <param name="Code">A stable code for scripts: an <see cref="AnnounceReason"/> or allocation failure name, or the step's own (e.g. ServiceNotFound); null when the step holds plainly.</param>
/// <param name="Fix">What to change, when the step failed.</param>
public sealed record ExplainStep(int Step, string Name, Verdict Verdict, string? Code, string Summary, string? Fix, IReadOnlyList<string> Details);

/// <summary>Step 4: one node's decision for one address.</summary>
/// <param name="Protocol">BGP or L2.</param>
/// <param name="Source">Where the decision comes from: the node's speaker (/status), or computed by the planner from the configuration.</param>
public sealed record NodeDecision(string Node, string Address, string Protocol, bool Announced, AnnounceReason Reason, string Detail, string Source);

/// <summary>Step 5: a route of the Service towards a peer, as a speaker reports it.</summary>
/// <param name="SentAt">When the UPDATE announcing it was written on the current session; null when not advertised or not reported.</param>
public sealed record PeerRoute(string Node, string Peer, string PeerAddress, string State, double? UptimeSeconds, string? LastError, string Prefix, bool Advertised,
    DateTimeOffset? SentAt);

/// <summary>Step 6: a speaker that answers ARP/NDP for an address of the Service.</summary>
/// <param name="GratuitousSentAt">When its last gratuitous ARP / unsolicited NA went out; null when none was or it was not reported.</param>
public sealed record L2Answer(string Node, string Address, DateTimeOffset? GratuitousSentAt);

/// <summary>The document <c>bgplb status -o json</c> prints.</summary>
public sealed record ClusterStatus(
    int Version, bool ConfigurationValid, IReadOnlyList<ConfigProblem> Problems, IReadOnlyList<SessionRow> Sessions, IReadOnlyList<L2OwnerRow> L2Owners,
    IReadOnlyList<PoolRow> Pools, IReadOnlyList<UnannouncedRow> Unannounced, string? SpeakersUnread)
{
    public const int CurrentVersion = 1;

    /// <summary>1 while the configuration has errors, a session is not Established or an L2 address conflicts.</summary>
    public int ExitCode => ConfigurationValid && Sessions.All(s => s.State == "Established") && L2Owners.All(o => o.Conflict is null)
        ? CliExitCodes.Held
        : CliExitCodes.Failed;
}

/// <param name="Resource">The object at fault ("BGPPeer metallb-system/tor"), null for a whole file.</param>
public sealed record ConfigProblem(string Severity, string Origin, string? Resource, string? Field, string Message);

public sealed record SessionRow(string Node, string Peer, string Address, string State, double? UptimeSeconds, int PrefixesAdvertised, string? LastError);

/// <param name="Conflict">Another host's MAC that also answers for the address, or null.</param>
public sealed record L2OwnerRow(string Address, string Service, string Owner, string? Conflict);

/// <param name="Family">IPv4 or IPv6.</param>
public sealed record PoolRow(string Pool, string Family, double Total, int Used, double Free);

/// <summary>A Service with an address no node announces, as the speakers report it.</summary>
public sealed record UnannouncedRow(string Service, string Address, AnnounceReason Reason, string Node);

public static class CliExitCodes
{
    public const int Held = 0;
    public const int Failed = 1;
    /// <summary>Bad usage, or a source (--config, the API server, a --speaker) that cannot be read.</summary>
    public const int UsageOrUnreachable = 2;
}

/// <summary>Source-generated serialization of the documents: camelCase names, enums as their names.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UseStringEnumConverter = true, WriteIndented = true)]
[JsonSerializable(typeof(Explanation))]
[JsonSerializable(typeof(ClusterStatus))]
public sealed partial class CliJsonContext : JsonSerializerContext
{
    /// <summary>Prints quotes and non-ASCII characters as they are (the output is for people and scripts, not for embedding in HTML).</summary>
    public static CliJsonContext Readable { get; } = new(new JsonSerializerOptions(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new JsonStringEnumConverter<Verdict>(), new JsonStringEnumConverter<AnnounceReason>() },
    });
}
