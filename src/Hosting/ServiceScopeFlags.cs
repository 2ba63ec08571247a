using System.CommandLine;

namespace BgpLb.Hosting;

/// <summary>Which Services and nodes a daemon handles (--lb-class, --ignore-exclude-lb).</summary>
/// <param name="LoadBalancerClass">Only Services whose spec.loadBalancerClass is this; null: only Services without a class (MetalLB).</param>
/// <param name="IgnoreExcludeLabel">Nodes with the node.kubernetes.io/exclude-from-external-load-balancers label announce too.</param>
public sealed record ServiceScope(string? LoadBalancerClass, bool IgnoreExcludeLabel);

/// <summary>The flags both daemons share that set their <see cref="ServiceScope"/> (DESIGN.md §3).</summary>
public sealed class ServiceScopeFlags(Func<string, string?> environment)
{
    public Option<string?> LbClass { get; } = CommandLineContract.Flag("lb-class",
        "Handle only Services whose spec.loadBalancerClass is NAME (without it: only Services without a class)", environment);

    public Option<bool> IgnoreExcludeLb { get; } = CommandLineContract.Switch("ignore-exclude-lb",
        "Announce from nodes with the node.kubernetes.io/exclude-from-external-load-balancers label too", environment);

    public IEnumerable<Option> All => [LbClass, IgnoreExcludeLb];

    public ServiceScope Read(ParseResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var lbClass = result.GetValue(LbClass);
        return new ServiceScope(string.IsNullOrEmpty(lbClass) ? null : lbClass, result.GetValue(IgnoreExcludeLb));
    }
}
