using System.Buffers;
using System.Net;
using System.Net.Sockets;
using BgpLb.Bgp.Wire;

namespace BgpLb.Fuzz;

/// <summary>
/// Feeds bytes through framing and the decoder for each message type, as the session read loop does.
/// The first input byte picks the session context and where the stream is split into two segments;
/// any exception other than <see cref="BgpNotificationException"/> is a finding.
/// </summary>
internal sealed class BgpTarget : FuzzTarget
{
    public override string Name => "bgp";

    /// <summary>The control byte and two of the longest (RFC 8654) messages.</summary>
    public override int MaxInputLength => 1 + 2 * BgpConstants.ExtendedMaxMessageLength;

    protected override void Run(ReadOnlySpan<byte> input)
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
        var messages = 0;
        try
        {
            while (BgpFraming.TryReadMessage(ref buffer, maxLength, out var type, out var body))
            {
                // Every message has at least a header: more messages than that means framing did not advance.
                if (++messages > stream.Length / BgpConstants.HeaderLength)
                    throw new FuzzFindingException($"framing returned {messages} messages from {stream.Length} B");
                AnyMessageDecoder.Decode(type, body, context);
            }
        }
        catch (BgpNotificationException)
        {
            // The session would send this NOTIFICATION and close: the expected outcome for bad input.
        }
    }

    /// <summary>One valid stream per message type, produced by the product writers.</summary>
    public override IEnumerable<(string Name, byte[] Input)> Seeds()
    {
        var policy = new LocalOpenPolicy
        {
            LocalAs = 64513,
            BgpId = 0xC6120002,
            HoldTime = 90,
            Families = [AfiSafi.IPv4Unicast, AfiSafi.IPv6Unicast],
            HostName = "node-1",
            GracefulRestart = new GracefulRestartCapability(0x8, 120, [new GracefulRestartFamily(AfiSafi.IPv4Unicast, 0x80)]),
        };
        var v4 = EncodedPathAttributes.Create(new PathAttributeSet
        {
            AsPath = [64513],
            NextHop = IPAddress.Parse("198.18.0.2"),
            Communities = [0xFC000064],
            LargeCommunities = [new BgpLb.Bgp.LargeCommunity(64513, 1, 2)],
        });
        var v6 = EncodedPathAttributes.Create(new PathAttributeSet
        {
            AsPath = [4200000000],
            FourOctetAs = false,
            NextHop = IPAddress.Parse("2001:db8::2"),
            LinkLocalNextHop = IPAddress.Parse("fe80::2"),
            MultiExitDisc = 10,
            LocalPref = 200,
            ExtendedCommunities = [0x0002FC0100000001],
        });

        // Control byte 0x03: four-octet AS, iBGP, 4096-byte limit, no split.
        yield return Seed("open", 0x03, w => OpenCodec.Write(w, policy.ToOpenMessage()));
        yield return Seed("keepalive", 0x03, KeepaliveCodec.Write);
        yield return Seed("update-ipv4", 0x01, w => UpdateWriter.WriteAnnouncements(w, v4, [IPNetwork.Parse("203.0.113.1/32"), IPNetwork.Parse("198.51.100.0/24")]));
        yield return Seed("update-ipv6", 0x02, w => UpdateWriter.WriteAnnouncements(w, v6, [IPNetwork.Parse("2001:db8:1::1/128"), IPNetwork.Parse("2001:db8:2::/48")]));
        yield return Seed("withdraw-ipv4", 0x03, w => UpdateWriter.WriteWithdrawals(w, AddressFamily.InterNetwork, [IPNetwork.Parse("203.0.113.1/32")]));
        yield return Seed("withdraw-ipv6", 0x03, w => UpdateWriter.WriteWithdrawals(w, AddressFamily.InterNetworkV6, [IPNetwork.Parse("2001:db8::/32")]));
        yield return Seed("end-of-rib", 0x03, w =>
        {
            UpdateWriter.WriteEndOfRib(w, AddressFamily.InterNetwork);
            UpdateWriter.WriteEndOfRib(w, AddressFamily.InterNetworkV6);
        });
        yield return Seed("notification", 0x03, w => NotificationCodec.WriteShutdown(w, CeaseSubcode.AdministrativeShutdown, "maintenance"));
        yield return Seed("route-refresh", 0x03, w =>
        {
            RouteRefreshCodec.Write(w, new RouteRefreshMessage(AfiSafi.IPv4Unicast, RouteRefreshSubtype.BeginningOfRouteRefresh));
            RouteRefreshCodec.Write(w, new RouteRefreshMessage(AfiSafi.IPv6Unicast, RouteRefreshSubtype.Normal));
        });
    }

    private static (string, byte[]) Seed(string name, byte control, Action<IBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        buffer.Write([control]);
        write(buffer);
        return (name, buffer.WrittenSpan.ToArray());
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
