using BgpLb.Bgp.Bfd;

namespace BgpLb.Fuzz;

/// <summary>
/// Feeds a datagram to the BFD Control packet reader and, when it is accepted, to a session in each state, as the BFD
/// receive path does; anything thrown is a finding.
/// </summary>
internal sealed class BfdTarget : FuzzTarget
{
    private static readonly BfdSessionOptions Options = new() { DesiredMinTxInterval = 100_000, RequiredMinRxInterval = 100_000, DetectMultiplier = 3 };

    public override string Name => "bfd";

    /// <summary>The largest value of the one-byte Length field, and padding.</summary>
    public override int MaxInputLength => 512;

    protected override void Run(ReadOnlySpan<byte> datagram)
    {
        if (!BfdControlPacket.TryRead(datagram, out var packet, out _))
            return;
        Span<byte> output = stackalloc byte[BfdControlPacket.Length];
        foreach (var adminDown in (bool[])[false, true])
        {
            var session = new BfdSession(1, Options);
            session.SetAdminDown(adminDown);
            for (var i = 0; i < 3; i++)
            {
                session.Receive(packet);
                session.NextPacket.Write(output);
                session.FinalPacket.Write(output);
                _ = BfdSession.Jittered(session.TransmitInterval, packet.DetectMultiplier, 0.5);
                _ = session.DetectionTime;
            }
        }
    }

    /// <summary>Seeds: what a session sends in each state, as a peer would receive it.</summary>
    public override IEnumerable<(string Name, byte[] Input)> Seeds()
    {
        var session = new BfdSession(0x1234, Options);
        var remote = new BfdControlPacket { State = BfdState.Down, DetectMultiplier = 3, MyDiscriminator = 0x99, DesiredMinTxInterval = 1_000_000, RequiredMinRxInterval = 100_000 };
        var bytes = new byte[BfdControlPacket.Length];
        foreach (var (name, next) in new[] { ("down", remote), ("init", remote with { State = BfdState.Init, YourDiscriminator = 0x1234 }),
            ("up-poll", remote with { State = BfdState.Up, YourDiscriminator = 0x1234, Poll = true }) })
        {
            session.Receive(next);
            session.NextPacket.Write(bytes);
            yield return ($"bfd-{name}", bytes.ToArray());
        }
        session.SetAdminDown(true);
        session.NextPacket.Write(bytes);
        yield return ("bfd-admin-down", bytes);
    }
}
