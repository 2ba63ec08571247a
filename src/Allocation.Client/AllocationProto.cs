using System.Collections.Immutable;
using System.Net;
using BgpLb.Model;
using V1 = BgpLb.Allocation.V1;

namespace BgpLb.Allocation.Client;

/// <summary>Conversions between the allocator's model and the wire messages of proto/allocation.proto.</summary>
public static class AllocationProto
{
    public static V1.Allocation ToProto(AllocationEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var message = new V1.Allocation
        {
            Key = entry.Key,
            Pool = entry.Pool ?? "",
            Failure = (V1.Failure)entry.Failure,
            Reason = entry.Reason,
        };
        message.Addresses.AddRange(entry.Addresses.Select(a => a.ToString()));
        return message;
    }

    /// <summary>Unparseable addresses are dropped (a newer controller cannot make an older speaker announce garbage).</summary>
    public static AllocationEntry FromProto(V1.Allocation message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var addresses = message.Addresses
            .Select(text => StrictIP.TryParse(text, out var address) ? address : null)
            .OfType<IPAddress>()
            .ToImmutableArray();
        return new AllocationEntry(message.Key, message.Pool.Length == 0 ? null : message.Pool, addresses,
            Enum.IsDefined((AllocationFailure)message.Failure) ? (AllocationFailure)message.Failure : AllocationFailure.InvalidRequest,
            message.Reason);
    }
}
