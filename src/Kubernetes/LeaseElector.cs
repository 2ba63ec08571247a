using System.Net.Http;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace BgpLb.Kubernetes;

/// <summary>Leader election settings; the defaults are client-go's (15 s lease, 10 s renew deadline, 2 s retry).</summary>
public sealed record LeaseElectorOptions
{
    public required string Namespace { get; init; }
    public required string Name { get; init; }

    /// <summary>This candidate, e.g. the pod name.</summary>
    public required string Identity { get; init; }

    /// <summary>How long others wait, after they last saw the lease change, before taking it over.</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>A leader that could not renew for this long steps down (before others may take over).</summary>
    public TimeSpan RenewDeadline { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan RetryPeriod { get; init; } = TimeSpan.FromSeconds(2);
}

/// <summary>
/// coordination.k8s.io/v1 Lease leader election as client-go does it: acquire or renew every retry period with an
/// optimistic update (a 409 means someone else wrote first), take over a lease only after it has not changed for its
/// duration as measured on the local clock (no trust in other clocks), step down when renewing failed for the renew
/// deadline, and release the lease when stopped so another candidate takes over at once.
/// </summary>
public sealed class LeaseElector(IKubernetes client, LeaseElectorOptions options, TimeProvider time, ILogger<LeaseElector> logger)
{
    private volatile bool _isLeader;
    private (string? Holder, DateTime? RenewTime, string? ResourceVersion) _observed;
    private DateTimeOffset _observedAt;

    public bool IsLeader => _isLeader;

    /// <summary>Raised with the new value whenever <see cref="IsLeader"/> changes, on the election loop: keep handlers short.</summary>
    public event EventHandler<bool>? LeadershipChanged;

    private string LeaseName => $"{options.Namespace}/{options.Name}";

    /// <summary>Runs the election until <paramref name="cancellationToken"/> is cancelled, then releases the lease if held.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var lastRenewed = DateTimeOffset.MinValue;
        try
        {
            while (true)
            {
                var outcome = await TryAcquireOrRenewAsync(cancellationToken);
                var now = time.GetUtcNow();
                if (outcome == Outcome.Held)
                {
                    lastRenewed = now;
                    SetLeader(true);
                }
                else if (outcome == Outcome.HeldByOther || now - lastRenewed >= options.RenewDeadline)
                {
                    SetLeader(false);
                }
                await Task.Delay(options.RetryPeriod, time, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        if (_isLeader)
        {
            using var release = new CancellationTokenSource(options.RetryPeriod, time);
            await ReleaseAsync(release.Token);
            SetLeader(false);
        }
    }

    private enum Outcome
    {
        Held,
        HeldByOther,
        Failed,
    }

    /// <summary>One attempt, bounded by the renew deadline so a hung API server cannot keep a stale leader in office.</summary>
    private async Task<Outcome> TryAcquireOrRenewAsync(CancellationToken stopping)
    {
        using var deadline = new CancellationTokenSource(options.RenewDeadline, time);
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(stopping, deadline.Token);
        var cancellationToken = attempt.Token;
        try
        {
            var now = time.GetUtcNow();
            var lease = await ReadAsync(cancellationToken);
            if (lease is null)
            {
                await client.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease
                {
                    Metadata = new V1ObjectMeta { Name = options.Name, NamespaceProperty = options.Namespace },
                    Spec = NewSpec(now, acquireTime: now.UtcDateTime, transitions: 0),
                }, options.Namespace, cancellationToken: cancellationToken);
                return Outcome.Held;
            }
            var spec = lease.Spec ?? new V1LeaseSpec();
            var holder = spec.HolderIdentity;
            var ours = holder == options.Identity;
            if (!ours && !string.IsNullOrEmpty(holder))
            {
                var record = (holder, spec.RenewTime, lease.Metadata.ResourceVersion);
                if (record != _observed)
                {
                    _observed = record;
                    _observedAt = now;
                }
                var duration = spec.LeaseDurationSeconds is > 0 and var seconds ? TimeSpan.FromSeconds(seconds) : options.LeaseDuration;
                if (now < _observedAt + duration)
                {
                    return Outcome.HeldByOther;
                }
            }
            lease.Spec = NewSpec(now, ours ? spec.AcquireTime ?? now.UtcDateTime : now.UtcDateTime, (spec.LeaseTransitions ?? 0) + (ours ? 0 : 1));
            await client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, options.Name, options.Namespace, cancellationToken: cancellationToken);
            return Outcome.Held;
        }
        catch (HttpOperationException e) when (Conflicts.IsConflict(e))
        {
            return Outcome.HeldByOther; // another candidate wrote first
        }
        catch (Exception e) when (e is HttpOperationException or HttpRequestException || e is OperationCanceledException && !stopping.IsCancellationRequested)
        {
            KubeLog.LeaseUpdateFailed(logger, LeaseName, e.Message);
            return Outcome.Failed;
        }
    }

    private async Task ReleaseAsync(CancellationToken cancellationToken)
    {
        try
        {
            var lease = await ReadAsync(cancellationToken);
            if (lease?.Spec?.HolderIdentity != options.Identity)
            {
                return;
            }
            var now = time.GetUtcNow().UtcDateTime;
            lease.Spec.HolderIdentity = null;
            lease.Spec.LeaseDurationSeconds = 1;
            lease.Spec.RenewTime = now;
            lease.Spec.AcquireTime = now;
            await client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, options.Name, options.Namespace, cancellationToken: cancellationToken);
        }
        catch (Exception e) when (e is HttpOperationException or HttpRequestException or OperationCanceledException)
        {
            KubeLog.LeaseUpdateFailed(logger, LeaseName, e.Message); // others take over once the lease expires
        }
    }

    private async Task<V1Lease?> ReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await client.CoordinationV1.ReadNamespacedLeaseAsync(options.Name, options.Namespace, cancellationToken: cancellationToken);
        }
        catch (HttpOperationException e) when (Conflicts.IsNotFound(e))
        {
            return null;
        }
    }

    private V1LeaseSpec NewSpec(DateTimeOffset now, DateTime acquireTime, int transitions) => new()
    {
        HolderIdentity = options.Identity,
        LeaseDurationSeconds = (int)Math.Ceiling(options.LeaseDuration.TotalSeconds),
        AcquireTime = acquireTime,
        RenewTime = now.UtcDateTime,
        LeaseTransitions = transitions,
    };

    private void SetLeader(bool leader)
    {
        if (_isLeader == leader)
        {
            return;
        }
        _isLeader = leader;
        if (leader)
        {
            KubeLog.BecameLeader(logger, LeaseName, options.Identity);
        }
        else
        {
            KubeLog.LostLeadership(logger, LeaseName, options.Identity);
        }
        LeadershipChanged?.Invoke(this, leader);
    }
}
