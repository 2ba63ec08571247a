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
    public const int CurrentVersion = 1;

    public static StateData Empty { get; } = new();

    public int Version { get; init; } = CurrentVersion;
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

    public AllocationRequest ToRequest(string name) => AllocationRequest.External(name, Policy,
        [.. Families.Select(f => f == "IPv6" ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork)],
        Pool, [.. Addresses.Select(IPAddress.Parse)], SharingKey, Ports);

    public bool SameAs(ExternalRequest other) =>
        JsonSerializer.Serialize(this, StateFile.Json) == JsonSerializer.Serialize(other, StateFile.Json);
}

/// <summary>The state file is unusable; the message says which file and why. The file is left untouched.</summary>
public sealed class StateFileException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Durable allocation state: loaded once at start, replaced atomically on every change (write a temp file in the same
/// directory, fsync it, rename it over the old file, fsync the directory), so a crash leaves either the old or the new file.
/// </summary>
public sealed partial class StateFile(string path)
{
    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter() },
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public string Path { get; } = System.IO.Path.GetFullPath(path);

    public string TempPath => Path + ".tmp";

    /// <summary>
    /// Reads the state. A missing file is an empty state; a leftover temp file (a crash before the rename) is discarded
    /// and reported through <paramref name="discardedTempFile"/>. Throws <see cref="StateFileException"/> when the file is corrupt.
    /// </summary>
    public StateData Load(out bool discardedTempFile)
    {
        discardedTempFile = File.Exists(TempPath);
        if (discardedTempFile)
            File.Delete(TempPath);
        if (!File.Exists(Path))
            return StateData.Empty;
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
        if (data.Version != StateData.CurrentVersion)
            throw Corrupt($"unsupported version {data.Version} (this controller writes version {StateData.CurrentVersion})");
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

    private StateFileException Corrupt(string reason, Exception? inner = null) =>
        new($"state file {Path} is corrupt ({reason}); it was left untouched: repair it or move it away to start with no allocations", inner);

    public async Task SaveAsync(StateData data, CancellationToken cancellationToken)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(data, Json);
        await using (var stream = new FileStream(TempPath, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1, FileOptions.Asynchronous))
        {
            await stream.WriteAsync(bytes, cancellationToken);
            stream.Flush(flushToDisk: true);
        }
        File.Move(TempPath, Path, overwrite: true);
        SyncDirectory(System.IO.Path.GetDirectoryName(Path)!);
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
