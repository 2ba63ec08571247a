using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace BgpLb.Bgp.Wire;

/// <summary>OPEN message (RFC 4271 §4.2). <see cref="MyAs"/> is the 2-octet field (AS_TRANS when the AS is above 65535).</summary>
internal sealed record OpenMessage(byte Version, ushort MyAs, ushort HoldTime, uint BgpId, BgpCapabilities Capabilities)
{
    public IPAddress BgpIdAddress => BgpIdentifier.ToAddress(BgpId);
}

internal static class BgpIdentifier
{
    public static IPAddress ToAddress(uint id) => new(BinaryPrimitives.ReverseEndianness(id));

    public static uint FromAddress(IPAddress address)
    {
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
        {
            throw new ArgumentException("A BGP identifier is an IPv4 address.", nameof(address));
        }

        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return BinaryPrimitives.ReadUInt32BigEndian(bytes);
    }
}

internal static class CapabilityCode
{
    public const byte Multiprotocol = 1;
    public const byte RouteRefresh = 2;
    public const byte ExtendedMessage = 6;
    public const byte GracefulRestart = 64;
    public const byte FourOctetAs = 65;
    public const byte EnhancedRouteRefresh = 70;
    public const byte Fqdn = 73;
}

/// <summary>RFC 4724 Graceful Restart capability.</summary>
/// <param name="Flags">The 4 high bits of the first octet: 0x8 Restart State, 0x4 Notification (RFC 8538).</param>
/// <param name="RestartTime">Seconds, 12 bits.</param>
internal sealed record GracefulRestartCapability(byte Flags, ushort RestartTime, IReadOnlyList<GracefulRestartFamily> Families)
{
    public const byte RestartStateFlag = 0x8;
    public const byte NotificationFlag = 0x4;
    public const byte ForwardingStatePreserved = 0x80;
}

internal readonly record struct GracefulRestartFamily(AfiSafi Family, byte Flags);

/// <summary>A capability this codec does not interpret; kept for logging and otherwise ignored (RFC 5492).</summary>
internal sealed record UnknownCapability(byte Code, byte[] Value);

/// <summary>Capabilities carried in an OPEN (RFC 5492).</summary>
internal sealed record BgpCapabilities
{
    public static readonly BgpCapabilities None = new();

    public IReadOnlyList<AfiSafi> Multiprotocol { get; init; } = [];
    /// <summary>RFC 6793: the sender's real AS; null when the capability is absent.</summary>
    public uint? FourOctetAs { get; init; }
    public bool RouteRefresh { get; init; }
    public bool EnhancedRouteRefresh { get; init; }
    /// <summary>RFC 8654.</summary>
    public bool ExtendedMessage { get; init; }
    public GracefulRestartCapability? GracefulRestart { get; init; }
    /// <summary>FQDN capability (code 73): host name, null when absent.</summary>
    public string? HostName { get; init; }
    public string? DomainName { get; init; }
    public IReadOnlyList<UnknownCapability> Unknown { get; init; } = [];
}

/// <summary>Reads and writes OPEN messages, including RFC 9072 extended optional parameters.</summary>
internal static class OpenCodec
{
    private const byte CapabilitiesParameter = 2;
    private const byte ExtendedLengthMarker = 255;
    /// <summary>Version, My AS, Hold Time, BGP Identifier and the Optional Parameters Length octet.</summary>
    private const int FixedLength = 10;

    public static void Write(IBufferWriter<byte> output, OpenMessage open)
    {
        var capabilities = new ArrayBufferWriter<byte>(128);
        WriteCapabilities(capabilities, open.Capabilities);
        var caps = capabilities.WrittenSpan;

        // One Capabilities parameter; RFC 9072 form once it no longer fits a 1-octet length.
        var extended = caps.Length + 2 > 255;
        var parametersLength = extended ? 3 + caps.Length : 2 + caps.Length;
        var optionalFieldLength = caps.Length == 0 ? 1 : parametersLength + (extended ? 4 : 1);
        var length = BgpConstants.HeaderLength + FixedLength - 1 + optionalFieldLength;
        if (length > BgpConstants.MaxMessageLength)
        {
            throw new ArgumentException("The OPEN message would exceed 4096 bytes.", nameof(open));
        }

        var span = output.GetSpan(length);
        BgpConstants.WriteHeader(span, length, BgpMessageType.Open);
        var body = span[BgpConstants.HeaderLength..length];
        body[0] = open.Version;
        BinaryPrimitives.WriteUInt16BigEndian(body[1..], open.MyAs);
        BinaryPrimitives.WriteUInt16BigEndian(body[3..], open.HoldTime);
        BinaryPrimitives.WriteUInt32BigEndian(body[5..], open.BgpId);
        var p = body[9..];
        if (caps.Length == 0)
        {
            p[0] = 0;
        }
        else if (!extended)
        {
            p[0] = (byte)parametersLength;
            p[1] = CapabilitiesParameter;
            p[2] = (byte)caps.Length;
            caps.CopyTo(p[3..]);
        }
        else
        {
            p[0] = ExtendedLengthMarker;
            p[1] = ExtendedLengthMarker;
            BinaryPrimitives.WriteUInt16BigEndian(p[2..], (ushort)parametersLength);
            p[4] = CapabilitiesParameter;
            BinaryPrimitives.WriteUInt16BigEndian(p[5..], (ushort)caps.Length);
            caps.CopyTo(p[7..]);
        }

        output.Advance(length);
    }

    /// <summary>The 2-octet My AS field for <paramref name="localAs"/>: AS_TRANS when it exceeds 65535 (RFC 6793).</summary>
    public static ushort MyAsField(uint localAs) => localAs > ushort.MaxValue ? BgpConstants.AsTrans : (ushort)localAs;

    private static void WriteCapabilities(ArrayBufferWriter<byte> w, BgpCapabilities c)
    {
        foreach (var family in c.Multiprotocol)
        {
            Span<byte> v = [0, 0, 0, (byte)family.Safi];
            BinaryPrimitives.WriteUInt16BigEndian(v, (ushort)family.Afi);
            WriteCapability(w, CapabilityCode.Multiprotocol, v);
        }

        if (c.RouteRefresh)
        {
            WriteCapability(w, CapabilityCode.RouteRefresh, []);
        }

        if (c.ExtendedMessage)
        {
            WriteCapability(w, CapabilityCode.ExtendedMessage, []);
        }

        if (c.GracefulRestart is { } gr)
        {
            if (gr.Flags > 0xF || gr.RestartTime > 0xFFF)
            {
                throw new ArgumentException("Graceful restart flags are 4 bits and the restart time 12 bits.", nameof(c));
            }

            Span<byte> v = stackalloc byte[2 + 4 * gr.Families.Count];
            BinaryPrimitives.WriteUInt16BigEndian(v, (ushort)(gr.Flags << 12 | gr.RestartTime));
            for (var i = 0; i < gr.Families.Count; i++)
            {
                var f = gr.Families[i];
                var entry = v.Slice(2 + 4 * i, 4);
                BinaryPrimitives.WriteUInt16BigEndian(entry, (ushort)f.Family.Afi);
                entry[2] = (byte)f.Family.Safi;
                entry[3] = f.Flags;
            }

            WriteCapability(w, CapabilityCode.GracefulRestart, v);
        }

        if (c.FourOctetAs is { } as4)
        {
            Span<byte> v = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(v, as4);
            WriteCapability(w, CapabilityCode.FourOctetAs, v);
        }

        if (c.EnhancedRouteRefresh)
        {
            WriteCapability(w, CapabilityCode.EnhancedRouteRefresh, []);
        }

        if (c.HostName is not null)
        {
            var host = Truncate(c.HostName);
            var domain = Truncate(c.DomainName ?? "");
            Span<byte> v = stackalloc byte[2 + host.Length + domain.Length];
            v[0] = (byte)host.Length;
            host.CopyTo(v[1..]);
            v[1 + host.Length] = (byte)domain.Length;
            domain.CopyTo(v[(2 + host.Length)..]);
            WriteCapability(w, CapabilityCode.Fqdn, v);
        }

        foreach (var unknown in c.Unknown)
        {
            WriteCapability(w, unknown.Code, unknown.Value);
        }
    }

    // Host and domain each get at most 64 bytes so that the whole FQDN capability fits its 1-octet length.
    private static byte[] Truncate(string text) => Utf8Text.TruncateToBytes(text, 64);

    private static void WriteCapability(ArrayBufferWriter<byte> w, byte code, ReadOnlySpan<byte> value)
    {
        if (value.Length > 255)
        {
            throw new ArgumentException($"Capability {code} is longer than 255 bytes.", nameof(value));
        }

        var span = w.GetSpan(2 + value.Length);
        span[0] = code;
        span[1] = (byte)value.Length;
        value.CopyTo(span[2..]);
        w.Advance(2 + value.Length);
    }

    /// <exception cref="BgpNotificationException">2/1 (data 00 04) for a version other than 4, 2/0 for a malformed
    /// parameter or capability, 2/4 for an unknown optional parameter.</exception>
    public static OpenMessage Read(ReadOnlySpan<byte> body)
    {
        if (body.Length < FixedLength)
        {
            throw Malformed();
        }

        if (body[0] != BgpConstants.Version)
        {
            throw new BgpNotificationException(BgpErrorCode.Open, OpenSubcode.UnsupportedVersion, new byte[] { 0, BgpConstants.Version });
        }

        var myAs = BinaryPrimitives.ReadUInt16BigEndian(body[1..]);
        var holdTime = BinaryPrimitives.ReadUInt16BigEndian(body[3..]);
        var bgpId = BinaryPrimitives.ReadUInt32BigEndian(body[5..]);
        var rest = body[9..];
        int optionalLength = rest[0];
        var extended = false;
        if (optionalLength == ExtendedLengthMarker && rest.Length > 1 && rest[1] == ExtendedLengthMarker)
        {
            // RFC 9072: non-extended length 255 and type 255, then a 2-octet length, then 2-octet parameter lengths.
            if (rest.Length < 4)
            {
                throw Malformed();
            }

            optionalLength = BinaryPrimitives.ReadUInt16BigEndian(rest[2..]);
            rest = rest[4..];
            extended = true;
        }
        else
        {
            rest = rest[1..];
        }

        if (optionalLength != rest.Length)
        {
            throw Malformed();
        }

        var builder = new CapabilityBuilder();
        var headerLength = extended ? 3 : 2;
        while (!rest.IsEmpty)
        {
            if (rest.Length < headerLength)
            {
                throw Malformed();
            }

            var parameterType = rest[0];
            int parameterLength = extended ? BinaryPrimitives.ReadUInt16BigEndian(rest[1..]) : rest[1];
            if (rest.Length - headerLength < parameterLength)
            {
                throw Malformed();
            }

            if (parameterType != CapabilitiesParameter)
            {
                throw new BgpNotificationException(BgpErrorCode.Open, OpenSubcode.UnsupportedOptionalParameter);
            }

            builder.ReadCapabilities(rest.Slice(headerLength, parameterLength));
            rest = rest[(headerLength + parameterLength)..];
        }

        return new OpenMessage(BgpConstants.Version, myAs, holdTime, bgpId, builder.Build());
    }

    public static OpenMessage Read(in ReadOnlySequence<byte> body) =>
        ContiguousBody.Decode(body, 0, static (span, _) => Read(span));

    private static BgpNotificationException Malformed() => new(BgpErrorCode.Open, OpenSubcode.Unspecific);

    private sealed class CapabilityBuilder
    {
        private readonly List<AfiSafi> _multiprotocol = [];
        private readonly List<UnknownCapability> _unknown = [];
        private uint? _fourOctetAs;
        private bool _routeRefresh;
        private bool _enhancedRouteRefresh;
        private bool _extendedMessage;
        private GracefulRestartCapability? _gracefulRestart;
        private string? _hostName;
        private string? _domainName;

        public void ReadCapabilities(ReadOnlySpan<byte> caps)
        {
            while (!caps.IsEmpty)
            {
                if (caps.Length < 2 || caps.Length - 2 < caps[1])
                {
                    throw Malformed();
                }

                var code = caps[0];
                var value = caps.Slice(2, caps[1]);
                caps = caps[(2 + value.Length)..];
                switch (code)
                {
                    case CapabilityCode.Multiprotocol:
                        Expect(value.Length == 4);
                        var family = new AfiSafi((Afi)BinaryPrimitives.ReadUInt16BigEndian(value), (Safi)value[3]);
                        if (!_multiprotocol.Contains(family))
                        {
                            _multiprotocol.Add(family);
                        }

                        break;
                    case CapabilityCode.RouteRefresh:
                        _routeRefresh = true;
                        break;
                    case CapabilityCode.ExtendedMessage:
                        _extendedMessage = true;
                        break;
                    case CapabilityCode.EnhancedRouteRefresh:
                        _enhancedRouteRefresh = true;
                        break;
                    case CapabilityCode.FourOctetAs:
                        Expect(value.Length == 4);
                        _fourOctetAs = BinaryPrimitives.ReadUInt32BigEndian(value);
                        break;
                    case CapabilityCode.GracefulRestart:
                        Expect(value.Length >= 2 && (value.Length - 2) % 4 == 0);
                        _gracefulRestart = ReadGracefulRestart(value);
                        break;
                    case CapabilityCode.Fqdn:
                        Expect(value.Length >= 1 && value.Length >= 2 + value[0] && value.Length == 2 + value[0] + value[1 + value[0]]);
                        _hostName = Utf8Text.DecodeLenient(value.Slice(1, value[0]));
                        _domainName = Utf8Text.DecodeLenient(value[(2 + value[0])..]);
                        break;
                    default:
                        _unknown.Add(new UnknownCapability(code, value.ToArray()));
                        break;
                }
            }
        }

        private static GracefulRestartCapability ReadGracefulRestart(ReadOnlySpan<byte> value)
        {
            var head = BinaryPrimitives.ReadUInt16BigEndian(value);
            var families = new GracefulRestartFamily[(value.Length - 2) / 4];
            for (var i = 0; i < families.Length; i++)
            {
                var entry = value.Slice(2 + 4 * i, 4);
                families[i] = new GracefulRestartFamily(
                    new AfiSafi((Afi)BinaryPrimitives.ReadUInt16BigEndian(entry), (Safi)entry[2]), entry[3]);
            }

            return new GracefulRestartCapability((byte)(head >> 12), (ushort)(head & 0xFFF), families);
        }

        private static void Expect(bool wellFormed)
        {
            if (!wellFormed)
            {
                throw Malformed();
            }
        }

        public BgpCapabilities Build() => new()
        {
            Multiprotocol = _multiprotocol,
            FourOctetAs = _fourOctetAs,
            RouteRefresh = _routeRefresh,
            EnhancedRouteRefresh = _enhancedRouteRefresh,
            ExtendedMessage = _extendedMessage,
            GracefulRestart = _gracefulRestart,
            HostName = _hostName,
            DomainName = _domainName,
            Unknown = _unknown,
        };
    }
}

internal static class Utf8Text
{
    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>UTF-8 bytes of <paramref name="text"/>, cut to at most <paramref name="maxBytes"/> without splitting a character.</summary>
    public static byte[] TruncateToBytes(string text, int maxBytes)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        if (bytes.Length <= maxBytes)
        {
            return bytes;
        }

        var cut = maxBytes;
        while (cut > 0 && (bytes[cut] & 0xC0) == 0x80)
        {
            cut--; // bytes[cut] is a continuation byte: the character starting before it would be split
        }

        return bytes[..cut];
    }

    /// <summary>Decodes UTF-8, replacing invalid sequences instead of failing.</summary>
    public static string DecodeLenient(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);

    public static bool TryDecodeStrict(ReadOnlySpan<byte> bytes, out string text)
    {
        try
        {
            text = Strict.GetString(bytes);
            return true;
        }
        catch (DecoderFallbackException)
        {
            text = "";
            return false;
        }
    }
}
