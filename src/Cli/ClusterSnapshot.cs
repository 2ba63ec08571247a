using System.Collections.Immutable;
using System.Net;
using BgpLb.Allocation;
using BgpLb.Config;
using BgpLb.Controller;
using BgpLb.Hosting;
using BgpLb.Kubernetes;
using BgpLb.StatusApi;
using k8s.Exceptions;
using Microsoft.Extensions.Logging.Abstractions;

namespace BgpLb.Cli;

/// <summary>Where the allocations shown come from.</summary>
public enum AllocationSource
{
    /// <summary>The controller's state file (standalone with bgplb-controller).</summary>
    StateFile,
    /// <summary>No state file: the allocator's result from the configuration, as a speaker without --controller computes it.</summary>
    Computed,
    /// <summary>Kubernetes: what the controller wrote into each Service's status.loadBalancer.ingress.</summary>
    ServiceStatus,
}

/// <summary>
/// The cluster as the daemons see it, read once: the model (<see cref="ClusterState"/>, from the same source and projector
/// the daemons use) and the allocations, computed by the controller's allocator from what the controller persisted
/// (standalone) or wrote into the Services' status (Kubernetes), so that its addresses and reasons are the controller's.
/// </summary>
public sealed class ClusterSnapshot
{
    public ClusterSnapshot(ClusterState state, AllocationSource source, string sourceDescription, StateData persisted, ServiceScope scope,
        IReadOnlyList<SpeakerStatus>? speakers = null)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(persisted);
        ArgumentNullException.ThrowIfNull(scope);
        State = state;
        Source = source;
        SourceDescription = sourceDescription;
        Scope = scope;
        Speakers = speakers ?? [];
        var requests = Allocator.RequestsFor(state.Services.Values, state.NamespaceLabels, scope.LoadBalancerClass)
            .Concat(persisted.External.Select(p => p.Value.ToRequest(p.Key)))
            .ToList();
        Allocations = Allocator.Allocate(state.Config.Pools.AsImmutableArray(), requests, persisted.Addresses());
    }

    public ClusterState State { get; }

    public AllocationSource Source { get; }

    /// <summary>Where the allocations come from, for the output ("state file PATH", "Service status", ...).</summary>
    public string SourceDescription { get; }

    public ServiceScope Scope { get; }

    /// <summary>Kubernetes mode without --speaker: the speakers' /status read through the API server; otherwise empty.</summary>
    public IReadOnlyList<SpeakerStatus> Speakers { get; }

    /// <summary>Kubernetes mode without --speaker: why the speakers' /status could not be read (RBAC), or null.</summary>
    public string? SpeakersUnread { get; init; }

    /// <summary>
    /// Kubernetes mode without --speaker, the pod proxy read: <see cref="Speakers"/> is every Running speaker, so a node
    /// without one runs no speaker.
    /// </summary>
    public bool HasEverySpeaker { get; init; }

    /// <summary>Kubernetes mode, explain: the Service's Events and the speakers' status objects for it.</summary>
    public KubernetesRecords Records { get; init; } = KubernetesRecords.None;

    /// <summary>The allocator's result for every Service of ours (and every external allocation of the state file).</summary>
    public AllocationResult Allocations { get; }

    /// <summary>
    /// The addresses a speaker announces for <paramref name="service"/>: the allocator's (standalone) or the Service's
    /// status (Kubernetes: a speaker announces only what the controller wrote); null when there are none.
    /// </summary>
    public Planning.ServiceAddresses? AddressesOf(string service)
    {
        if (Source == AllocationSource.ServiceStatus)
        {
            return State.Services.TryGetValue(service, out var info) && !info.Ingress.IsEmpty
                ? new Planning.ServiceAddresses(info.Ingress, info.AllocatedFromPool)
                : null;
        }
        return Allocations.Entries.TryGetValue(service, out var entry) && entry.IsAllocated ? new Planning.ServiceAddresses([.. entry.Addresses], entry.Pool) : null;
    }

    /// <summary>Reads the source <paramref name="options"/> name; throws <see cref="SourceUnreachableException"/> when it cannot be read.</summary>
    public static async Task<ClusterSnapshot> LoadAsync(CliOptions options, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var source = options.Source;
        if (source.Directory is { } directory)
        {
            var fileOptions = new ConfigOptions { WatchFileSystem = false };
            var state = await ReadAsync(new FileStore(directory, fileOptions, TimeProvider.System, NullLogger<FileStore>.Instance), fileOptions,
                $"--config {directory}", timeout, cancellationToken);
            var stateFile = options.StateFile!;
            if (!File.Exists(stateFile))
                return new ClusterSnapshot(state, AllocationSource.Computed, $"computed by the allocator: no state file {stateFile}", StateData.Empty, options.Scope);
            try
            {
                using var file = new StateFile(stateFile);
                return new ClusterSnapshot(state, AllocationSource.StateFile, $"state file {stateFile}", file.Read(out _), options.Scope);
            }
            catch (StateFileException e)
            {
                throw new SourceUnreachableException(e.Message);
            }
        }
        k8s.IKubernetes client;
        try
        {
            client = KubernetesClientFactory.Create(source.Kubeconfig, source.InCluster);
        }
        catch (Exception e) when (e is KubeConfigException or IOException or ArgumentException)
        {
            throw new SourceUnreachableException($"{(source.InCluster ? "--in-cluster" : "--kubeconfig " + source.Kubeconfig)}: {e.Message}");
        }
        using (client)
        {
            var kubeOptions = new ConfigOptions { MetalLbNamespace = options.SystemNamespace, ReadSecrets = false };
            var store = new KubeStore(client, kubeOptions, new KubeStoreOptions(), TimeProvider.System, NullLogger<KubeStore>.Instance);
            var state = await ReadAsync(store, kubeOptions, $"the API server {client.BaseUri}", timeout, cancellationToken);
            var (speakers, speakersUnread) = options.Speakers.Count == 0
                ? await KubernetesSpeakers.ReadAllAsync(client, options.SystemNamespace, timeout, cancellationToken)
                : ([], null);
            var records = options.Service is { } service
                ? await KubernetesRecords.ReadAsync(client, options.SystemNamespace, service, timeout, cancellationToken)
                : KubernetesRecords.None;
            return new ClusterSnapshot(state, AllocationSource.ServiceStatus, "Service status", StateData.Empty, options.Scope, speakers)
            {
                SpeakersUnread = speakersUnread,
                HasEverySpeaker = options.Speakers.Count == 0 && speakersUnread is null,
                Records = records,
            };
        }
    }

    /// <summary>The source's first batch (everything it holds), applied to a new <see cref="ClusterState"/>.</summary>
    private static async Task<ClusterState> ReadAsync(
        IResourceSource source, ConfigOptions configOptions, string description, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await foreach (var batch in source.WatchAsync(deadline.Token))
            {
                var state = new ClusterState(configOptions);
                state.Apply(batch);
                return state;
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }
        throw new SourceUnreachableException($"{description}: nothing read within {timeout.TotalSeconds:0} s");
    }
}

/// <summary>A source named on the command line cannot be read (exit 2); the message names it and why.</summary>
public sealed class SourceUnreachableException(string message, Exception? inner = null) : Exception(message, inner);
