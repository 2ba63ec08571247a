using System.CommandLine;

namespace BgpLb.Hosting;

/// <summary>Where a daemon reads its configuration: a directory, or the API server through a kubeconfig or in-cluster.</summary>
/// <param name="Directory">Full path of --config DIR; null in Kubernetes mode.</param>
/// <param name="Kubeconfig">Full path of --kubeconfig FILE, if given.</param>
public sealed record ConfigSource(string? Directory, string? Kubeconfig, bool InCluster)
{
    public bool IsKubernetes => Directory is null;
}

/// <summary>The source flags both daemons share (DESIGN.md §3): exactly one of --config, --kubeconfig, --in-cluster.</summary>
public sealed class ConfigSourceFlags(Func<string, string?> environment)
{
    public Option<string?> Config { get; } = CommandLineContract.Flag("config", "Directory of MetalLB-style YAML files (standalone mode)", environment);
    public Option<string?> Kubeconfig { get; } = CommandLineContract.Flag("kubeconfig", "Kubeconfig file (Kubernetes mode)", environment);
    public Option<bool> InCluster { get; } = CommandLineContract.Switch("in-cluster", "Use the in-cluster service account (Kubernetes mode)", environment);

    public IEnumerable<Option> All => [Config, Kubeconfig, InCluster];

    /// <summary>Validates the choice; throws <see cref="CommandLineException"/> naming the flag.</summary>
    public ConfigSource Read(ParseResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var directory = result.GetValue(Config);
        var kubeconfig = result.GetValue(Kubeconfig);
        var inCluster = result.GetValue(InCluster);
        if ((directory is null ? 0 : 1) + (kubeconfig is null ? 0 : 1) + (inCluster ? 1 : 0) != 1)
            throw new CommandLineException("exactly one of --config DIR, --kubeconfig FILE or --in-cluster is required");
        if (kubeconfig is not null && !File.Exists(kubeconfig))
            throw new CommandLineException($"--kubeconfig: file '{kubeconfig}' does not exist");
        if (directory is not null && !System.IO.Directory.Exists(directory))
            throw new CommandLineException($"--config: directory '{directory}' does not exist");
        return new ConfigSource(
            directory is null ? null : Path.GetFullPath(directory),
            kubeconfig is null ? null : Path.GetFullPath(kubeconfig),
            inCluster);
    }
}
