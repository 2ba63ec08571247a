using System.Collections.Immutable;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace BgpLb.Config;

/// <summary>
/// Resource source over a directory of Kubernetes-style YAML (every *.yaml / *.yml, not recursive, multi-document).
/// Only files that changed are read again, and of those only documents whose content changed are projected again; the
/// batch holds exactly the objects that appeared, changed or went away. Changes are noticed through inotify (a file is
/// read as soon as its writer closes it or renames it into place; a file modified but left open is read after
/// <see cref="ConfigOptions.WriteSettle"/>; a mounted ConfigMap's "..data" swap rescans at once) and a periodic rescan in
/// case events are lost.
/// A key defined in two files is taken from the file that defined it first (at start: the first in name order); the
/// other definition is reported and ignored until the first goes away. An object that cannot be read keeps its last
/// good version, and so does every object of a file that cannot be read at all (a YAML syntax error, a file or document over the size limits of <see cref="Yaml.YamlReaderOptions"/>).
/// One reader at a time.
/// </summary>
public sealed class FileStore(string directory, ConfigOptions options, TimeProvider time, ILogger<FileStore> logger) : IResourceSource
{
    private readonly Dictionary<string, FileState> _files = new(StringComparer.Ordinal);
    private readonly Dictionary<ResourceKey, string> _owners = [];
    private readonly Dictionary<ResourceKey, SortedSet<string>> _duplicates = [];
    private readonly Lock _gate = new();
    private readonly Dictionary<string, FileEvent> _events = new(StringComparer.Ordinal);
    private readonly Channel<bool> _signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private bool _rescanRequested;
    private long _lastModified;
    private ImmutableArray<ConfigError> _directoryProblems = [];

    public string Directory { get; } = Path.GetFullPath(directory);

    public async IAsyncEnumerable<ResourceBatch> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var watcher = StartWatcher();
        var first = new ResourceBatch { IsInitial = true };
        Rescan(first);
        _owners.TrimExcess();
        yield return first;
        while (true)
        {
            var due = await WaitForChangesAsync(cancellationToken);
            // A file that seems gone may only have become unreachable (the directory lost its permissions): the listing
            // tells, and an unreadable directory keeps every object in force.
            var rescan = due.Rescan || due.Files.Any(f => FileStamp.Of(f) is null);
            var batch = rescan ? Rescan() : new ResourceBatch();
            if (!rescan)
                Read(due.Files, batch);
            if (!batch.IsEmpty)
            {
                ConfigLog.DirectoryChanged(logger, Directory, batch.Changes.Count);
                yield return batch;
            }
        }
    }

    private DirectoryWatcher? StartWatcher()
    {
        if (!options.WatchFileSystem)
            return null;
        try
        {
            return new DirectoryWatcher(Directory, OnFileEvent);
        }
        catch (Exception e) when (e is Win32Exception or DllNotFoundException or EntryPointNotFoundException)
        {
            ConfigLog.WatcherFailed(logger, Directory, e.Message);
            return null;
        }
    }

    private void OnFileEvent(string? name, FileEvent kind)
    {
        lock (_gate)
        {
            // kubelet updates a mounted ConfigMap by renaming a new "..data" link into place; the manifests are links
            // through it, so their own names see no event.
            if (kind == FileEvent.Rescan || (kind != FileEvent.Modified && name!.StartsWith("..", StringComparison.Ordinal)))
            {
                _rescanRequested = true;
            }
            else if (IsManifest(name!))
            {
                var path = Path.Combine(Directory, name!);
                // A complete write or a removal settles the file; a modification only counts until one of those comes.
                if (kind != FileEvent.Modified || !_events.TryGetValue(path, out var earlier) || earlier == FileEvent.Modified)
                    _events[path] = kind;
                if (kind == FileEvent.Modified)
                    _lastModified = time.GetTimestamp();
            }
            else
            {
                return;
            }
        }
        _signal.Writer.TryWrite(true);
    }

    private readonly record struct Due(bool Rescan, List<string> Files);

    /// <summary>
    /// Waits until a file is complete (then <see cref="ConfigOptions.Debounce"/> more, so that files written together
    /// are read together), a modified file has been quiet for <see cref="ConfigOptions.WriteSettle"/>, or the rescan
    /// interval has passed.
    /// </summary>
    private async Task<Due> WaitForChangesAsync(CancellationToken cancellationToken)
    {
        var rescanAt = time.GetTimestamp() + (long)(options.RescanInterval.TotalSeconds * time.TimestampFrequency);
        while (true)
        {
            TimeSpan wait;
            lock (_gate)
            {
                if (_rescanRequested)
                {
                    _rescanRequested = false;
                    _events.Clear();
                    return new Due(true, []);
                }
                var settled = time.GetElapsedTime(_lastModified) >= options.WriteSettle;
                var ready = _events.Where(e => e.Value != FileEvent.Modified || settled).Select(e => e.Key).ToList();
                if (ready.Count > 0)
                {
                    foreach (var file in ready)
                        _events.Remove(file);
                    return new Due(false, ready);
                }
                var untilRescan = time.GetElapsedTime(time.GetTimestamp(), rescanAt);
                if (untilRescan <= TimeSpan.Zero)
                    return new Due(true, []);
                wait = _events.Count > 0 ? Min(untilRescan, options.WriteSettle - time.GetElapsedTime(_lastModified)) : untilRescan;
                wait = wait < MinimumWait ? MinimumWait : wait;
            }
            using var timeout = new CancellationTokenSource(wait, time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            try
            {
                await _signal.Reader.ReadAsync(linked.Token);
                if (options.Debounce > TimeSpan.Zero)
                    await Task.Delay(options.Debounce, time, cancellationToken);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // the wait ran out: look again
            }
        }
    }

    private static readonly TimeSpan MinimumWait = TimeSpan.FromMilliseconds(1);

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>Lists the directory and reads every file that is new, gone or different from when it was read.</summary>
    internal ResourceBatch Rescan()
    {
        var batch = new ResourceBatch();
        Rescan(batch);
        return batch;
    }

    private void Rescan(ResourceBatch batch)
    {
        List<string> files;
        try
        {
            files = [.. System.IO.Directory.EnumerateFiles(Directory).Where(f => IsManifest(Path.GetFileName(f))).Order(StringComparer.Ordinal)];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Every object last seen stays: the whole directory is unreadable.
            ReportDirectory([new ConfigError(ConfigSeverity.Error, Directory, null, null, $"cannot list the configuration directory: {e.Message}")], batch);
            return;
        }
        ReportDirectory([], batch);
        var changed = files.Where(f => !_files.TryGetValue(f, out var state) || state.Stamp != FileStamp.Of(f)).ToList();
        var present = files.ToHashSet(StringComparer.Ordinal);
        changed.AddRange(_files.Keys.Where(f => !present.Contains(f)));
        Read(changed, batch);
    }

    /// <summary>Problems are handed out when they change, so that a rescan that finds nothing new yields an empty batch.</summary>
    private void ReportDirectory(ImmutableArray<ConfigError> problems, ResourceBatch batch)
    {
        if (problems.SequenceEqual(_directoryProblems))
            return;
        _directoryProblems = problems;
        batch.Problems[Directory] = problems;
    }

    /// <summary>Reads <paramref name="files"/> (a missing file is a removed one), then whatever a change of ownership needs.</summary>
    private void Read(IEnumerable<string> files, ResourceBatch batch)
    {
        var pending = new SortedDictionary<string, HashSet<ResourceKey>>(StringComparer.Ordinal);
        foreach (var file in files)
            pending.TryAdd(file, []);
        while (pending.Count > 0)
        {
            var (file, takeovers) = pending.First();
            pending.Remove(file);
            foreach (var (next, keys) in ReadFile(file, takeovers, batch))
            {
                if (!pending.TryGetValue(next, out var set))
                    pending[next] = set = [];
                set.UnionWith(keys);
            }
        }
    }

    /// <summary>
    /// Reads one file and records what changed in <paramref name="batch"/>. Returns the other files that now define a
    /// key this file gave up (they must be read for it, with the keys they take over).
    /// </summary>
    private Dictionary<string, HashSet<ResourceKey>> ReadFile(string file, HashSet<ResourceKey> takeovers, ResourceBatch batch)
    {
        var handovers = new Dictionary<string, HashSet<ResourceKey>>(StringComparer.Ordinal);
        _files.TryGetValue(file, out var old);
        var stamp = FileStamp.Of(file);
        ManifestParseResult parsed;
        if (stamp is null)
        {
            parsed = new ManifestParseResult([], [], Unreadable: false);
        }
        else
        {
            try
            {
                using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 64 * 1024);
                parsed = ManifestParser.Parse(file, stream, options,
                    fingerprint => old is not null && old.Documents.TryGetValue(fingerprint, out var known)
                        && !old.Shadowed.Contains(fingerprint) && known.ToArray() is var keys && !keys.Any(takeovers.Contains) ? keys : null);
            }
            catch (FileNotFoundException)
            {
                stamp = null;
                parsed = new ManifestParseResult([], [], Unreadable: false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                parsed = new ManifestParseResult([], [new ConfigError(ConfigSeverity.Error, file, null, null, $"cannot read file: {e.Message}")], Unreadable: true);
            }
        }

        if (parsed.Unreadable)
        {
            // Keep every object of the file as it was; only the problem is new.
            if (old is null)
                _files[file] = old = new FileState(stamp, [], []);
            old.Stamp = stamp;
            if (!old.Problems.SequenceEqual(parsed.Errors))
                batch.Problems[file] = old.Problems = [.. parsed.Errors];
            return handovers;
        }

        var problems = new List<ConfigError>();
        var documents = new Dictionary<ulong, DocumentKeys>(parsed.Documents.Count);
        var documentProblems = new Dictionary<ulong, ImmutableArray<ConfigError>>();
        var shadowed = new HashSet<ulong>();
        var defined = new HashSet<ResourceKey>();
        foreach (var document in parsed.Documents)
        {
            documents.TryAdd(document.Fingerprint, DocumentKeys.Of(document.Keys));
            ImmutableArray<ConfigError> ownProblems = document.Projection is { Problems.Count: > 0 } projection ? [.. projection.Problems]
                : document.Projection is not null ? []
                : old is not null && old.DocumentProblems.TryGetValue(document.Fingerprint, out var known) ? known
                : [];
            if (!ownProblems.IsEmpty)
                documentProblems[document.Fingerprint] = ownProblems;
            problems.AddRange(ownProblems);
            foreach (var key in document.Keys)
            {
                if (!defined.Add(key))
                {
                    problems.Add(new ConfigError(ConfigSeverity.Error, file, key, "metadata.name",
                        "duplicate object: already defined earlier in this file; this definition is ignored", document.Line));
                    shadowed.Add(document.Fingerprint);
                    continue;
                }
                if (_owners.TryGetValue(key, out var owner) && owner != file)
                {
                    if (!_duplicates.TryGetValue(key, out var others))
                        _duplicates[key] = others = new SortedSet<string>(StringComparer.Ordinal);
                    others.Add(file);
                    problems.Add(new ConfigError(ConfigSeverity.Error, file, key, "metadata.name",
                        $"duplicate object: already defined in {owner}; this definition is ignored", document.Line));
                    shadowed.Add(document.Fingerprint);
                    continue;
                }
                _owners[key] = file;
                // A document read again (new or changed content) says the key's new value; an unreadable object keeps its last good one.
                foreach (var projected in document.Projection?.Objects ?? [])
                {
                    if (projected.Key == key)
                        batch.Changes.Add(new ResourceChange(key, projected.Value));
                }
            }
        }

        foreach (var key in old?.Documents.Values.SelectMany(k => k.ToArray()).Where(k => !defined.Contains(k)).Distinct() ?? [])
        {
            if (_owners.TryGetValue(key, out var owner) && owner == file)
            {
                if (_duplicates.TryGetValue(key, out var others) && others.Count > 0)
                {
                    var next = others.Min!;
                    others.Remove(next);
                    if (others.Count == 0)
                        _duplicates.Remove(key);
                    _owners[key] = next;
                    if (!handovers.TryGetValue(next, out var keys))
                        handovers[next] = keys = [];
                    keys.Add(key);
                    // The other duplicates' problems name the owner: they are read again to name the new one.
                    foreach (var other in others)
                        handovers.TryAdd(other, []);
                }
                else
                {
                    _owners.Remove(key);
                    batch.Changes.Add(new ResourceChange(key, null));
                }
            }
            else if (_duplicates.TryGetValue(key, out var others))
            {
                others.Remove(file);
                if (others.Count == 0)
                    _duplicates.Remove(key);
            }
        }

        if (!(old?.Problems ?? []).SequenceEqual(problems))
            batch.Problems[file] = [.. problems];
        if (stamp is null)
            _files.Remove(file);
        else
            _files[file] = new FileState(stamp, documents, documentProblems) { Problems = [.. problems], Shadowed = shadowed };
        return handovers;
    }

    private static bool IsManifest(string name) =>
        name.EndsWith(".yaml", StringComparison.Ordinal) || name.EndsWith(".yml", StringComparison.Ordinal);

    /// <summary>The keys of one document: nearly always one, held without an array.</summary>
    private readonly record struct DocumentKeys(ResourceKey Only, ResourceKey[]? Many)
    {
        public static DocumentKeys Of(ResourceKey[] keys) => keys.Length == 1 ? new(keys[0], null) : new(default, keys);

        public ResourceKey[] ToArray() => Many ?? [Only];
    }

    private sealed class FileState(FileStamp? stamp, Dictionary<ulong, DocumentKeys> documents, Dictionary<ulong, ImmutableArray<ConfigError>> documentProblems)
    {
        public FileStamp? Stamp { get; set; } = stamp;
        /// <summary>The keys of each document, by fingerprint.</summary>
        public Dictionary<ulong, DocumentKeys> Documents { get; } = documents;
        /// <summary>Problems of the documents that have any, by fingerprint (unchanged documents are not read again).</summary>
        public Dictionary<ulong, ImmutableArray<ConfigError>> DocumentProblems { get; } = documentProblems;
        /// <summary>The file's problems as last handed out.</summary>
        public ImmutableArray<ConfigError> Problems { get; set; } = [];
        /// <summary>
        /// Documents with a key that was ignored as a duplicate: their value was never handed out, so they are projected
        /// again whenever the file is read (one of them may have become the definition in force).
        /// </summary>
        public HashSet<ulong> Shadowed { get; init; } = [];
    }

    private sealed record FileStamp(long Length, DateTime LastWriteUtc)
    {
        /// <summary>Null when the file does not exist (any more), or cannot be reached (no search permission on the directory).</summary>
        public static FileStamp? Of(string path)
        {
            FileSystemInfo info = new FileInfo(path);
            if (info.LinkTarget is not null)
                info = info.ResolveLinkTarget(returnFinalTarget: true) ?? info; // a link's own times never change with its target
            return info is FileInfo { Exists: true } file ? new FileStamp(file.Length, file.LastWriteTimeUtc) : null;
        }
    }
}
