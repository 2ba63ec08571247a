using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Text;

namespace BgpLb.Config;

/// <summary>What happened to a file of the watched directory.</summary>
public enum FileEvent
{
    /// <summary>Written and closed, or renamed into the directory: its content is complete.</summary>
    Written,
    /// <summary>Deleted or renamed away.</summary>
    Removed,
    /// <summary>Created or modified but not closed yet: a writer may still be at work.</summary>
    Modified,
    /// <summary>Events were lost (queue overflow) or the directory itself went away: everything must be looked at.</summary>
    Rescan,
}

/// <summary>
/// Watches one directory with Linux inotify. FileSystemWatcher reports every write(2) of a file but never its close,
/// so a reader woken by it may see a half-written file unless it waits for a quiet period; inotify's IN_CLOSE_WRITE
/// and IN_MOVED_TO say when a file is complete, which lets a change be read at once and never half-way.
/// A dedicated thread blocks in poll(2) on the inotify descriptor and an eventfd that <see cref="Dispose"/> signals, so an
/// idle watcher costs no wake-ups at all.
/// </summary>
internal sealed partial class DirectoryWatcher : IDisposable
{
    private const int InNonBlock = 0x800;
    private const int InCloExec = 0x80000;
    private const uint InModify = 0x2;
    private const uint InCloseWrite = 0x8;
    private const uint InMovedFrom = 0x40;
    private const uint InMovedTo = 0x80;
    private const uint InCreate = 0x100;
    private const uint InDelete = 0x200;
    private const uint InDeleteSelf = 0x400;
    private const uint InMoveSelf = 0x800;
    private const uint InQueueOverflow = 0x4000;
    private const uint InIgnored = 0x8000;
    private const uint InOnlyDir = 0x1000000;
    private const short PollIn = 0x1;
    private const int EfdCloExec = 0x80000;
    private const int EventHeaderSize = 16; // int wd, uint mask, uint cookie, uint len

    private readonly int _fd;
    private readonly int _stopFd;
    private readonly Action<string?, FileEvent> _onEvent;
    private readonly Thread _thread;
    private volatile bool _stopping;

    /// <param name="onEvent">Called on the watcher's thread with the file name (null for <see cref="FileEvent.Rescan"/>); must not block.</param>
    /// <exception cref="Win32Exception">inotify is not available or the directory cannot be watched.</exception>
    public DirectoryWatcher(string directory, Action<string?, FileEvent> onEvent)
    {
        _onEvent = onEvent;
        _fd = inotify_init1(InNonBlock | InCloExec);
        if (_fd < 0)
            throw new Win32Exception(Marshal.GetLastPInvokeError());
        var mask = InCloseWrite | InMovedTo | InMovedFrom | InDelete | InCreate | InModify | InDeleteSelf | InMoveSelf | InOnlyDir;
        if (inotify_add_watch(_fd, directory, mask) < 0)
        {
            var error = Marshal.GetLastPInvokeError();
            close(_fd);
            throw new Win32Exception(error);
        }
        _stopFd = eventfd(0, EfdCloExec);
        if (_stopFd < 0)
        {
            var error = Marshal.GetLastPInvokeError();
            close(_fd);
            throw new Win32Exception(error);
        }
        _thread = new Thread(Run) { IsBackground = true, Name = "bgplb-config-watch" };
        _thread.Start();
    }

    public void Dispose()
    {
        if (_stopping)
            return;
        _stopping = true;
        Signal(_stopFd);
        _thread.Join();
        close(_fd);
        close(_stopFd);
    }

    private void Run()
    {
        var buffer = new byte[64 * 1024];
        while (!_stopping)
        {
            if (!WaitReadable(_fd, _stopFd))
                continue;
            var read = ReadEvents(buffer);
            if (read <= 0)
                continue;
            Dispatch(buffer.AsSpan(0, read));
        }
    }

    private void Dispatch(ReadOnlySpan<byte> events)
    {
        while (events.Length >= EventHeaderSize)
        {
            // struct inotify_event comes from the kernel in host byte order.
            var mask = MemoryMarshal.Read<uint>(events[4..]);
            var nameLength = (int)MemoryMarshal.Read<uint>(events[12..]);
            var nameBytes = events.Slice(EventHeaderSize, nameLength);
            var end = nameBytes.IndexOf((byte)0);
            var name = Encoding.UTF8.GetString(end < 0 ? nameBytes : nameBytes[..end]);
            events = events[(EventHeaderSize + nameLength)..];

            if ((mask & (InQueueOverflow | InDeleteSelf | InMoveSelf | InIgnored)) != 0)
                _onEvent(null, FileEvent.Rescan);
            else if ((mask & (InCloseWrite | InMovedTo)) != 0)
                _onEvent(name, FileEvent.Written);
            else if ((mask & (InDelete | InMovedFrom)) != 0)
                _onEvent(name, FileEvent.Removed);
            else if ((mask & (InCreate | InModify)) != 0)
                _onEvent(name, FileEvent.Modified);
        }
    }

    private unsafe int ReadEvents(byte[] buffer)
    {
        fixed (byte* pointer = buffer)
            return (int)read(_fd, pointer, buffer.Length);
    }

    /// <summary>Blocks until <paramref name="fd"/> is readable (true) or <paramref name="stopFd"/> was signalled or poll was interrupted (false).</summary>
    private static unsafe bool WaitReadable(int fd, int stopFd)
    {
        var polls = stackalloc PollFd[2];
        polls[0] = new PollFd { Fd = fd, Events = PollIn };
        polls[1] = new PollFd { Fd = stopFd, Events = PollIn };
        return Poll(polls, 2, -1) > 0 && (polls[0].Revents & PollIn) != 0;
    }

    private static unsafe void Signal(int eventFd)
    {
        var one = 1UL;
        write(eventFd, (byte*)&one, sizeof(ulong));
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int inotify_init1(int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int inotify_add_watch(int fd, string path, uint mask);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint read(int fd, byte* buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int eventfd(uint initialValue, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint write(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static unsafe partial int Poll(PollFd* fds, nuint count, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
