using System.Collections.Concurrent;

namespace BgpLb.Config;

/// <summary>
/// Shares equal immutable values (a Service's ports, an endpoint summary), so that 100,000 Services with the same
/// ports hold one array. Bounded: past <paramref name="capacity"/> distinct values it stops adding.
/// </summary>
internal sealed class Interner<T>(int capacity)
    where T : IEquatable<T>
{
    private readonly ConcurrentDictionary<T, T> _values = new();

    public T Intern(T value)
    {
        if (_values.TryGetValue(value, out var shared))
            return shared;
        return _values.Count < capacity ? _values.GetOrAdd(value, value) : value;
    }
}
