using System.Buffers;
using System.Net;
using BgpLb.Bgp.Wire;

namespace BgpLb.Bgp.Tests.Wire;

internal static class Hex
{
    /// <summary>Parses hex with spaces allowed between groups.</summary>
    public static byte[] Bytes(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    public const string Marker = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF";

    public static string Of(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes);
}

internal static class Wire
{
    public static byte[] Write(Action<IBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A header with the given length and type, followed by <paramref name="body"/>.</summary>
    public static byte[] Message(BgpMessageType type, byte[] body, int? length = null)
    {
        var message = new byte[19 + body.Length];
        BgpConstants.WriteHeader(message, length ?? message.Length, type);
        body.CopyTo(message, 19);
        return message;
    }

    public static byte[] Body(byte[] message) => message[19..];

    public static BgpNotificationException Throws(Action action) => Assert.Throws<BgpNotificationException>(action);

    public static void AssertError(BgpNotificationException e, BgpErrorCode code, byte subcode, string? dataHex = "")
    {
        Assert.Equal((code, subcode), (e.Code, e.Subcode));
        if (dataHex is not null)
        {
            Assert.Equal(dataHex, Hex.Of(e.NotificationData.Span));
        }
    }

    /// <summary>Splits <paramref name="data"/> into a sequence with a segment boundary at every given offset.</summary>
    public static ReadOnlySequence<byte> Segmented(byte[] data, params int[] cuts)
    {
        var bounds = cuts.Where(c => c > 0 && c < data.Length).Distinct().Order().Append(data.Length).ToArray();
        Segment? first = null, last = null;
        var start = 0;
        foreach (var end in bounds)
        {
            var segment = new Segment(data.AsMemory(start, end - start));
            if (last is null)
            {
                first = segment;
            }
            else
            {
                last.Append(segment);
            }

            last = segment;
            start = end;
        }

        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

    public static IPNetwork Net(string cidr) => IPNetwork.Parse(cidr);

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public void Append(Segment next)
        {
            next.RunningIndex = RunningIndex + Memory.Length;
            Next = next;
        }
    }
}
