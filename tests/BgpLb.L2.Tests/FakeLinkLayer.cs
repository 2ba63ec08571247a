using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using BgpLb.L2.Sockets;

namespace BgpLb.L2.Tests;

/// <summary>In-memory interfaces: tests inject received frames and read what the announcer sent.</summary>
internal sealed class FakeLinkLayer(params LinkInfo[] links) : ILinkLayer
{
    public List<LinkInfo> Links { get; } = [.. links];
    public ConcurrentDictionary<(string Link, bool Ndp), FakeChannel> Channels { get; } = new();

    public IReadOnlyList<LinkInfo> Discover() => [.. Links];
    public IFrameChannel OpenArp(LinkInfo link) => Channels[(link.Name, false)] = new FakeChannel();
    public IFrameChannel OpenNdp(LinkInfo link) => Channels[(link.Name, true)] = new FakeChannel();

    public FakeChannel Arp(string link) => Channels[(link, false)];
    public FakeChannel Ndp(string link) => Channels[(link, true)];
}

internal sealed class FakeChannel : IFrameChannel
{
    private readonly Channel<byte[]> _inbound = Channel.CreateUnbounded<byte[]>();

    private int _injected;
    private int _receiveCalls;

    public ConcurrentQueue<byte[]> Sent { get; } = new();

    /// <summary>True once the receive loop has handled every injected frame and waits for the next one.</summary>
    public bool Drained => Volatile.Read(ref _receiveCalls) > Volatile.Read(ref _injected);
    public IReadOnlySet<UInt128> Groups { get; private set; } = new HashSet<UInt128>();
    public bool Disposed { get; private set; }

    public void Inject(byte[] frame)
    {
        Interlocked.Increment(ref _injected);
        _inbound.Writer.TryWrite(frame);
    }

    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _receiveCalls);
        var frame = await _inbound.Reader.ReadAsync(cancellationToken);
        frame.CopyTo(buffer);
        return frame.Length;
    }

    public void Send(ReadOnlySpan<byte> frame) => Sent.Enqueue(frame.ToArray());
    public void SetMulticastGroups(IReadOnlySet<UInt128> groups) => Groups = new HashSet<UInt128>(groups);
    public void Dispose() => Disposed = true;

    public byte[][] TakeSent()
    {
        var frames = new List<byte[]>();
        while (Sent.TryDequeue(out var frame))
            frames.Add(frame);
        return [.. frames];
    }
}

internal sealed class TestMeterFactory : IMeterFactory
{
    public List<Meter> Meters { get; } = [];

    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(options.Name, options.Version, options.Tags, this);
        Meters.Add(meter);
        return meter;
    }

    public void Dispose()
    {
        foreach (var meter in Meters)
            meter.Dispose();
    }
}
