using System.Globalization;
using System.Text;

namespace BgpLb.Cli;

/// <summary>The text form of the reports, for a terminal.</summary>
public static class TextReport
{
    public static string Render(Explanation explanation)
    {
        ArgumentNullException.ThrowIfNull(explanation);
        var text = new StringBuilder();
        var headline = explanation.Verdict == Verdict.Held
            ? "every step holds"
            : "FAILED at " + string.Join(", ", explanation.FailedSteps.Select(n => $"step {n} ({explanation.Steps.Single(s => s.Step == n).Name})"));
        text.Append(CultureInfo.InvariantCulture, $"Service {explanation.Service}: {headline}\n\n");
        var width = explanation.Steps.Max(s => s.Name.Length);
        foreach (var step in explanation.Steps)
        {
            var verdict = step.Verdict switch { Verdict.Held => "held", Verdict.Failed => "FAILED", _ => "n/a" };
            text.Append(CultureInfo.InvariantCulture, $"{step.Step} {step.Name.PadRight(width)}  {verdict,-6}  {step.Summary}\n");
            var indent = new string(' ', width + 12);
            if (step.Verdict == Verdict.Failed && step.Code is { } code)
                text.Append(indent).Append("reason: ").Append(code).Append('\n');
            if (step.Fix is { } fix)
                text.Append(indent).Append("fix: ").Append(fix).Append('\n');
            foreach (var detail in step.Details)
                text.Append(indent).Append("- ").Append(detail).Append('\n');
        }
        if (explanation.Events.Count > 0)
        {
            text.Append("\nEvents of the Service, newest first:\n");
            foreach (var serviceEvent in explanation.Events)
                text.Append("  - ").Append(serviceEvent).Append('\n');
        }
        if (explanation.Unread.Count > 0)
        {
            text.Append("\nNot read:\n");
            foreach (var unread in explanation.Unread)
                text.Append("  - ").Append(unread).Append('\n');
        }
        return text.ToString();
    }

    public static string Render(ClusterStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        var text = new StringBuilder();
        var errors = status.Problems.Count(p => p.Severity == "Error");
        text.Append(status.ConfigurationValid ? "Configuration: valid" : $"Configuration: INVALID ({errors} error{(errors == 1 ? "" : "s")})");
        text.Append(status.Problems.Count > errors ? $", {status.Problems.Count - errors} warning(s)\n" : "\n");
        foreach (var problem in status.Problems)
        {
            text.Append(CultureInfo.InvariantCulture, $"  {problem.Severity.ToLowerInvariant()}: {problem.Origin}: ");
            if (problem.Resource is { } objectName)
                text.Append(objectName).Append(": ");
            if (problem.Field is { Length: > 0 } field)
                text.Append(field).Append(": ");
            text.Append(problem.Message).Append('\n');
        }
        Table(text, "BGP sessions", ["NODE", "PEER", "ADDRESS", "STATE", "UPTIME", "PREFIXES", "LAST ERROR"], status.SpeakersUnread,
            status.Sessions.Select(s => new[] { s.Node, s.Peer, s.Address, s.State, Uptime(s.UptimeSeconds), s.PrefixesAdvertised.ToString(CultureInfo.InvariantCulture), s.LastError ?? "-" }));
        Table(text, "L2 owners", ["ADDRESS", "SERVICE", "OWNER", "CONFLICT"], status.SpeakersUnread,
            status.L2Owners.Select(o => new[] { o.Address, o.Service, o.Owner, o.Conflict is { } mac ? $"{mac} also answers" : "-" }));
        Table(text, "Pools", ["POOL", "FAMILY", "TOTAL", "USED", "FREE"], null,
            status.Pools.Select(p => new[] { p.Pool, p.Family, Count(p.Total), p.Used.ToString(CultureInfo.InvariantCulture), Count(p.Free) }));
        Table(text, "Services no node announces", ["SERVICE", "ADDRESS", "REASON", "SEEN BY"], status.SpeakersUnread,
            status.Unannounced.Select(u => new[] { u.Service, u.Address, u.Reason.ToString(), u.Node }));
        return text.ToString();
    }

    /// <param name="unread">Why the rows' source (the speakers' /status) was not read; null when it was.</param>
    private static void Table(StringBuilder text, string title, string[] header, string? unread, IEnumerable<string[]> rows)
    {
        var all = rows.Prepend(header).ToList();
        text.Append('\n').Append(title);
        if (unread is not null)
        {
            text.Append(": not read: ").Append(unread).Append('\n');
            return;
        }
        if (all.Count == 1)
        {
            text.Append(": none\n");
            return;
        }
        text.Append('\n');
        var widths = header.Select((_, i) => all.Max(r => r[i].Length)).ToArray();
        foreach (var row in all)
            text.Append(string.Join("  ", row.Select((cell, i) => i == row.Length - 1 ? cell : cell.PadRight(widths[i])))).Append('\n');
    }

    private static string Uptime(double? seconds) =>
        seconds is { } s ? TimeSpan.FromSeconds(Math.Round(s)).ToString("c", CultureInfo.InvariantCulture) : "-";

    /// <summary>A count; an IPv6 pool's size as a power of two (2^64) once it is too long to read.</summary>
    private static string Count(double value) =>
        value < 1e9 ? value.ToString("0", CultureInfo.InvariantCulture)
        : Math.Log2(value) is var bits && bits == Math.Floor(bits) ? $"2^{bits.ToString(CultureInfo.InvariantCulture)}"
        : value.ToString("0.###e0", CultureInfo.InvariantCulture);
}
