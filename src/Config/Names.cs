using System.Collections.Concurrent;

namespace BgpLb.Config;

/// <summary>
/// Shares the strings that repeat across objects (namespaces, node names, label keys, protocols), so that 100,000
/// Services hold one "default" and one "TCP". Bounded: past <see cref="Capacity"/> distinct strings it stops adding.
/// </summary>
internal static class Names
{
    private const int Capacity = 100_000;
    private static readonly ConcurrentDictionary<string, string> Pool = new(StringComparer.Ordinal);

    public static string Intern(string value)
    {
        if (Pool.TryGetValue(value, out var shared))
            return shared;
        return Pool.Count < Capacity ? Pool.GetOrAdd(value, value) : value;
    }
}
