using System.Net;
using System.Net.Http;
using BgpLb.Config;
using BgpLb.Kubernetes;
using BgpLb.L2.Announcing;
using BgpLb.Planning;
using k8s.Autorest;
using k8s.Models;

namespace BgpLb.Speaker.Kubernetes;

/// <summary>
/// Makes the cluster show what this speaker does, off the reconcile loop: the ConfigurationState <c>speaker-NODE</c>
/// when the problems change, one ServiceBGPStatus per Service announced over BGP (its BGPPeers) and one ServiceL2Status
/// per Service answered for in L2 mode (its interfaces), MetalLB's <c>nodeAssigned</c> event when a Service starts
/// being announced from this node, and a Warning <c>announceFailed</c> event when, as far as this node can tell, no node
/// announces an address of the Service (<see cref="AddressPlan.Unannounced"/>), once per change of the reason, or when
/// another host answers for an address this node owns in L2 mode (<see cref="Conflicted"/>, naming that host's MAC).
/// The first write converges every status object of this node (stale ones from an
/// earlier run go); afterwards only the Services that changed are written. Pending writes are kept by Service (the
/// latest wins); a failed write is retried after <see cref="RetryDelay"/>.
/// </summary>
public sealed class SpeakerStatusService(
    SpeakerOptions options, ConfigurationStateWriter configurationState, BgpStatusWriter bgpStatus, L2StatusWriter l2Status, EventRecorder recorder,
    TimeProvider time, ILogger<SpeakerStatusService> logger)
    : BackgroundService, ISpeakerObserver
{
    public static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(5);

    private readonly WakeSignal _wake = new();
    private readonly Lock _gate = new();
    // What this node shows, by Service: kept so that the first write (and a rewrite after failures) can converge the whole set.
    private readonly Dictionary<string, IReadOnlyList<string>> _bgp = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IReadOnlyList<string>> _l2 = new(StringComparer.Ordinal);
    // The addresses this node owns in L2 mode, by Service (with the Service's reference), for the conflict events.
    private readonly Dictionary<string, (V1ObjectReference Service, List<IPAddress> Addresses)> _owned = new(StringComparer.Ordinal);
    private readonly HashSet<string> _dirty = new(StringComparer.Ordinal);
    private readonly List<(V1ObjectReference Service, string Type, string Reason, string Message)> _events = [];
    private ConfigurationSummary? _state;
    private bool _stateDirty;
    private bool _converged;

    public void Applied(SpeakerPass pass)
    {
        ArgumentNullException.ThrowIfNull(pass);
        lock (_gate)
        {
            if (pass.ProblemsChanged)
            {
                _state = ConfigurationSummary.Of(pass.State.Problems);
                _stateDirty = true;
            }
            foreach (var (service, before, after) in pass.Changes.Plans)
            {
                var info = pass.State.Services.GetValueOrDefault(service);
                if (Track(_bgp, service, Peers(after)) && Peers(before) is null && info is not null)
                    _events.Add(Assigned(info, "bgp"));
                if (Track(_l2, service, Interfaces(after)) && Interfaces(before) is null && info is not null)
                    _events.Add(Assigned(info, "layer2"));
                if (Unannounced(after) is { } unannounced && unannounced != Unannounced(before) && info is not null)
                    _events.Add((EventRecorder.Reference(info), EventRecorder.Warning, EventReasons.AnnounceFailed, unannounced));
                if (info is not null && after?.Addresses.Where(a => a.L2 is { Announced: true }).Select(a => a.Address).ToList() is { Count: > 0 } owned)
                    _owned[service] = (EventRecorder.Reference(info), owned);
                else
                    _owned.Remove(service);
                _dirty.Add(service);
            }
        }
        _wake.Set();
    }

    /// <summary>
    /// The L2 announcer found another host answering for an address this node owns: it is not announced, and every Service
    /// with that address gets a Warning naming the other host.
    /// </summary>
    public void Conflicted(AddressConflict conflict)
    {
        ArgumentNullException.ThrowIfNull(conflict);
        lock (_gate)
        {
            foreach (var (service, _) in _owned.Values.Where(o => o.Addresses.Contains(conflict.Address)))
            {
                _events.Add((service, EventRecorder.Warning, EventReasons.AnnounceFailed,
                    $"{conflict.Address} is not announced from node \"{options.NodeName}\": host {conflict.OtherHost} also answers for it on {conflict.Interface} (address conflict)"));
            }
        }
        _wake.Set();
    }

    private (V1ObjectReference, string, string, string) Assigned(ServiceInfo service, string protocol) =>
        (EventRecorder.Reference(service), EventRecorder.Normal, EventReasons.NodeAssigned, $"announcing from node \"{options.NodeName}\" with protocol \"{protocol}\"");

    /// <summary>The first address that no node announces, with the reason (as /status and the log give it); null when there is none.</summary>
    private static string? Unannounced(ServicePlan? plan)
    {
        foreach (var address in plan?.Addresses ?? [])
        {
            if (address.Unannounced is { } reason)
                return $"{address.Address} is announced by no node: {reason} ({(address.Bgp is { Announced: false } bgp ? bgp.Detail : address.L2?.Detail)})";
        }
        return null;
    }

    /// <summary>Records what a Service shows; true when it now shows something.</summary>
    private static bool Track(Dictionary<string, IReadOnlyList<string>> shown, string service, IReadOnlyList<string>? value)
    {
        if (value is null)
        {
            shown.Remove(service);
            return false;
        }
        shown[service] = value;
        return true;
    }

    private static IReadOnlyList<string>? Peers(ServicePlan? plan)
    {
        var announced = plan?.Addresses.Where(a => a.Bgp is { Announced: true }).ToList();
        return announced is { Count: > 0 } ? [.. announced.SelectMany(a => a.Bgp!.Peers).Distinct().Order(StringComparer.Ordinal)] : null;
    }

    private static IReadOnlyList<string>? Interfaces(ServicePlan? plan)
    {
        var owned = plan?.Addresses.Where(a => a.L2 is { Announced: true }).ToList();
        return owned is { Count: > 0 } ? [.. owned.SelectMany(a => a.L2!.Interfaces).Distinct().Order(StringComparer.Ordinal)] : null;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var retry = false;
        while (true)
        {
            using (var delay = retry ? new CancellationTokenSource(RetryDelay, time) : new CancellationTokenSource())
            using (var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, delay.Token))
            {
                try
                {
                    await _wake.WaitAsync(wait.Token);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                    // retry delay elapsed
                }
            }
            retry = !await WriteAsync(stoppingToken);
        }
    }

    /// <summary>Writes everything pending; false when some write failed (it stays pending).</summary>
    private async Task<bool> WriteAsync(CancellationToken cancellationToken)
    {
        ConfigurationSummary? state;
        List<string> dirty;
        List<(V1ObjectReference Service, string Type, string Reason, string Message)> events;
        bool converge;
        lock (_gate)
        {
            state = _stateDirty ? _state : null;
            _stateDirty = false;
            dirty = [.. _dirty];
            _dirty.Clear();
            events = [.. _events];
            _events.Clear();
            converge = !_converged;
        }
        var complete = true;
        if (state is { } s)
        {
            complete &= await TryAsync("the ConfigurationState", () => configurationState.WriteAsync(s, cancellationToken),
                () => _stateDirty = true);
        }
        if (converge)
        {
            List<ServiceBgpStatusEntry> bgp;
            List<ServiceL2StatusEntry> l2;
            lock (_gate)
            {
                bgp = [.. _bgp.Select(p => new ServiceBgpStatusEntry(Namespace(p.Key), Name(p.Key), p.Value))];
                l2 = [.. _l2.Select(p => new ServiceL2StatusEntry(Namespace(p.Key), Name(p.Key), p.Value))];
            }
            var converged = await TryAsync("the ServiceBGPStatus objects", () => bgpStatus.ConvergeAsync(bgp, cancellationToken), () => { })
                && await TryAsync("the ServiceL2Status objects", () => l2Status.ConvergeAsync(l2, cancellationToken), () => { });
            lock (_gate)
                _converged = converged;
            complete &= converged;
        }
        else
        {
            foreach (var service in dirty)
            {
                IReadOnlyList<string>? peers, interfaces;
                lock (_gate)
                {
                    peers = _bgp.GetValueOrDefault(service);
                    interfaces = _l2.GetValueOrDefault(service);
                }
                complete &= await TryAsync($"the status objects of Service {service}", async () =>
                {
                    await bgpStatus.SetAsync(Namespace(service), Name(service), peers, cancellationToken);
                    await l2Status.SetAsync(Namespace(service), Name(service), interfaces, cancellationToken);
                }, () => _dirty.Add(service));
            }
        }
        foreach (var (service, type, reason, message) in events)
            await recorder.RecordAsync(service, type, reason, message, cancellationToken);
        return complete;
    }

    /// <param name="requeue">Runs under the lock when the write failed, to keep it pending.</param>
    private async Task<bool> TryAsync(string what, Func<Task> write, Action requeue)
    {
        try
        {
            await write();
            return true;
        }
        catch (Exception e) when (e is HttpOperationException or HttpRequestException)
        {
            SpeakerKubeLog.WriteFailed(logger, what, RetryDelay, e.Message);
            lock (_gate)
                requeue();
            return false;
        }
    }

    private static string Namespace(string service) => service[..service.IndexOf('/', StringComparison.Ordinal)];

    private static string Name(string service) => service[(service.IndexOf('/', StringComparison.Ordinal) + 1)..];
}
