namespace BgpLb.Config;

/// <summary>Settings shared by every resource source and the validator.</summary>
public sealed record ConfigOptions
{
    /// <summary>The namespace the metallb.io objects (and password Secrets) must live in; also the default for CRDs without one.</summary>
    public string MetalLbNamespace { get; init; } = "metallb-system";

    /// <summary>FileStore: quiet time after the last file event before the directory is re-read.</summary>
    public TimeSpan Debounce { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>FileStore: use file-system notifications; when false only the periodic rescan notices changes.</summary>
    public bool WatchFileSystem { get; init; } = true;

    /// <summary>FileStore: periodic re-read in case file-system events are lost.</summary>
    public TimeSpan RescanInterval { get; init; } = TimeSpan.FromSeconds(10);
}
