using System.Collections.Immutable;
using BgpLb.Config.Resources;

namespace BgpLb.Config;

/// <summary>What one <see cref="ClusterState.Apply"/> changed: keys to recompute, nothing else.</summary>
public sealed class ClusterDelta
{
    /// <summary>Services ("namespace/name") added, changed or gone.</summary>
    public HashSet<string> Services { get; } = new(StringComparer.Ordinal);

    /// <summary>Services whose endpoint summary changed.</summary>
    public HashSet<string> Endpoints { get; } = new(StringComparer.Ordinal);

    /// <summary>Nodes added, changed or gone.</summary>
    public HashSet<string> Nodes { get; } = new(StringComparer.Ordinal);

    /// <summary>Namespaces whose labels changed (or that appeared or went away).</summary>
    public HashSet<string> Namespaces { get; } = new(StringComparer.Ordinal);

    /// <summary>The compiled configuration before this change, when it changed; null when it did not.</summary>
    public MetalLbConfig? PreviousConfig { get; set; }

    /// <summary>The set of problems changed (new ones to report, or some went away).</summary>
    public bool ProblemsChanged { get; set; }

    public bool ConfigChanged => PreviousConfig is not null;

    /// <summary>How many object changes (upserts and deletes) the batch held.</summary>
    public int Updates { get; set; }

    public bool IsEmpty => Services.Count == 0 && Endpoints.Count == 0 && Nodes.Count == 0 && Namespaces.Count == 0 && !ConfigChanged && !ProblemsChanged;
}

/// <summary>
/// The current state of everything a source holds, kept by key and changed by key: the model records of Services,
/// endpoint summaries, Nodes and Namespaces, and the compiled metallb.io configuration (recompiled when one of its
/// objects, a Secret or a Node changes). Level-based in meaning: the state depends only on the objects present, not on
/// the order of the changes that led there. Not thread-safe: one owner applies batches sequentially.
/// </summary>
public sealed class ClusterState(ConfigOptions options)
{
    private readonly MetalLbCompiler _compiler = new(options);
    private static readonly Interner<EndpointSummary> Summaries = new(10_000);

    private readonly Dictionary<string, ServiceInfo> _services = new(StringComparer.Ordinal);
    // What each slice says, by slice key: its Service and its own summary. The slice records themselves are not kept.
    private readonly Dictionary<string, SliceEntry> _slices = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ServiceEndpoints> _endpoints = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NodeInfo> _nodes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NamespaceInfo> _namespaces = new(StringComparer.Ordinal);
    private readonly Dictionary<ResourceKey, MetalLbObject> _metalLb = [];
    private readonly Dictionary<(string Namespace, string Name), SecretInfo> _secrets = [];
    private L2InterfaceExclusion? _excludedL2Interfaces;
    private readonly Dictionary<string, ImmutableArray<ConfigError>> _sourceProblems = new(StringComparer.Ordinal);
    private ImmutableArray<ConfigError> _validationProblems = [];
    private ImmutableArray<ConfigError>? _problems;
    private ConfigBasis? _basis;

    public MetalLbConfig Config { get; private set; } = MetalLbConfig.Empty;

    /// <summary>What <see cref="Config"/> was compiled from, for judging a change before it is made; null before the first compile. Safe to read from any thread.</summary>
    public ConfigBasis? Basis => Volatile.Read(ref _basis);

    public IReadOnlyDictionary<string, ServiceInfo> Services => _services;

    public IReadOnlyDictionary<string, NodeInfo> Nodes => _nodes;

    public IReadOnlyDictionary<string, NamespaceInfo> Namespaces => _namespaces;

    /// <summary>Every problem: reading (per origin) and validation, in origin order.</summary>
    public ImmutableArray<ConfigError> Problems => _problems ??=
        [.. _sourceProblems.OrderBy(p => p.Key, StringComparer.Ordinal).SelectMany(p => p.Value), .. _validationProblems];

    public bool HasErrors => Problems.Any(p => p.Severity == ConfigSeverity.Error);

    public EndpointSummary EndpointsOf(string service) => _endpoints.TryGetValue(service, out var endpoints) ? endpoints.Summary : EndpointSummary.None;

    public LabelDictionary? NamespaceLabels(string name) => _namespaces.TryGetValue(name, out var ns) ? ns.Labels : null;

    public ClusterDelta Apply(ResourceBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var delta = new ClusterDelta { Updates = batch.Changes.Count };
        var recompile = false;
        foreach (var (key, value) in batch.Changes)
        {
            switch (key.Kind)
            {
                case "Service":
                    SetService(value is ServiceInfo service ? service.Key : key.Namespace + "/" + key.Name, value as ServiceInfo, delta);
                    break;
                case "EndpointSlice":
                    SetSlice(value is EndpointSliceInfo slice ? slice.Key : key.Namespace + "/" + key.Name, value as EndpointSliceInfo, delta);
                    break;
                case "Node":
                    recompile |= Set(_nodes, key.Name, value as NodeInfo, delta.Nodes);
                    break;
                case "Namespace":
                    Set(_namespaces, key.Name, value as NamespaceInfo, delta.Namespaces);
                    break;
                case "Secret":
                    recompile |= Set(_secrets, (key.Namespace, key.Name), value as SecretInfo);
                    break;
                case "ConfigMap":
                    if (key.Namespace == options.MetalLbNamespace && key.Name == L2InterfaceExclusion.ConfigMapName && !Equals(_excludedL2Interfaces, value))
                    {
                        _excludedL2Interfaces = value as L2InterfaceExclusion;
                        recompile = true;
                    }
                    break;
                default:
                    recompile |= Set(_metalLb, key, value as MetalLbObject);
                    break;
            }
        }
        foreach (var (origin, problems) in batch.Problems)
        {
            var before = _sourceProblems.GetValueOrDefault(origin, []);
            if (before.SequenceEqual(problems))
                continue;
            if (problems.IsEmpty)
                _sourceProblems.Remove(origin);
            else
                _sourceProblems[origin] = problems;
            delta.ProblemsChanged = true;
        }
        if (recompile || batch.IsInitial)
            Compile(delta);
        if (batch.IsInitial)
        {
            // Sized exactly once the whole source is in, instead of up to twice what it holds.
            _services.TrimExcess();
            _slices.TrimExcess();
            _endpoints.TrimExcess();
        }
        if (delta.ProblemsChanged)
            _problems = null;
        return delta;
    }

    private void Compile(ClusterDelta delta)
    {
        var (config, problems) = _compiler.Compile(_metalLb, _secrets, _nodes.Values);
        config = config with { ExcludedL2Interfaces = _excludedL2Interfaces ?? L2InterfaceExclusion.Default };
        Volatile.Write(ref _basis, new ConfigBasis(new Dictionary<ResourceKey, MetalLbObject>(_metalLb), _compiler.Accepted,
            new Dictionary<(string, string), SecretInfo>(_secrets), [.. _nodes.Values]));
        if (!problems.SequenceEqual(_validationProblems))
        {
            _validationProblems = problems;
            delta.ProblemsChanged = true;
        }
        if (config != Config)
        {
            delta.PreviousConfig = Config;
            Config = config;
        }
    }

    private void SetService(string key, ServiceInfo? service, ClusterDelta delta)
    {
        if (service is null ? _services.Remove(key) : !(_services.TryGetValue(key, out var old) && old.Equals(service)))
        {
            if (service is not null)
                _services[key] = service;
            delta.Services.Add(key);
        }
    }

    private void SetSlice(string key, EndpointSliceInfo? slice, ClusterDelta delta)
    {
        SliceEntry? entry = slice is null ? null : new SliceEntry(
            slice.Service is { } service && _services.TryGetValue(service, out var info) ? info.Key : slice.Service,
            Summaries.Intern(slice.Summary));
        var exists = _slices.TryGetValue(key, out var old);
        if (exists ? Equals(old, entry) : entry is null)
            return;
        if (entry is { } added)
            _slices[key] = added;
        else
            _slices.Remove(key);
        if (exists && old.Service is { } oldService)
            Detach(oldService, key, delta);
        if (entry is { Service: { } newService })
            Attach(newService, key, delta);
    }

    private void Attach(string service, string slice, ClusterDelta delta)
    {
        if (!_endpoints.TryGetValue(service, out var endpoints))
            _endpoints[service] = endpoints = new ServiceEndpoints();
        endpoints.Add(slice);
        Summarize(service, endpoints, delta);
    }

    private void Detach(string service, string slice, ClusterDelta delta)
    {
        if (!_endpoints.TryGetValue(service, out var endpoints))
            return;
        endpoints.Remove(slice);
        if (endpoints.IsEmpty)
        {
            _endpoints.Remove(service);
            if (!endpoints.Summary.Equals(EndpointSummary.None))
                delta.Endpoints.Add(service);
            return;
        }
        Summarize(service, endpoints, delta);
    }

    private void Summarize(string service, ServiceEndpoints endpoints, ClusterDelta delta)
    {
        var summary = Summaries.Intern(EndpointSummary.Of(endpoints.Slices.Select(s => _slices[s].Summary)));
        if (!summary.Equals(endpoints.Summary))
        {
            endpoints.Summary = summary;
            delta.Endpoints.Add(service);
        }
    }

    private static bool Set<TKey, TValue>(Dictionary<TKey, TValue> map, TKey key, TValue? value, HashSet<TKey>? changed = null)
        where TKey : notnull
        where TValue : class
    {
        if (value is null ? !map.Remove(key) : map.TryGetValue(key, out var old) && old.Equals(value))
            return false;
        if (value is not null)
            map[key] = value;
        changed?.Add(key);
        return true;
    }

    /// <summary>One slice: the Service it belongs to (null without the label) and where it can serve.</summary>
    private readonly record struct SliceEntry(string? Service, EndpointSummary Summary);

    /// <summary>A Service's slices (usually one, held without a list) and their summary.</summary>
    private sealed class ServiceEndpoints
    {
        private object? _slices;

        public EndpointSummary Summary { get; set; } = EndpointSummary.None;

        public bool IsEmpty => _slices is null;

        public IEnumerable<string> Slices => _slices switch
        {
            null => [],
            string one => [one],
            _ => (List<string>)_slices,
        };

        public void Add(string slice)
        {
            switch (_slices)
            {
                case null:
                    _slices = slice;
                    break;
                case string one when one != slice:
                    _slices = new List<string>(2) { one, slice };
                    break;
                case List<string> many when !many.Contains(slice):
                    many.Add(slice);
                    break;
            }
        }

        public void Remove(string slice)
        {
            switch (_slices)
            {
                case string one when one == slice:
                    _slices = null;
                    break;
                case List<string> many:
                    many.Remove(slice);
                    if (many.Count == 1)
                        _slices = many[0];
                    break;
            }
        }
    }
}
