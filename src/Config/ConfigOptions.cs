namespace BgpLb.Config;

/// <summary>Settings shared by every resource source and the validator.</summary>
public sealed record ConfigOptions
{
    /// <summary>The namespace the metallb.io objects (and password Secrets) must live in; also the default for CRDs without one.</summary>
    public string MetalLbNamespace { get; init; } = "metallb-system";

    /// <summary>
    /// When false (bgplb in Kubernetes mode, whose users need no access to Secrets) Secrets are not read: a BGPPeer's
    /// passwordSecret counts as present and its password as unknown.
    /// </summary>
    public bool ReadSecrets { get; init; } = true;

    /// <summary>
    /// FileStore: after a file is complete (closed or renamed into place), how long to wait for more before reading, so
    /// that files written together are read together.
    /// </summary>
    public TimeSpan Debounce { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>FileStore: a file modified but not closed is read once no file has been modified for this long.</summary>
    public TimeSpan WriteSettle { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>FileStore: use file-system notifications; when false only the periodic rescan notices changes.</summary>
    public bool WatchFileSystem { get; init; } = true;

    /// <summary>FileStore: periodic re-read in case file-system events are lost.</summary>
    public TimeSpan RescanInterval { get; init; } = TimeSpan.FromSeconds(10);
}
