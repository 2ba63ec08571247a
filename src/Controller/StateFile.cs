using System.Buffers;
using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using BgpLb.Allocation;
using BgpLb.Config;

namespace BgpLb.Controller;

/// <summary>What the state file holds: every allocation (Services and external names) and the external requests themselves.</summary>
public sealed record StateData
{
    /// <summary>2: with a journal (<see cref="Generation"/>); 1 (read, never written): a snapshot alone.</summary>
    public const int CurrentVersion = 2;

    public static StateData Empty { get; } = new();

    public int Version { get; init; } = CurrentVersion;
    /// <summary>The journal generation that continues this snapshot (see <see cref="StateFile"/>).</summary>
    public long Generation { get; init; }
    public ImmutableSortedDictionary<string, StoredAllocation> Allocations { get; init; } = ImmutableSortedDictionary.Create<string, StoredAllocation>(StringComparer.Ordinal);
    public ImmutableSortedDictionary<string, ExternalRequest> External { get; init; } = ImmutableSortedDictionary.Create<string, ExternalRequest>(StringComparer.Ordinal);

    public ImmutableDictionary<string, ImmutableArray<IPAddress>> Addresses() =>
        Allocations.ToImmutableDictionary(p => p.Key, p => p.Value.Addresses.Select(IPAddress.Parse).ToImmutableArray(), StringComparer.Ordinal);
}

public sealed record StoredAllocation(string Pool, ImmutableArray<string> Addresses);

/// <summary>A named allocation asked for over gRPC, stored as asked so that it is re-evaluated after every change.</summary>
public sealed record ExternalRequest
{
    public FamilyPolicy Policy { get; init; }
    /// <summary>"IPv4"/"IPv6", primary first; empty = IPv4.</summary>
    public ImmutableArray<string> Families { get; init; } = [];
    public string? Pool { get; init; }
    public ImmutableArray<string> Addresses { get; init; } = [];
    public string? SharingKey { get; init; }
    public ImmutableArray<ServicePort> Ports { get; init; } = [];
    /// <summary>Who made the request (<see cref="GrpcSecurity.Authenticate"/>): only they may change or release it, and it
    /// counts against their limit. Null for requests stored before callers were recorded: anyone may take them over.</summary>
    public string? Caller { get; init; }

    public AllocationRequest ToRequest(string name) => AllocationRequest.External(name, Policy,
        [.. Families.Select(f => f == "IPv6" ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork)],
        Pool, [.. Addresses.Select(IPAddress.Parse)], SharingKey, Ports);

    public bool SameAs(ExternalRequest other) =>
        JsonSerializer.Serialize(this, StateFile.Json) == JsonSerializer.Serialize(other, StateFile.Json);
}

/// <summary>The state file is unusable; the message says which file and why. The file is left untouched.</summary>
public sealed class StateFileException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>One line of the journal: its header (<see cref="Generation"/>), or one allocation or external request as it now is (null: gone).</summary>
internal sealed record JournalRecord
{
    public long? Generation { get; init; }
    public string? Key { get; init; }
    public StoredAllocation? Allocation { get; init; }
    public string? External { get; init; }
    public ExternalRequest? Request { get; init; }
}

/// <summary>
/// Durable allocation state: a snapshot (<see cref="Path"/>) and a journal (<see cref="JournalPath"/>) of what changed
/// since, one JSON line per changed entry, so a commit costs what it changed, not the size of the cluster. A commit
/// appends its lines and fsyncs the journal before the change is published; once the journal holds more lines than the
/// snapshot has entries (at least <see cref="MinCompaction"/>), the whole state is written as a new snapshot (temp file,
/// fsync, rename, fsync of the directory) and a new journal begins. The journal's header names the snapshot generation
/// it continues, so a crash between the two leaves a journal that is recognised as already folded in. A crash in the
/// middle of an append leaves a torn last line, which is ignored. One writer at a time.
/// </summary>
public sealed partial class StateFile(string path) : IDisposable
{
    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter() },
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    private static readonly JsonSerializerOptions JournalJson = new(Json) { WriteIndented = false };

    private FileStream? _journal;
    private long _generation;
    private long _journalLines;

    public string Path { get; } = System.IO.Path.GetFullPath(path);

    public string TempPath => Path + ".tmp";

    public string JournalPath => Path + ".journal";

    /// <summary>A journal is folded into a new snapshot once it holds more lines than this and than the snapshot has entries.</summary>
    public int MinCompaction { get; init; } = 1024;

    /// <summary>
    /// Reads the snapshot and replays the journal that continues it. A missing file is an empty state; a leftover temp
    /// file (a crash before the rename) is discarded, a torn last journal line (a crash in the middle of a commit, which
    /// was never published) is ignored; <paramref name="discarded"/> says which. Throws <see cref="StateFileException"/>
    /// when the state is corrupt.
    /// </summary>
    public StateData Load(out string? discarded)
    {
        discarded = null;
        if (File.Exists(TempPath))
        {
            File.Delete(TempPath);
            discarded = $"{TempPath}, left by an interrupted save";
        }
        var data = Read(out var torn);
        if (torn)
            discarded = (discarded is null ? "" : discarded + "; ") + $"the torn last line of {JournalPath}, left by an interrupted commit that was never published";
        return data;
    }

    /// <summary>
    /// Reads the snapshot and the journal without changing any file, so that a reader beside a running controller
    /// (<c>bgplb explain</c>) sees what it saved; <paramref name="torn"/>: the journal's last line was ignored.
    /// Throws <see cref="StateFileException"/> when the state is corrupt.
    /// </summary>
    public StateData Read(out bool torn)
    {
        torn = false;
        var data = File.Exists(Path) ? ReadSnapshot() : StateData.Empty;
        _generation = data.Generation;
        if (File.Exists(JournalPath))
            data = Replay(data, out torn);
        foreach (var (key, allocation) in data.Allocations)
        {
            if (allocation is null || allocation.Addresses.IsDefaultOrEmpty || allocation.Addresses.Any(a => !StrictIP.TryParse(a, out _)))
                throw Corrupt($"allocation '{key}' has no or malformed addresses");
        }
        foreach (var (name, request) in data.External)
        {
            if (request is null || AllocationRequest.ValidateExternalName(name) is { } problem
                || request.Addresses.Any(a => !StrictIP.TryParse(a, out _)) || request.Families.Any(f => f is not ("IPv4" or "IPv6")))
                throw Corrupt($"external request '{name}' is malformed");
        }
        return data;
    }

    private StateData ReadSnapshot()
    {
        StateData? data;
        try
        {
            data = JsonSerializer.Deserialize<StateData>(File.ReadAllBytes(Path), Json);
        }
        catch (JsonException e)
        {
            throw Corrupt(e.Message, e);
        }
        catch (IOException e)
        {
            throw new StateFileException($"cannot read state file {Path}: {e.Message}", e);
        }
        if (data is null)
            throw Corrupt("it holds null");
        if (data.Version is not (1 or StateData.CurrentVersion))
            throw Corrupt($"unsupported version {data.Version} (this controller writes version {StateData.CurrentVersion})");
        return data;
    }

    /// <summary>Applies the journal's lines when it continues <paramref name="data"/>'s generation; a journal of another generation was folded in already.</summary>
    private StateData Replay(StateData data, out bool torn)
    {
        torn = false;
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(JournalPath);
        }
        catch (IOException e)
        {
            throw new StateFileException($"cannot read state journal {JournalPath}: {e.Message}", e);
        }
        var allocations = data.Allocations.ToBuilder();
        var external = data.External.ToBuilder();
        var rest = bytes.AsSpan();
        for (var line = 1; !rest.IsEmpty; line++)
        {
            var end = rest.IndexOf((byte)'\n');
            if (end < 0)
            {
                torn = true; // a crash in the middle of an append: that commit was never published
                break;
            }
            JournalRecord? record;
            try
            {
                record = JsonSerializer.Deserialize<JournalRecord>(rest[..end], JournalJson);
            }
            catch (JsonException e)
            {
                throw CorruptJournal(line, e.Message, e);
            }
            rest = rest[(end + 1)..];
            if (line == 1)
            {
                if (record?.Generation is not { } generation)
                    throw CorruptJournal(line, "no generation header");
                if (generation != data.Generation)
                    return data;
                continue;
            }
            switch (record)
            {
                case { Key: { } key, External: null, Generation: null }:
                    if (record.Allocation is { } allocation)
                        allocations[key] = allocation;
                    else
                        allocations.Remove(key);
                    break;
                case { External: { } name, Key: null, Allocation: null, Generation: null }:
                    if (record.Request is { } request)
                        external[name] = request;
                    else
                        external.Remove(name);
                    break;
                default:
                    throw CorruptJournal(line, "neither an allocation nor an external request");
            }
            _journalLines++;
        }
        return data with { Allocations = allocations.ToImmutable(), External = external.ToImmutable() };
    }

    private StateFileException Corrupt(string reason, Exception? inner = null) =>
        new($"state file {Path} is corrupt ({reason}); it was left untouched: repair it or move it away to start with no allocations", inner);

    private StateFileException CorruptJournal(int line, string reason, Exception? inner = null) =>
        new($"state journal {JournalPath} is corrupt at line {line} ({reason}); it was left untouched: repair it or move it away " +
            $"to start from {Path} alone", inner);

    /// <summary>
    /// Makes <paramref name="data"/> durable. <paramref name="keys"/> and <paramref name="externalNames"/> say which
    /// allocations and external requests differ from the last commit (or load): they are appended to the journal, unless
    /// the journal is due for compaction or none is open yet (the first commit after a start), when a snapshot is written.
    /// </summary>
    public async Task CommitAsync(StateData data, IReadOnlyCollection<string> keys, IReadOnlyCollection<string> externalNames, CancellationToken cancellationToken)
    {
        var lines = keys.Count + externalNames.Count;
        if (_journal is null || _journalLines + lines > Math.Max(MinCompaction, data.Allocations.Count + data.External.Count))
        {
            await SaveAsync(data, cancellationToken);
            return;
        }
        var buffer = new ArrayBufferWriter<byte>(lines * 96);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            foreach (var key in keys)
                WriteLine(writer, buffer, new JournalRecord { Key = key, Allocation = data.Allocations.GetValueOrDefault(key) });
            foreach (var name in externalNames)
                WriteLine(writer, buffer, new JournalRecord { External = name, Request = data.External.GetValueOrDefault(name) });
        }
        var length = _journal.Length;
        try
        {
            await _journal.WriteAsync(buffer.WrittenMemory, cancellationToken);
            _journal.Flush(flushToDisk: true);
        }
        catch
        {
            // What this commit changed is not on disk: the next commit writes everything as a snapshot. A partial
            // append (a full disk) is cut off, so the journal stays as it was.
            try
            {
                _journal.SetLength(length);
            }
            catch (IOException)
            {
                // A torn last line is ignored on load.
            }
            Dispose();
            throw;
        }
        _journalLines += lines;
    }

    private static void WriteLine(Utf8JsonWriter writer, ArrayBufferWriter<byte> buffer, JournalRecord record)
    {
        JsonSerializer.Serialize(writer, record, JournalJson);
        writer.Flush();
        writer.Reset();
        buffer.Write("\n"u8);
    }

    /// <summary>Writes <paramref name="data"/> as a new snapshot of the next generation and starts the journal that continues it.</summary>
    public async Task SaveAsync(StateData data, CancellationToken cancellationToken)
    {
        var generation = _generation + 1;
        var bytes = JsonSerializer.SerializeToUtf8Bytes(data with { Version = StateData.CurrentVersion, Generation = generation }, Json);
        await ReplaceAsync(Path, bytes, cancellationToken);
        _generation = generation;

        // A crash before this rename leaves the old journal, of the old generation: it is ignored on load.
        if (_journal is not null)
            await _journal.DisposeAsync();
        _journal = null;
        var header = JsonSerializer.SerializeToUtf8Bytes(new JournalRecord { Generation = generation }, JournalJson);
        await ReplaceAsync(JournalPath, [.. header, (byte)'\n'], cancellationToken);
        _journal = new FileStream(JournalPath, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 1, FileOptions.Asynchronous);
        _journalLines = 0;
    }

    /// <summary>Closes the journal; a later commit starts with a snapshot.</summary>
    public void Dispose()
    {
        _journal?.Dispose();
        _journal = null;
    }

    private async Task ReplaceAsync(string target, byte[] bytes, CancellationToken cancellationToken)
    {
        try
        {
            await using (var stream = new FileStream(TempPath, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1, FileOptions.Asynchronous))
            {
                await stream.WriteAsync(bytes, cancellationToken);
                stream.Flush(flushToDisk: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try
            {
                File.Delete(TempPath); // a partial copy would only take space that a full disk needs back
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
                // Load discards a leftover temp file.
            }
            throw;
        }
        File.Move(TempPath, target, overwrite: true);
        SyncDirectory(System.IO.Path.GetDirectoryName(target)!);
    }

    /// <summary>Makes the rename durable: fsync on the directory (POSIX); a no-op where directories cannot be opened.</summary>
    private static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
            return;
        var fd = Open(directory, 0 /* O_RDONLY */);
        if (fd < 0)
            throw new IOException($"cannot open {directory} to sync it (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (Fsync(fd) != 0)
                throw new IOException($"fsync of {directory} failed (errno {Marshal.GetLastPInvokeError()})");
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
