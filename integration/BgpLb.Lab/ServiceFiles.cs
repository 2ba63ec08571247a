using System.Diagnostics;
using System.Net;

namespace BgpLb.Netlab;

/// <summary>
/// A bgplb-speaker config directory holding many Services, for the lab benchmarks (bench-churn, bench-bfd-jitter), in
/// flow-style YAML (small files even at 100k Services): lab.yaml with the node, one pool, the BGPPeer (optionally with
/// a BFDProfile) and a BGPAdvertisement; services.yaml with N Services from 198.18.16.0 upwards, each with a ready
/// endpoint on the node; and single files that changes write (under a temporary name, then renamed into place: the
/// speaker sees one IN_MOVED_TO) or delete. The addresses are inside the benchmarking range 198.18.0.0/15, clear of the
/// lab's links (203.0.113.0/24 holds only 256), and reach no further than the lab's router namespace.
/// </summary>
internal sealed class ServiceFiles(string directory, string nodeName)
{
    /// <summary>The first of the N loaded Services' addresses.</summary>
    public static readonly uint LoadedBase = RouteMonitor.Key(IPAddress.Parse("198.18.16.0"));

    /// <summary>Also in the pool, never loaded: the addresses of the Services that changes add.</summary>
    private const string ChangeRange = "198.19.192.0/18";

    public string Directory { get; } = directory;

    public string NodeName { get; } = nodeName;

    /// <summary>The addresses of <paramref name="count"/> loaded Services.</summary>
    public static HashSet<uint> Loaded(int count) => [.. Enumerable.Range(0, count).Select(i => LoadedBase + (uint)i)];

    /// <summary>Writes lab.yaml: the node, the pool for <paramref name="services"/> loaded Services and the changes, the BGPPeer towards the node's router (with a BFDProfile "bench" when <paramref name="bfd"/>) and the advertisement.</summary>
    public async Task WriteLabAsync(LabNode node, int services, uint speakerAs, uint routerAs, BfdTimers? bfd, CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var last = RouteMonitor.Address(LoadedBase + (uint)services - 1);
        await File.WriteAllTextAsync(Path.Combine(Directory, "lab.yaml"), $$$"""
            apiVersion: v1
            kind: Node
            metadata: {name: {{{NodeName}}}, labels: {kubernetes.io/hostname: {{{NodeName}}}}}
            status: {addresses: [{type: InternalIP, address: {{{node.Address}}}}]}
            ---
            apiVersion: metallb.io/v1beta1
            kind: IPAddressPool
            metadata: {name: bench, namespace: metallb-system}
            spec: {addresses: ["198.18.16.0-{{{last}}}", "{{{ChangeRange}}}"]}
            ---
            apiVersion: metallb.io/v1beta2
            kind: BGPPeer
            metadata: {name: router, namespace: metallb-system}
            spec: {myASN: {{{speakerAs}}}, peerASN: {{{routerAs}}}, peerAddress: {{{node.RouterAddress}}}{{{(bfd is null ? "" : ", bfdProfile: bench")}}}}
            ---
            apiVersion: metallb.io/v1beta1
            kind: BGPAdvertisement
            metadata: {name: bench, namespace: metallb-system}
            spec: {ipAddressPools: [bench]}
            {{{(bfd is null ? "" : "---\n" + bfd.Profile("bench"))}}}

            """, cancellationToken);
    }

    /// <summary>Writes services.yaml: <paramref name="count"/> Services svc-I on <see cref="LoadedBase"/> + I, each with its slice.</summary>
    public async Task WriteServicesAsync(int count, CancellationToken cancellationToken)
    {
        await using var services = new StreamWriter(Path.Combine(Directory, "services.yaml"));
        for (var i = 0; i < count; i++)
        {
            await services.WriteAsync((ServiceYaml($"svc-{i}", LoadedBase + (uint)i) + SliceYaml($"svc-{i}", ready: true)).AsMemory(), cancellationToken);
        }
    }

    public static string ServiceYaml(string name, uint address) => $$$"""
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: {{{name}}}, namespace: default}
        spec: {type: LoadBalancer, selector: {app: {{{name}}}}, ports: [{port: 80, targetPort: 8080, protocol: TCP}]}
        status: {loadBalancer: {ingress: [{ip: {{{RouteMonitor.Address(address)}}}}]}}

        """;

    /// <summary>The EndpointSlice of <paramref name="service"/>: one endpoint on the node, ready or not.</summary>
    public string SliceYaml(string service, bool ready) => $$$"""
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: {{{service}}}-{{{NodeName}}}, namespace: default, labels: {kubernetes.io/service-name: {{{service}}}}}
        addressType: IPv4
        endpoints: [{addresses: [10.0.0.1], conditions: {ready: {{{(ready ? "true" : "false")}}}}, nodeName: {{{NodeName}}}}]
        ports: [{port: 8080, protocol: TCP}]

        """;

    /// <summary>Writes a file under a name the speaker ignores, then renames it into place (one IN_MOVED_TO).</summary>
    public void WriteAtomically(string name, string content) => WriteAtomically(Directory, name, content);

    /// <inheritdoc cref="WriteAtomically(string, string)"/>
    public static void WriteAtomically(string directory, string name, string content)
    {
        var temporary = Path.Combine(directory, "." + name + ".tmp");
        File.WriteAllText(temporary, content);
        File.Move(temporary, Path.Combine(directory, name), overwrite: true);
    }

    public void Delete(string name) => File.Delete(Path.Combine(Directory, name));
}

/// <summary>One change a <see cref="FileStorm"/> made: the Service's address, added or removed, and the monotonic clock before and after the file system call.</summary>
internal readonly record struct FileChange(long Before, long Timestamp, uint Address, bool Added);

/// <summary>
/// Service files of a pool taking turns at a fixed rate (bench-churn's file-rate series, bench-bfd-jitter's change
/// storm): change k adds the next file of the pool (k even) or deletes the oldest one (k odd), so that half the pool is
/// present throughout. Files rate-SLOT.yaml, each a Service on <c>baseAddress + SLOT</c> and its slice.
/// </summary>
internal sealed class FileStorm
{
    private readonly ServiceFiles _files;
    private readonly uint _baseAddress;
    private readonly string[] _contents;

    public FileStorm(ServiceFiles files, uint baseAddress, int pool)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pool, 2);
        _files = files;
        _baseAddress = baseAddress;
        _contents = [.. Enumerable.Range(0, pool).Select(slot => ServiceFiles.ServiceYaml($"rate-{slot}", baseAddress + (uint)slot) + files.SliceYaml($"rate-{slot}", ready: true))];
    }

    public int Pool => _contents.Length;

    private int Window => Pool / 2;

    /// <summary>Writes the first half of the pool (present before the first change); returns their addresses.</summary>
    public IReadOnlyList<uint> Prefill()
    {
        for (var slot = 0; slot < Window; slot++)
        {
            _files.WriteAtomically(FileName(slot), _contents[slot]);
        }

        return [.. Enumerable.Range(0, Window).Select(slot => _baseAddress + (uint)slot)];
    }

    /// <summary>
    /// Makes <paramref name="total"/> changes at <paramref name="rate"/> per second from <paramref name="start"/> (a
    /// <see cref="Stopwatch"/> timestamp) on a dedicated thread: change k is due at start + k / rate; the thread sleeps
    /// 1 ms whenever it is ahead and catches up in bursts when it falls behind. Changes left undone because
    /// <paramref name="stop"/> was requested have a zero <see cref="FileChange.Timestamp"/>.
    /// </summary>
    public Task<FileChange[]> RunAsync(int rate, int total, long start, CancellationToken stop)
    {
        var changes = new FileChange[total];
        var done = new TaskCompletionSource<FileChange[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        var writer = new Thread(() =>
        {
            try
            {
                for (var k = 0; k < total && !stop.IsCancellationRequested; k++)
                {
                    var due = start + (long)((double)k * Stopwatch.Frequency / rate);
                    while (Stopwatch.GetTimestamp() < due)
                    {
                        Thread.Sleep(1);
                    }

                    changes[k] = Change(k);
                }

                done.TrySetResult(changes);
            }
            catch (Exception e)
            {
                // A writer that fails ends the storm with its exception instead of the process.
                done.TrySetException(e);
            }
        })
        { IsBackground = true, Name = "file-storm" };
        writer.Start();
        return done.Task;
    }

    private FileChange Change(int k)
    {
        var pair = k / 2;
        var adding = k % 2 == 0;
        var slot = adding ? (Window + pair) % Pool : pair % Pool;
        var before = Stopwatch.GetTimestamp();
        if (adding)
        {
            _files.WriteAtomically(FileName(slot), _contents[slot]);
        }
        else
        {
            _files.Delete(FileName(slot));
        }

        return new FileChange(before, Stopwatch.GetTimestamp(), _baseAddress + (uint)slot, adding);
    }

    private static string FileName(int slot) => $"rate-{slot}.yaml";
}
