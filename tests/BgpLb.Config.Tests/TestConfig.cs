using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BgpLb.Config.Tests;

/// <summary>What a directory compiled to: the configuration and every problem (reading and validation).</summary>
internal sealed record Compiled(MetalLbConfig Config, ImmutableArray<ConfigError> Problems, ClusterState State)
{
    public IEnumerable<ConfigError> Errors => Problems.Where(p => p.Severity == ConfigSeverity.Error);

    public bool HasErrors => Errors.Any();
}

/// <summary>
/// A temporary configuration directory read by the real <see cref="FileStore"/> (no file-system watch: every
/// <see cref="Apply"/> rescans) into a real <see cref="ClusterState"/>. Every write gets its own modification time, so
/// that a rescan always sees a changed file even when its length did not change within one clock tick.
/// </summary>
internal sealed class ConfigDirectory : IDisposable
{
    private static readonly DateTime BaseTime = new(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private int _writes;

    public ConfigDirectory(ConfigOptions? options = null)
    {
        Options = (options ?? new ConfigOptions()) with { WatchFileSystem = false };
        Path = Directory.CreateTempSubdirectory("bgplb-config-").FullName;
        Store = new FileStore(Path, Options, TimeProvider.System, NullLogger<FileStore>.Instance);
        State = new ClusterState(Options);
    }

    public ConfigOptions Options { get; }
    public string Path { get; }
    public FileStore Store { get; }
    public ClusterState State { get; }

    public ResourceBatch? LastBatch { get; private set; }
    public ClusterDelta? LastDelta { get; private set; }

    public string PathOf(string file) => System.IO.Path.Combine(Path, file);

    /// <summary>Writes <paramref name="file"/> (creating or replacing it) with a modification time no earlier write had.</summary>
    public void Write(string file, string yaml)
    {
        var path = PathOf(file);
        File.WriteAllText(path, yaml);
        File.SetLastWriteTimeUtc(path, BaseTime.AddSeconds(++_writes));
    }

    public void Delete(string file) => File.Delete(PathOf(file));

    /// <summary>Rescans the directory into the state; returns the batch the store emitted.</summary>
    public ResourceBatch Rescan()
    {
        LastBatch = Store.Rescan();
        LastDelta = State.Apply(LastBatch);
        return LastBatch;
    }

    /// <summary>The directory holds exactly <paramref name="files"/> now (unchanged files are not touched); rescans.</summary>
    public Compiled Apply(params (string File, string Yaml)[] files)
    {
        var wanted = files.ToDictionary(f => f.File, f => f.Yaml, StringComparer.Ordinal);
        foreach (var existing in Directory.EnumerateFiles(Path))
        {
            if (!wanted.ContainsKey(System.IO.Path.GetFileName(existing)))
                File.Delete(existing);
        }
        foreach (var (file, yaml) in wanted)
        {
            if (!File.Exists(PathOf(file)) || File.ReadAllText(PathOf(file)) != yaml)
                Write(file, yaml);
        }
        Rescan();
        return Result();
    }

    public Compiled Result() => new(State.Config, State.Problems, State);

    /// <summary>A fresh FileStore's first batch (<see cref="ResourceBatch.IsInitial"/>) applied to a fresh ClusterState.</summary>
    public ClusterState ReadFromScratch()
    {
        var store = new FileStore(Path, Options, TimeProvider.System, NullLogger<FileStore>.Instance);
        var batches = store.WatchAsync(CancellationToken.None).GetAsyncEnumerator(CancellationToken.None);
        // The first batch is read before the enumerator first yields: nothing here waits.
        var moved = batches.MoveNextAsync();
        Assert.True(moved.IsCompletedSuccessfully && moved.Result);
        var first = batches.Current;
        var disposed = batches.DisposeAsync();
        Assert.True(disposed.IsCompletedSuccessfully);
        Assert.True(first.IsInitial);
        var state = new ClusterState(Options);
        state.Apply(first);
        return state;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

internal static class TestConfig
{
    /// <summary>Nine levels of nine aliases: 9^9 (387 million) strings once expanded.</summary>
    public const string BillionLaughs = """
        a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
        b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
        c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
        d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
        e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
        f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
        g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
        h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
        i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
        """;

    public const string Ns = "metallb-system";

    /// <summary>Compiles one file, test.yaml, read from a fresh directory.</summary>
    public static Compiled Compile(string yaml, ConfigOptions? options = null) => Compile(options, ("test.yaml", yaml));

    public static Compiled Compile(ConfigOptions? options, params (string File, string Yaml)[] files)
    {
        using var directory = new ConfigDirectory(options);
        return directory.Apply(files);
    }

    /// <summary>
    /// The problems other than the warning about a pool that no advertisement selects (tested in <see cref="ConfigReporterTests"/>),
    /// for tests of configurations that need no advertisement.
    /// </summary>
    public static IEnumerable<ConfigError> ExceptUnadvertised(this IEnumerable<ConfigError> problems) =>
        problems.Where(p => !p.Message.StartsWith(MetalLbCompiler.UnadvertisedPool, StringComparison.Ordinal));

    public static ConfigError SingleError(Compiled compiled)
    {
        var errors = compiled.Errors.ToList();
        Assert.True(errors.Count == 1, "expected one error, got: " + string.Join(" | ", compiled.Problems));
        return errors[0];
    }

    /// <summary>Origins are full paths: <paramref name="file"/> is compared with the origin's file name.</summary>
    public static void AssertError(ConfigError error, string kind, string name, string field, string messagePart, string file = "test.yaml")
    {
        Assert.Equal(ConfigSeverity.Error, error.Severity);
        Assert.Equal(file, Path.GetFileName(error.Origin));
        Assert.True(Path.IsPathFullyQualified(error.Origin), error.Origin);
        Assert.Equal(new ResourceKey(kind, Ns, name), error.Resource);
        Assert.Equal(field, error.Field);
        Assert.Contains(messagePart, error.Message, StringComparison.Ordinal);
        var text = error.ToString();
        Assert.StartsWith(error.Origin + ":", text, StringComparison.Ordinal);
        Assert.Contains($"{kind} {Ns}/{name}", text, StringComparison.Ordinal);
        Assert.Contains(field, text, StringComparison.Ordinal);
    }

    /// <summary>The changes one YAML text stands for, projected by the real parser (origin "test").</summary>
    public static ResourceChange[] Changes(string yaml, ConfigOptions? options = null)
    {
        var parsed = ManifestParser.Parse("test", yaml, options ?? new ConfigOptions());
        Assert.Empty(parsed.Errors);
        return [.. parsed.Objects.Select(o => new ResourceChange(o.Key, o.Value))];
    }

    public static ResourceBatch Batch(params ResourceChange[] changes)
    {
        var batch = new ResourceBatch();
        batch.Changes.AddRange(changes);
        return batch;
    }

    public static ResourceBatch Batch(string yaml) => Batch(Changes(yaml));

    public static ResourceChange Deleted(string kind, string ns, string name) => new(new ResourceKey(kind, ns, name), null);

    public static string Pool(string name, string addresses, string extra = "") => $"""
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata:
          name: {name}
          namespace: metallb-system
          labels:
            pool: {name}
        spec:
          addresses: {addresses}
        {extra}
        ---

        """;

    public static string Peer(string name, string spec) => $"""
        apiVersion: metallb.io/v1beta2
        kind: BGPPeer
        metadata:
          name: {name}
          namespace: metallb-system
        spec:
        {Indent(spec)}
        ---

        """;

    public static string Advertisement(string name, string spec) => $"""
        apiVersion: metallb.io/v1beta1
        kind: BGPAdvertisement
        metadata:
          name: {name}
          namespace: metallb-system
        spec:
        {Indent(spec)}
        ---

        """;

    public static string Crd(string kind, string name, string spec, string apiVersion = "metallb.io/v1beta1") => $"""
        apiVersion: {apiVersion}
        kind: {kind}
        metadata:
          name: {name}
          namespace: metallb-system
        spec:
        {Indent(spec)}
        ---

        """;

    public static string Secret(string name, string password = "pw") =>
        $"apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: metallb-system}}\ntype: kubernetes.io/basic-auth\nstringData: {{password: {password}}}\n---\n";

    public static string Node(string name, string labels = "{}", string status = "{}") =>
        $"apiVersion: v1\nkind: Node\nmetadata: {{name: {name}, labels: {labels}}}\nstatus: {status}\n---\n";

    public static string LoadBalancer(string name, string spec = "", string metadata = "", string ns = "default") =>
        $"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {ns}{(metadata.Length == 0 ? "" : ", " + metadata)}}}\nspec: {{type: LoadBalancer{(spec.Length == 0 ? "" : ", " + spec)}}}\n---\n";

    /// <summary>An EndpointSlice of <paramref name="service"/>; <paramref name="endpoints"/> is a YAML flow list.</summary>
    public static string Slice(string name, string service, string endpoints, string ns = "default") =>
        $"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: {name}, namespace: {ns}, labels: {{kubernetes.io/service-name: {service}}}}}\naddressType: IPv4\nendpoints: {endpoints}\n---\n";

    public const string GoodPeerSpec = """
        myASN: 64513
        peerASN: 64512
        peerAddress: 198.18.0.1
        """;

    private static string Indent(string spec) =>
        string.Join('\n', spec.Split('\n').Select(l => "  " + l));
}

/// <summary>Disposes <paramref name="inner"/> within <paramref name="timeout"/>: the implicit await of <c>await using</c> is bounded too.</summary>
internal sealed class BoundedDisposal(IAsyncDisposable inner, TimeSpan timeout) : IAsyncDisposable
{
    public async ValueTask DisposeAsync() => await inner.DisposeAsync().AsTask().WaitAsync(timeout);
}

/// <summary>Collects log lines (thread-safe).</summary>
internal sealed class ListLogger<T> : ILogger<T>
{
    private readonly List<(LogLevel Level, EventId Id, string Text)> _entries = [];

    public IReadOnlyList<(LogLevel Level, EventId Id, string Text)> Entries
    {
        get
        {
            lock (_entries)
                return [.. _entries];
        }
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_entries)
            _entries.Add((logLevel, eventId, formatter(state, exception)));
    }
}
