using System.Buffers;
using System.Buffers.Binary;

namespace BgpLb.Bgp.Bfd;

/// <summary>RFC 5880 §4.1 session states, as on the wire.</summary>
public enum BfdState : byte
{
    AdminDown = 0,
    Down = 1,
    Init = 2,
    Up = 3,
}

/// <summary>RFC 5880 §4.1 diagnostic codes.</summary>
public enum BfdDiagnostic : byte
{
    None = 0,
    ControlDetectionTimeExpired = 1,
    EchoFunctionFailed = 2,
    NeighborSignaledSessionDown = 3,
    ForwardingPlaneReset = 4,
    PathDown = 5,
    ConcatenatedPathDown = 6,
    AdministrativelyDown = 7,
    ReverseConcatenatedPathDown = 8,
}

/// <summary>Why a received datagram was discarded (RFC 5880 §6.8.6, the checks that need no session).</summary>
public enum BfdDiscardReason
{
    None,
    TooShort,
    BadVersion,
    BadLength,
    ZeroDetectMultiplier,
    Multipoint,
    ZeroMyDiscriminator,
    ZeroYourDiscriminatorNotDown,
    /// <summary>The A bit: no BFDProfile field turns authentication on, so an authenticated packet is never ours.</summary>
    Authenticated,
}

/// <summary>
/// An RFC 5880 §4.1 BFD Control packet without authentication: 24 bytes. Intervals are in microseconds, as on the wire.
/// </summary>
public readonly record struct BfdControlPacket
{
    public const int Length = 24;
    public const byte Version = 1;

    private const byte PollBit = 0x20;
    private const byte FinalBit = 0x10;
    private const byte ControlPlaneIndependentBit = 0x08;
    private const byte AuthenticationBit = 0x04;
    private const byte DemandBit = 0x02;
    private const byte MultipointBit = 0x01;

    public BfdDiagnostic Diagnostic { get; init; }
    public BfdState State { get; init; }
    public bool Poll { get; init; }
    public bool Final { get; init; }
    public bool ControlPlaneIndependent { get; init; }
    public bool Demand { get; init; }
    public byte DetectMultiplier { get; init; }
    public uint MyDiscriminator { get; init; }
    public uint YourDiscriminator { get; init; }
    public uint DesiredMinTxInterval { get; init; }
    public uint RequiredMinRxInterval { get; init; }
    public uint RequiredMinEchoRxInterval { get; init; }

    /// <summary>
    /// Reads one datagram's payload. False, with the reason, for what RFC 5880 §6.8.6 says to discard before looking for
    /// a session; bytes after the Length field's end (UDP padding) are ignored, as the RFC allows.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> datagram, out BfdControlPacket packet, out BfdDiscardReason reason)
    {
        packet = default;
        if (datagram.Length < Length)
        {
            reason = BfdDiscardReason.TooShort;
            return false;
        }
        var version = datagram[0] >> 5;
        var flags = datagram[1];
        var length = datagram[3];
        reason = version != Version ? BfdDiscardReason.BadVersion
            : length < Length || length > datagram.Length ? BfdDiscardReason.BadLength
            : datagram[2] == 0 ? BfdDiscardReason.ZeroDetectMultiplier
            : (flags & MultipointBit) != 0 ? BfdDiscardReason.Multipoint
            : BinaryPrimitives.ReadUInt32BigEndian(datagram[4..]) == 0 ? BfdDiscardReason.ZeroMyDiscriminator
            : BfdDiscardReason.None;
        if (reason != BfdDiscardReason.None)
            return false;
        var state = (BfdState)(flags >> 6);
        var your = BinaryPrimitives.ReadUInt32BigEndian(datagram[8..]);
        if (your == 0 && state is not (BfdState.Down or BfdState.AdminDown))
        {
            reason = BfdDiscardReason.ZeroYourDiscriminatorNotDown;
            return false;
        }
        if ((flags & AuthenticationBit) != 0)
        {
            reason = BfdDiscardReason.Authenticated;
            return false;
        }
        packet = new BfdControlPacket
        {
            Diagnostic = (BfdDiagnostic)(datagram[0] & 0x1F),
            State = state,
            Poll = (flags & PollBit) != 0,
            Final = (flags & FinalBit) != 0,
            ControlPlaneIndependent = (flags & ControlPlaneIndependentBit) != 0,
            Demand = (flags & DemandBit) != 0,
            DetectMultiplier = datagram[2],
            MyDiscriminator = BinaryPrimitives.ReadUInt32BigEndian(datagram[4..]),
            YourDiscriminator = your,
            DesiredMinTxInterval = BinaryPrimitives.ReadUInt32BigEndian(datagram[12..]),
            RequiredMinRxInterval = BinaryPrimitives.ReadUInt32BigEndian(datagram[16..]),
            RequiredMinEchoRxInterval = BinaryPrimitives.ReadUInt32BigEndian(datagram[20..]),
        };
        return true;
    }

    /// <summary>Writes the 24 bytes.</summary>
    public void Write(IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        Write(output.GetSpan(Length));
        output.Advance(Length);
    }

    /// <summary>Writes the 24 bytes into <paramref name="destination"/> (at least <see cref="Length"/> long).</summary>
    public void Write(Span<byte> destination)
    {
        if ((byte)Diagnostic > 0x1F)
            throw new InvalidOperationException($"diagnostic {Diagnostic} does not fit in 5 bits");
        destination[0] = (byte)((Version << 5) | (byte)Diagnostic);
        destination[1] = (byte)(((byte)State << 6) | (Poll ? PollBit : 0) | (Final ? FinalBit : 0)
            | (ControlPlaneIndependent ? ControlPlaneIndependentBit : 0) | (Demand ? DemandBit : 0));
        destination[2] = DetectMultiplier;
        destination[3] = Length;
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], MyDiscriminator);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], YourDiscriminator);
        BinaryPrimitives.WriteUInt32BigEndian(destination[12..], DesiredMinTxInterval);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], RequiredMinRxInterval);
        BinaryPrimitives.WriteUInt32BigEndian(destination[20..], RequiredMinEchoRxInterval);
    }
}
