namespace BgpLb.Netlab;

/// <summary>The built <c>bgplb</c> command (src/Cli), run as an operator runs it.</summary>
public static class BgplbCli
{
    public const string PathVariable = "BGPLB_CLI_PATH";

    /// <summary>$BGPLB_CLI_PATH, else src/Cli/bin/CONFIGURATION/net10.0/bgplb of the repository holding this assembly.</summary>
    public static string ResolveExecutable() => BuiltExecutable.Resolve("Cli", "bgplb", PathVariable);

    /// <summary>Runs bgplb inside <paramref name="netns"/> (where a speaker's loopback metrics listener is reachable).</summary>
    public static Task<CommandResult> RunInNamespaceAsync(string netns, params string[] arguments) =>
        Command.InNamespaceAsync(netns, ResolveExecutable(), arguments);

    /// <summary>Runs bgplb in the test's own namespace (the fake API server, the config directory).</summary>
    public static Task<CommandResult> RunAsync(params string[] arguments) => Command.RunAsync(ResolveExecutable(), arguments);
}
