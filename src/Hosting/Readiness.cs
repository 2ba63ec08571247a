namespace BgpLb.Hosting;

/// <summary>
/// Readiness gate for /readyz: a daemon is ready once its first configuration has been applied.
/// Liveness (/healthz) only says the process serves requests.
/// </summary>
public sealed class Readiness
{
    private volatile string? _notReadyReason = "starting";

    public bool IsReady => _notReadyReason is null;

    public string? NotReadyReason => _notReadyReason;

    public void MarkReady() => _notReadyReason = null;

    public void MarkNotReady(string reason) => _notReadyReason = reason;
}
