using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.Metrics;
using BgpLb.Bgp.Fsm;
using BgpLb.Bgp.Session;
using BgpLb.Bgp.Wire;
using Microsoft.Extensions.Logging;

namespace BgpLb.Bgp.Tests.Session;

/// <summary>A router that sends a full table: the speaker keeps nothing per prefix and its KEEPALIVEs go out while the stream lasts.</summary>
public sealed class FullTableTests : SessionTestBase
{
    private const int PrefixesPerUpdate = 1000;
    private const int Updates = 200;
    // Every tenth UPDATE has an ORIGIN of 7: RFC 7606 §7.1 treat-as-withdraw, the session stays up.
    private const int EveryBadUpdate = 10;

    private readonly ListLoggerFactory _logs = new();

    internal override ILoggerFactory LoggerFactory => _logs;

    [Fact]
    public async Task Stream_of_200k_prefixes_keeps_the_session_established_and_keepalives_flowing()
    {
        var hold = TimeSpan.FromSeconds(90);
        var peer = await EstablishAsync(Peer(hold: hold), []);
        Assert.True(IsEndOfRib(await peer.ReadAsync()));
        Assert.True(IsEndOfRib(await peer.ReadAsync()));
        using var updates = new ReceivedUpdates(MeterFactory, parkAt: [1, Updates]);

        // The whole table at once: the speaker's one read sees all of it (800 KB, far more than it handles before looking at its timers).
        Assert.True(Updates * PrefixesPerUpdate * 4 > 10 * BgpSession.MaxBytesPerRead);
        var flush = peer.StartSending(w =>
        {
            for (var i = 0; i < Updates; i++) WriteUpdate(w, i * PrefixesPerUpdate, badOrigin: i % EveryBadUpdate == 0);
        }).AsTask();
        await updates.ParkedAsync(1);
        // The speaker is busy with the first UPDATE (about to handle it) when its keepalive falls due.
        Time.Advance(hold / 3);
        updates.Release(1);

        // It reaches the last UPDATE (and parks there) only after sending the keepalive, if at all.
        Assert.Equal(BgpMessageType.Keepalive, (await peer.ReadAsync()).Type);
        Assert.Equal(BgpState.Established, Status().State);
        await updates.ParkedAsync(Updates);
        updates.Release(Updates);
        await flush.WaitAsync(FakePeer.Timeout);

        await SessionTests.WaitForAsync(() => Status().Counters.UpdatesReceived == Updates);
        var status = Status();
        Assert.Equal(BgpState.Established, status.State);
        Assert.Equal(Updates / EveryBadUpdate, status.Counters.AttributeErrors);
        // Nothing of the 200,000 prefixes stays (there is no Adj-RIB-In): the only trace is the counters, and the next
        // keepalive comes on time.
        Time.Advance(hold / 3);
        Assert.Equal(BgpMessageType.Keepalive, (await peer.ReadAsync()).Type);

        // The 20 malformed UPDATEs came within one rate-limit interval: one line; the next line, an interval later, counts the rest.
        await peer.SendAsync(w => WriteUpdate(w, 0, badOrigin: true));
        await SessionTests.WaitForAsync(() => Status().Counters.UpdatesReceived == Updates + 1);
        Assert.Equal(["; 0 more since the last such line", "; 19 more since the last such line"],
            _logs.Entries.Where(e => e.EventId == 1205).Select(e => e.Message[e.Message.LastIndexOf(';')..]));
    }

    /// <summary>An UPDATE of <see cref="PrefixesPerUpdate"/> /24s from 10.0.0.0/24 + <paramref name="first"/>, AS_PATH 64512, next hop 198.18.0.2.</summary>
    private static void WriteUpdate(IBufferWriter<byte> output, int first, bool badOrigin)
    {
        ReadOnlySpan<byte> attributes =
        [
            0x40, 1, 1, 0, // ORIGIN IGP
            0x40, 2, 6, 2, 1, 0, 0, 0xFC, 0x00, // AS_PATH: AS_SEQUENCE [64512] (4-octet)
            0x40, 3, 4, 198, 18, 0, 2, // NEXT_HOP
        ];
        var length = BgpConstants.HeaderLength + 2 + 2 + attributes.Length + PrefixesPerUpdate * 4;
        var span = output.GetSpan(length)[..length];
        span[..16].Fill(0xFF);
        BinaryPrimitives.WriteUInt16BigEndian(span[16..], (ushort)length);
        span[18] = (byte)BgpMessageType.Update;
        BinaryPrimitives.WriteUInt16BigEndian(span[19..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(span[21..], (ushort)attributes.Length);
        attributes.CopyTo(span[23..]);
        if (badOrigin) span[23 + 3] = 7;
        var nlri = span[(23 + attributes.Length)..];
        for (var i = 0; i < PrefixesPerUpdate; i++)
        {
            var n = first + i;
            nlri[i * 4] = 24;
            nlri[i * 4 + 1] = (byte)(10 + (n >> 16));
            nlri[i * 4 + 2] = (byte)(n >> 8);
            nlri[i * 4 + 3] = (byte)n;
        }
        output.Advance(length);
    }

    /// <summary>Counts received UPDATEs (through this test's meters) and parks the session's loop at the chosen ones until released.</summary>
    private sealed class ReceivedUpdates : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly Dictionary<int, (TaskCompletionSource Parked, ManualResetEventSlim Release)> _gates;
        private int _count;

        public ReceivedUpdates(IMeterFactory scope, int[] parkAt)
        {
            _gates = parkAt.ToDictionary(n => n, _ => (new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), new ManualResetEventSlim()));
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == scope && instrument.Name == "metallb_bgp_updates_total_received") l.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((_, _, _, _) =>
            {
                if (!_gates.TryGetValue(Interlocked.Increment(ref _count), out var gate)) return;
                gate.Parked.SetResult();
                gate.Release.Wait(FakePeer.Timeout);
            });
            _listener.Start();
        }

        public Task ParkedAsync(int update) => _gates[update].Parked.Task.WaitAsync(FakePeer.Timeout);

        public void Release(int update) => _gates[update].Release.Set();

        public void Dispose()
        {
            // Not disposed: a parked loop may still be waiting on them.
            foreach (var gate in _gates.Values) gate.Release.Set();
            _listener.Dispose();
        }
    }
}
