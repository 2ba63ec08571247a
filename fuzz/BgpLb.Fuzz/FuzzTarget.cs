using System.Buffers;
using BgpLb.Bgp.Wire;

namespace BgpLb.Fuzz;

/// <summary>
/// Feeds bytes through framing and the decoder for each message type, as the session read loop does.
/// The first input byte picks the session context and where the stream is split into two segments;
/// any exception other than <see cref="BgpNotificationException"/> is a finding.
/// </summary>
internal static class FuzzTarget
{
    public static void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }

        var control = input[0];
        var stream = input[1..].ToArray();
        var context = new UpdateDecodeContext(FourOctetAs: (control & 1) != 0, IsInternal: (control & 2) != 0);
        var maxLength = (control & 4) != 0 ? BgpConstants.ExtendedMaxMessageLength : BgpConstants.MaxMessageLength;
        var buffer = Segments.Split(stream, stream.Length == 0 ? 0 : (control >> 3) * 7 % stream.Length);
        try
        {
            while (BgpFraming.TryReadMessage(ref buffer, maxLength, out var type, out var body))
            {
                Decode(type, body, context);
            }
        }
        catch (BgpNotificationException)
        {
            // The session would send this NOTIFICATION and close: the expected outcome for bad input.
        }
    }

    private static void Decode(BgpMessageType type, in ReadOnlySequence<byte> body, UpdateDecodeContext context)
    {
        switch (type)
        {
            case BgpMessageType.Open:
                var open = OpenCodec.Read(body);
                _ = open.BgpIdAddress;
                break;
            case BgpMessageType.Update:
                UpdateDecoder.Decode(body, context);
                break;
            case BgpMessageType.Notification:
                _ = NotificationCodec.Read(body).ShutdownCommunication;
                break;
            case BgpMessageType.RouteRefresh:
                RouteRefreshCodec.Read(body);
                break;
            case BgpMessageType.Keepalive:
                break;
            default:
                throw new InvalidOperationException($"Framing returned unknown type {type}.");
        }
    }
}

internal static class Segments
{
    /// <summary>A two-segment sequence over <paramref name="data"/> split at <paramref name="at"/>, to exercise the pooled-copy path.</summary>
    public static ReadOnlySequence<byte> Split(byte[] data, int at)
    {
        if (at <= 0 || at >= data.Length)
        {
            return new ReadOnlySequence<byte>(data);
        }

        var first = new Segment(data.AsMemory(0, at), 0);
        var second = new Segment(data.AsMemory(at), at);
        first.SetNext(second);
        return new ReadOnlySequence<byte>(first, 0, second, second.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public void SetNext(Segment next) => Next = next;
    }
}
