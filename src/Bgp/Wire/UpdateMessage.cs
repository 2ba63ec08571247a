using System.Net;

namespace BgpLb.Bgp.Wire;

internal static class AttributeFlags
{
    public const byte Optional = 0x80;
    public const byte Transitive = 0x40;
    public const byte Partial = 0x20;
    public const byte ExtendedLength = 0x10;
}

internal static class AttributeType
{
    public const byte Origin = 1;
    public const byte AsPath = 2;
    public const byte NextHop = 3;
    public const byte MultiExitDisc = 4;
    public const byte LocalPref = 5;
    public const byte AtomicAggregate = 6;
    public const byte Aggregator = 7;
    public const byte Communities = 8;
    public const byte OriginatorId = 9;
    public const byte ClusterList = 10;
    public const byte MpReachNlri = 14;
    public const byte MpUnreachNlri = 15;
    public const byte ExtendedCommunities = 16;
    public const byte As4Path = 17;
    public const byte As4Aggregator = 18;
    public const byte LargeCommunities = 32;
}

internal enum BgpOrigin : byte
{
    Igp = 0,
    Egp = 1,
    Incomplete = 2,
}

internal enum AsPathSegmentType : byte
{
    AsSet = 1,
    AsSequence = 2,
    AsConfedSequence = 3,
    AsConfedSet = 4,
}

internal sealed record AsPathSegment(AsPathSegmentType Type, IReadOnlyList<uint> Asns);

internal readonly record struct Aggregator(uint As, IPAddress Address);

/// <summary>MP_REACH_NLRI (RFC 4760). For a family this codec does not decode, next hop and NLRI stay empty.</summary>
internal sealed record MpReachNlri(AfiSafi Family, IPAddress? NextHop, IPAddress? LinkLocalNextHop, IReadOnlyList<IPNetwork> Nlri);

internal sealed record MpUnreachNlri(AfiSafi Family, IReadOnlyList<IPNetwork> Withdrawn);

/// <summary>An attribute kept as received: unknown optional attributes and those this speaker does not interpret.</summary>
internal sealed record RawPathAttribute(byte Flags, byte Type, byte[] Value);

/// <summary>RFC 7606 handling of a malformed attribute that did not reset the session.</summary>
internal enum AttributeErrorAction
{
    /// <summary>The attribute is dropped; the routes stand.</summary>
    AttributeDiscard,
    /// <summary>Every route in the UPDATE is handled as withdrawn.</summary>
    TreatAsWithdraw,
}

internal readonly record struct AttributeError(byte Type, AttributeErrorAction Action, string Reason);

/// <summary>Decoding context from OPEN negotiation.</summary>
/// <param name="DiscardPrefixes">
/// Validate the prefixes but keep none (the prefix lists stay empty and <see cref="UpdateMessage.EndOfRib"/> is not
/// determined): what a receiver that does not use the routes needs, without an allocation per prefix.
/// </param>
internal readonly record struct UpdateDecodeContext(bool FourOctetAs, bool IsInternal, bool DiscardPrefixes = false);

/// <summary>A decoded UPDATE. Attributes that were absent or discarded are null.</summary>
internal sealed class UpdateMessage
{
    public List<IPNetwork> Withdrawn { get; } = [];
    public List<IPNetwork> Nlri { get; } = [];
    /// <summary>Whether the IPv4 NLRI field holds prefixes (also when <see cref="UpdateDecodeContext.DiscardPrefixes"/> left <see cref="Nlri"/> empty).</summary>
    public bool HasNlri { get; set; }
    public BgpOrigin? Origin { get; set; }
    public IReadOnlyList<AsPathSegment>? AsPath { get; set; }
    public IReadOnlyList<AsPathSegment>? As4Path { get; set; }
    public IPAddress? NextHop { get; set; }
    public uint? MultiExitDisc { get; set; }
    public uint? LocalPref { get; set; }
    public bool AtomicAggregate { get; set; }
    public Aggregator? Aggregator { get; set; }
    public Aggregator? As4Aggregator { get; set; }
    public uint[]? Communities { get; set; }
    public ulong[]? ExtendedCommunities { get; set; }
    public LargeCommunity[]? LargeCommunities { get; set; }
    public MpReachNlri? MpReach { get; set; }
    public MpUnreachNlri? MpUnreach { get; set; }
    public List<RawPathAttribute> OtherAttributes { get; } = [];
    public List<AttributeError> Errors { get; } = [];

    /// <summary>RFC 7606: an attribute error requires all routes of this UPDATE to be handled as withdrawn.</summary>
    public bool TreatAsWithdraw { get; set; }

    /// <summary>
    /// The family whose End-of-RIB marker this is (RFC 4724 §2): an empty UPDATE for IPv4 unicast, or an UPDATE holding
    /// only an empty MP_UNREACH_NLRI for that family; null otherwise.
    /// </summary>
    public AfiSafi? EndOfRib { get; set; }
}
