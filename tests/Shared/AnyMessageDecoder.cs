using System.Buffers;

namespace BgpLb.Bgp.Wire;

/// <summary>The decoder a session uses for each framed message type, for the property tests and the fuzz target.</summary>
internal static class AnyMessageDecoder
{
    /// <summary>Decodes <paramref name="body"/>; input a session would refuse ends in <see cref="BgpNotificationException"/>.</summary>
    public static void Decode(BgpMessageType type, in ReadOnlySequence<byte> body, UpdateDecodeContext context)
    {
        switch (type)
        {
            case BgpMessageType.Open:
                _ = OpenCodec.Read(body).BgpIdAddress;
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
