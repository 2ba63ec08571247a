using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace BgpLb.Config;

/// <summary>
/// Resource source over a directory of Kubernetes-style YAML (every *.yaml / *.yml, not recursive, multi-document).
/// Watches it with a FileSystemWatcher (debounced, so write-then-rename and partial writes settle) plus a periodic
/// rescan in case events are lost; a new snapshot is produced only when some file's content changed.
/// Objects of unchanged files are the same instances from one snapshot to the next: treat them as read-only.
/// One reader at a time (either <see cref="ReadAsync"/> or one <see cref="WatchAsync"/>).
/// </summary>
public sealed class FileStore(string directory, ConfigOptions options, TimeProvider time, ILogger<FileStore> logger) : IResourceSource
{
    private ImmutableArray<string> _lastFiles = [];

    // YAML parsing dominates reload time (about 1 s for 10,000 Services), so unchanged files are not parsed again.
    private Dictionary<string, (string Text, ManifestParseResult Result)> _parsed = [];

    public string Directory { get; } = Path.GetFullPath(directory);

    public async ValueTask<ResourceSnapshot> ReadAsync(CancellationToken cancellationToken) =>
        (await ReadFilesAsync(cancellationToken)).Snapshot;

    public async IAsyncEnumerable<ResourceSnapshot> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var changed = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest });
        using var watcher = StartWatcher(changed.Writer);
        var (snapshot, contents) = await ReadFilesAsync(cancellationToken);
        yield return snapshot;
        while (!cancellationToken.IsCancellationRequested)
        {
            await WaitForChangeAsync(changed.Reader, cancellationToken);
            var next = await ReadFilesAsync(cancellationToken);
            if (!next.Contents.SequenceEqual(contents))
            {
                ConfigLog.DirectoryChanged(logger, Directory);
                contents = next.Contents;
                yield return next.Snapshot;
            }
        }
    }

    private FileSystemWatcher? StartWatcher(ChannelWriter<bool> changed)
    {
        if (!options.WatchFileSystem)
        {
            return null;
        }
        try
        {
            var watcher = new FileSystemWatcher(Directory)
            {
                IncludeSubdirectories = false,
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            FileSystemEventHandler onChange = (_, _) => changed.TryWrite(true);
            watcher.Changed += onChange;
            watcher.Created += onChange;
            watcher.Deleted += onChange;
            watcher.Renamed += (_, _) => changed.TryWrite(true);
            watcher.Error += (_, e) =>
            {
                ConfigLog.WatcherFailed(logger, Directory, e.GetException().Message);
                changed.TryWrite(true);
            };
            watcher.EnableRaisingEvents = true;
            return watcher;
        }
        catch (Exception e) when (e is ArgumentException or IOException or PlatformNotSupportedException)
        {
            ConfigLog.WatcherFailed(logger, Directory, e.Message);
            return null;
        }
    }

    /// <summary>Returns after a file event followed by <see cref="ConfigOptions.Debounce"/> of quiet, or after the rescan interval.</summary>
    private async Task WaitForChangeAsync(ChannelReader<bool> changed, CancellationToken cancellationToken)
    {
        using (var waitCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            var rescan = Task.Delay(options.RescanInterval, time, waitCancellation.Token);
            var signalled = changed.WaitToReadAsync(waitCancellation.Token).AsTask();
            var first = await Task.WhenAny(rescan, signalled);
            await waitCancellation.CancelAsync();
            cancellationToken.ThrowIfCancellationRequested();
            if (first == rescan)
            {
                return;
            }
        }
        while (changed.TryRead(out _))
        {
            await Task.Delay(options.Debounce, time, cancellationToken);
        }
    }

    private async Task<(ResourceSnapshot Snapshot, ImmutableArray<(string File, string Text)> Contents)> ReadFilesAsync(CancellationToken cancellationToken)
    {
        string[] files;
        try
        {
            files = [.. System.IO.Directory.EnumerateFiles(Directory)
                .Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal))
                .Order(StringComparer.Ordinal)];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Keep every object last seen: the whole directory is unreadable.
            var error = new ConfigError(ConfigSeverity.Error, Directory, null, null, $"cannot list the configuration directory: {e.Message}");
            return (new ResourceSnapshot([], [error], [.. _lastFiles]), [(Directory, e.Message)]);
        }
        var resources = ImmutableArray.CreateBuilder<RawResource>();
        var errors = ImmutableArray.CreateBuilder<ConfigError>();
        var unreadable = ImmutableHashSet.CreateBuilder<string>();
        var contents = ImmutableArray.CreateBuilder<(string, string)>();
        var parsedNow = new Dictionary<string, (string Text, ManifestParseResult Result)>();
        foreach (var file in files)
        {
            string text;
            try
            {
                text = await File.ReadAllTextAsync(file, cancellationToken);
            }
            catch (FileNotFoundException)
            {
                continue; // deleted since it was listed
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                errors.Add(new ConfigError(ConfigSeverity.Error, file, null, null, $"cannot read file: {e.Message}"));
                unreadable.Add(file);
                contents.Add((file, "\0unreadable: " + e.Message));
                continue;
            }
            contents.Add((file, text));
            var parsed = _parsed.TryGetValue(file, out var cached) && cached.Text == text ? cached.Result : ManifestParser.Parse(file, text, options);
            parsedNow[file] = (text, parsed);
            resources.AddRange(parsed.Resources);
            errors.AddRange(parsed.Errors);
            if (parsed.Unreadable)
            {
                unreadable.Add(file);
            }
        }
        _lastFiles = [.. files];
        _parsed = parsedNow;
        return (new ResourceSnapshot(resources.ToImmutable(), errors.ToImmutable(), unreadable.ToImmutable()), contents.ToImmutable());
    }
}
