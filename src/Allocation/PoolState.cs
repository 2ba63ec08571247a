using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;

namespace BgpLb.Allocation;

/// <summary>One pool of an <see cref="AllocationSpace"/>: its ranges and usage counters.</summary>
internal sealed class PoolState
{
    public PoolState(AddressPool pool)
    {
        Pool = pool;
        Ranges = [.. pool.Cidrs.Select(c => new RangeState(c, pool.AvoidBuggyIPs))];
        TotalAddresses = Ranges.Sum(r => r.Size);
        IPv4Addresses = Ranges.Where(r => r.Family == AddressFamily.InterNetwork).Sum(r => r.Size);
    }

    public AddressPool Pool { get; }
    public ImmutableArray<RangeState> Ranges { get; }
    public double TotalAddresses { get; }
    public double IPv4Addresses { get; }
    public int AddressesInUse { get; set; }
    public int IPv6AddressesInUse { get; set; }
    public int Consumers { get; set; }

    // The reasons of the entries this pool serves, shared by all of them.
    public string RequestedReason => field ??= $"requested address in pool '{Pool.Name}'";
    public string NamedReason => field ??= $"from pool '{Pool.Name}' named by {MetalLbNames.AddressPoolAnnotation}";
    public string AutomaticReason => field ??= $"from pool '{Pool.Name}'";

    public bool HasFamily(AddressFamily family) => Ranges.Any(r => r.Family == family);

    /// <summary>True when the pool has the families the request needs (any one of them for PreferDualStack).</summary>
    public bool Serves(AllocationRequest request) => request.Policy == FamilyPolicy.PreferDualStack
        ? request.Families.Any(HasFamily)
        : request.Families.All(HasFamily);

    public bool Contains(AddressKey key) => RangeOf(key) is not null;

    public RangeState? RangeOf(AddressKey key)
    {
        foreach (var range in Ranges)
        {
            if (range.Contains(key))
                return range;
        }
        return null;
    }

    public bool IsAvoided(AddressKey key) => Pool.AvoidBuggyIPs && key.Family == AddressFamily.InterNetwork && RangeState.IsBuggy(key.Value);
}

/// <summary>
/// One CIDR and where its lowest free address is: a cursor below which every address is taken or avoided, except
/// those released after the cursor passed them, which are kept in order. Finding the lowest free address is amortized
/// O(1) while addresses are only taken (a from-scratch pass) and O(log released) after releases.
/// </summary>
internal sealed class RangeState(IPNetwork network, bool avoidBuggyIPs)
{
    private readonly UInt128 _first = AddressKey.Of(network.BaseAddress).Value;
    private UInt128 _cursor = AddressKey.Of(network.BaseAddress).Value;
    // The cursor is past the last address (which UInt128 cannot express for ::/0).
    private bool _exhausted;
    private SortedSet<UInt128>? _released;

    public AddressFamily Family { get; } = network.BaseAddress.AddressFamily;
    private UInt128 Last => _first + HostMask;
    private UInt128 HostMask => network.PrefixLength == Bits ? UInt128.Zero : (UInt128.One << (Bits - network.PrefixLength)) - 1;
    private int Bits => Family == AddressFamily.InterNetwork ? 32 : 128;
    private bool AvoidsBuggy => avoidBuggyIPs && Family == AddressFamily.InterNetwork;

    public double Size
    {
        get
        {
            var size = (double)HostMask + 1;
            return AvoidsBuggy ? size - (BuggyUpTo(Last) - (_first == 0 ? 0 : BuggyUpTo(_first - 1))) : size;
        }
    }

    public bool Contains(AddressKey key) => key.Family == Family && key.Value >= _first && key.Value <= Last;

    public static bool IsBuggy(UInt128 value) => (byte)value is 0 or 255;

    /// <summary>The lowest address that nobody holds and that is not avoided; advances the cursor past held addresses.</summary>
    public AddressKey? LowestFree<THolders>(Dictionary<AddressKey, THolders> holders)
    {
        if (_released is { Count: > 0 })
            return new AddressKey(Family, _released.Min);
        var last = Last;
        while (!_exhausted)
        {
            var candidate = new AddressKey(Family, _cursor);
            if (!holders.ContainsKey(candidate) && !(AvoidsBuggy && IsBuggy(_cursor)))
                return candidate;
            if (_cursor == last)
                _exhausted = true;
            else
                _cursor++;
        }
        return null;
    }

    /// <summary>The address got its first holder.</summary>
    public void Take(UInt128 value)
    {
        if (IsBehindCursor(value))
            _released!.Remove(value);
    }

    /// <summary>The address lost its last holder.</summary>
    public void Release(UInt128 value)
    {
        if (IsBehindCursor(value))
            (_released ??= []).Add(value);
    }

    private bool IsBehindCursor(UInt128 value) => _exhausted || value < _cursor;

    // Number of IPv4 addresses in 0..value that end in .0 or .255.
    private static double BuggyUpTo(UInt128 value) => (double)(value / 256 + 1 + (value + 1) / 256);
}
