using System.Collections;
using System.Collections.Immutable;
using System.Runtime.CompilerServices;

namespace BgpLb.Model;

/// <summary>
/// An immutable array with value equality (element by element), so configuration records compare by content.
/// Supports collection expressions, indexing, <c>foreach</c> and LINQ.
/// </summary>
[CollectionBuilder(typeof(EquatableArray), nameof(EquatableArray.Create))]
public readonly struct EquatableArray<T> : IEquatable<EquatableArray<T>>, IReadOnlyList<T>
{
    private readonly ImmutableArray<T> _items;

    public EquatableArray(ImmutableArray<T> items) => _items = items.IsDefault ? [] : items;

    public int Length => _items.IsDefault ? 0 : _items.Length;

    public int Count => Length;

    public bool IsEmpty => Length == 0;

    public T this[int index] => _items[index];

    public ImmutableArray<T> AsImmutableArray() => _items.IsDefault ? [] : _items;

    public bool Equals(EquatableArray<T> other) => AsImmutableArray().SequenceEqual(other.AsImmutableArray());

    public override bool Equals(object? obj) => obj is EquatableArray<T> other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var item in AsImmutableArray())
        {
            hash.Add(item);
        }
        return hash.ToHashCode();
    }

    public ImmutableArray<T>.Enumerator GetEnumerator() => AsImmutableArray().GetEnumerator();

    IEnumerator<T> IEnumerable<T>.GetEnumerator() => ((IEnumerable<T>)AsImmutableArray()).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => ((IEnumerable)AsImmutableArray()).GetEnumerator();

    public override string ToString() => $"[{string.Join(", ", AsImmutableArray())}]";

    public static bool operator ==(EquatableArray<T> left, EquatableArray<T> right) => left.Equals(right);

    public static bool operator !=(EquatableArray<T> left, EquatableArray<T> right) => !left.Equals(right);

    public static implicit operator EquatableArray<T>(ImmutableArray<T> items) => new(items);
}

public static class EquatableArray
{
    public static EquatableArray<T> Create<T>(ReadOnlySpan<T> items) => new([.. items]);

    public static EquatableArray<T> ToEquatableArray<T>(this IEnumerable<T> items) => new([.. items]);
}

/// <summary>Object labels with value equality (sorted by key).</summary>
public sealed class LabelDictionary : IReadOnlyDictionary<string, string>, IEquatable<LabelDictionary>
{
    private readonly ImmutableSortedDictionary<string, string> _labels;

    public static LabelDictionary Empty { get; } = new(null);

    public LabelDictionary(IEnumerable<KeyValuePair<string, string>>? labels) =>
        _labels = (labels ?? []).ToImmutableSortedDictionary(StringComparer.Ordinal, StringComparer.Ordinal);

    public string this[string key] => _labels[key];

    public IEnumerable<string> Keys => _labels.Keys;

    public IEnumerable<string> Values => _labels.Values;

    public int Count => _labels.Count;

    public bool ContainsKey(string key) => _labels.ContainsKey(key);

    public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out string value) => _labels.TryGetValue(key, out value);

    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => _labels.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public bool Equals(LabelDictionary? other) => other is not null && _labels.SequenceEqual(other._labels);

    public override bool Equals(object? obj) => Equals(obj as LabelDictionary);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var (key, value) in _labels)
        {
            hash.Add(key);
            hash.Add(value);
        }
        return hash.ToHashCode();
    }

    public override string ToString() => string.Join(',', _labels.Select(p => $"{p.Key}={p.Value}"));
}
