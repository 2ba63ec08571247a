using Microsoft.Extensions.Logging;

namespace BgpLb.Config;

/// <summary>
/// Says once per Service (and again when its class changes) that a LoadBalancer Service is left alone because of its
/// spec.loadBalancerClass (--lb-class), instead of skipping it without a word. Not thread-safe: owned by one loop.
/// </summary>
public sealed class ForeignClassLog(string? configuredClass, ILogger logger)
{
    private readonly Dictionary<string, string?> _skipped = new(StringComparer.Ordinal);

    /// <param name="services">The Services that may have changed (keys of <paramref name="state"/>'s Services, or gone).</param>
    public void Observe(ClusterState state, IEnumerable<string> services)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(services);
        foreach (var key in services)
        {
            if (state.Services.TryGetValue(key, out var service) && service.IsLoadBalancer && !service.HasClass(configuredClass))
            {
                if (_skipped.TryGetValue(key, out var logged) && logged == service.LoadBalancerClass)
                    continue;
                _skipped[key] = service.LoadBalancerClass;
                ConfigLog.ForeignClass(logger, key, service.LoadBalancerClass ?? "(none)", configuredClass ?? "(none: only Services without a class)");
            }
            else
            {
                _skipped.Remove(key);
            }
        }
    }
}
