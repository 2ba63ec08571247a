using System.Text.RegularExpressions;

namespace BgpLb.Operations.Tests;

/// <summary>packaging/systemd: the units pass systemd's own checks against the built executables and grant only what the daemons need.</summary>
public sealed partial class SystemdUnitTests
{
    private const string InstallDirectory = "/usr/local/lib/bgplb/";
    private static readonly string Packaging = Path.Combine(Yaml.RepositoryRoot(), "packaging", "systemd");
    private static readonly string[] Daemons = ["bgplb-controller", "bgplb-speaker"];

    private static string UnitText(string daemon) => File.ReadAllText(Path.Combine(Packaging, daemon + ".service"));

    /// <summary>Every value of a [Service] key, in order (a key may repeat, e.g. Environment=).</summary>
    private static List<string> Values(string daemon, string key) =>
        [.. UnitText(daemon).Split('\n').Where(l => l.StartsWith(key + "=", StringComparison.Ordinal)).Select(l => l[(key.Length + 1)..])];

    [Fact]
    public async Task Units_pass_systemd_analyze_verify_against_the_built_executables()
    {
        var systemdAnalyze = Tool.Find("systemd-analyze", "systemd");
        using var directory = new Tool.TempDirectory();
        foreach (var daemon in Daemons)
        {
            var executable = Path.Combine(AppContext.BaseDirectory, daemon);
            Assert.True(File.Exists(executable), $"{executable} not built");
            Assert.Equal([InstallDirectory + daemon], Values(daemon, "ExecStart"));
            File.WriteAllText(Path.Combine(directory.Path, daemon + ".service"), UnitText(daemon).Replace(InstallDirectory + daemon, executable, StringComparison.Ordinal));
        }

        var result = await Tool.RunAsync(systemdAnalyze, ["verify", .. Daemons.Select(d => d + ".service")], directory.Path);

        // verify exits 0 on an unknown or misspelt key, but says so: any output is a finding.
        Assert.True(result.ExitCode == 0 && result.Output.Length == 0 && result.Error.Length == 0,
            $"systemd-analyze verify exited {result.ExitCode}:\n{result.Output}{result.Error}");
    }

    [Fact]
    public void Speaker_gets_only_bind_and_raw_capabilities_and_the_controller_none()
    {
        Assert.Equal(["CAP_NET_BIND_SERVICE CAP_NET_RAW"], Values("bgplb-speaker", "CapabilityBoundingSet"));
        Assert.Equal(["CAP_NET_BIND_SERVICE CAP_NET_RAW"], Values("bgplb-speaker", "AmbientCapabilities"));
        Assert.Equal([""], Values("bgplb-controller", "CapabilityBoundingSet"));
        Assert.Equal([""], Values("bgplb-controller", "AmbientCapabilities"));
        foreach (var daemon in Daemons)
        {
            Assert.Equal(["yes"], Values(daemon, "DynamicUser"));
            Assert.Equal(["yes"], Values(daemon, "NoNewPrivileges"));
            Assert.Equal(["strict"], Values(daemon, "ProtectSystem"));
            Assert.Equal(["on-failure"], Values(daemon, "Restart"));
            Assert.Equal(["SIGTERM"], Values(daemon, "KillSignal"));
            Assert.Equal(["@system-service"], Values(daemon, "SystemCallFilter"));
            Assert.Equal([$"-/etc/bgplb/{daemon["bgplb-".Length..]}.env"], Values(daemon, "EnvironmentFile"));
        }
        // The controller's state must be outside the read-only configuration directory, in its state directory.
        Assert.Equal(["bgplb-controller"], Values("bgplb-controller", "StateDirectory"));
        Assert.Contains("BGPLB_STATE=%S/bgplb-controller/state.json", Values("bgplb-controller", "Environment"));
    }

    /// <summary>The BGPLB_* names a daemon's option parser reads (every flag asks for its variable).</summary>
    private static HashSet<string> VariablesRead(string daemon)
    {
        using var config = new Tool.TempDirectory();
        var asked = new HashSet<string>(StringComparer.Ordinal);
        string? Environment(string name)
        {
            asked.Add(name);
            return name switch { "BGPLB_CONFIG" => config.Path, "BGPLB_NODE" => "node-1", _ => null };
        }
        _ = daemon == "bgplb-speaker" ? (object)Speaker.SpeakerOptions.Parse([], Environment) : Controller.ControllerOptions.Parse([], Environment);
        return asked;
    }

    [Fact]
    public void Environment_files_and_units_name_only_flags_the_daemons_read()
    {
        foreach (var daemon in Daemons)
        {
            var known = VariablesRead(daemon);
            Assert.Contains("BGPLB_METRICS_LISTEN", known);
            var used = EnvironmentName().Matches(File.ReadAllText(Path.Combine(Packaging, daemon["bgplb-".Length..] + ".env")))
                .Concat(EnvironmentName().Matches(UnitText(daemon))).Select(m => m.Value).ToHashSet(StringComparer.Ordinal);
            Assert.Contains("BGPLB_LOG_LEVEL", used);
            Assert.All(used, name => Assert.True(known.Contains(name), $"{daemon} reads no {name} (it reads {string.Join(", ", known)})"));
        }
    }

    [GeneratedRegex("BGPLB_[A-Z_]+")]
    private static partial Regex EnvironmentName();
}
