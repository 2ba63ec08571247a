namespace BgpLb.Netlab;
public static class LabPrerequisites
{
    private static readonly string[] RequiredExecutables =
        ["ip", "bird", "birdc", "vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "gobgpd", "gobgp", "arping", "ndisc6", "ping", "python3", "bash"];

    /// <summary>Null when every prerequisite is present, else the reason the lab cannot run.</summary>
    public static string? MissingReason { get; } = FindMissing();

    /// <summary>Null when bgplb-speaker is built (or $BGPLB_SPEAKER_PATH names it), else why it cannot be found.</summary>
    public static string? SpeakerMissingReason()
    {
        try
        {
            SpeakerProcess.ResolveExecutable();
            return null;
        }
        catch (IOException exception)
        {
            return "bgplb-speaker unavailable: " + exception.Message;
        }
    }

    private static string? FindMissing()
    {
        var problems = new List<string>();
        if (!OperatingSystem.IsLinux())
        {
            problems.Add("not Linux");
        }
        else if (Environment.UserName != "root" && !IsEffectiveRoot())
        {
            problems.Add("not running as root");
        }

        problems.AddRange(RequiredExecutables.Where(e => FindExecutable(e) is null).Select(e => $"'{e}' not found"));
        return problems.Count == 0
            ? null
            : "integration lab unavailable (netns tests need root, iproute2, bird2, frr, gobgpd, arping, ndisc6, ping, python3, bash; .ci/run installs them): "
                + string.Join(", ", problems);
    }

    private static bool IsEffectiveRoot()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("Uid:", StringComparison.Ordinal))
            {
                var fields = line.Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
                return fields.Length > 2 && fields[2] == "0";
            }
        }

        return false;
    }

    /// <summary>Resolves a name on PATH (plus /usr/sbin and /sbin, absent from some PATHs) or an absolute path.</summary>
    public static string? FindExecutable(string name)
    {
        if (Path.IsPathRooted(name))
        {
            return File.Exists(name) ? name : null;
        }

        var path = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries);
        return path.Concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
    }
}
