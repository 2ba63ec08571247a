using Microsoft.Extensions.Logging;

namespace BgpLb.Config;

internal static partial class ConfigLog
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Error, Message = "Invalid configuration: {Problem}")]
    public static partial void InvalidConfiguration(ILogger logger, ConfigError problem);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Configuration warning: {Problem}")]
    public static partial void ConfigurationWarning(ILogger logger, ConfigError problem);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information,
        Message = "Configuration compiled: {Pools} pools, {Peers} peers, {BgpAdvertisements} BGP advertisements, {L2Advertisements} L2 advertisements, {Errors} errors")]
    public static partial void ConfigurationCompiled(ILogger logger, int pools, int peers, int bgpAdvertisements, int l2Advertisements, int errors);

    [LoggerMessage(EventId = 3020, Level = LogLevel.Information,
        Message = "Skipping Service {Service}: its loadBalancerClass is {ServiceClass}, this daemon handles {HandledClass} (--lb-class)")]
    public static partial void ForeignClass(ILogger logger, string service, string serviceClass, string handledClass);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Warning, Message = "Watching {Directory} failed, relying on periodic rescans: {Reason}")]
    public static partial void WatcherFailed(ILogger logger, string directory, string reason);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Debug, Message = "Configuration directory {Directory} changed: {Changes} objects")]
    public static partial void DirectoryChanged(ILogger logger, string directory, int changes);
}
