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

    /// <summary>The items separated by ", " (as log lines show lists).</summary>
    public override string ToString() => string.Join(", ", AsImmutableArray());

    public static bool operator ==(EquatableArray<T> left, EquatableArray<T> right) => left.Equals(right);

    public static bool operator !=(EquatableArray<T> left, EquatableArray<T> right) => !left.Equals(right);

    public static implicit operator EquatableArray<T>(ImmutableArray<T> items) => new(items);
}

public static class EquatableArray
{
    public static EquatableArray<T> Create<T>(ReadOnlySpan<T> items) => new([.. items]);

    public static EquatableArray<T> ToEquatableArray<T>(this IEnumerable<T> items) => new([.. items]);
}

/// <summary>Object labels with value equality: a sorted array of pairs (small, and cheap to compare and to hold by the 100,000).</summary>
public sealed class LabelDictionary : IReadOnlyDictionary<string, string>, IEquatable<LabelDictionary>
{
    private readonly KeyValuePair<string, string>[] _labels;

    public static LabelDictionary Empty { get; } = new(null);

    public LabelDictionary(IEnumerable<KeyValuePair<string, string>>? labels)
    {
        _labels = labels is null ? [] : [.. labels];
        Array.Sort(_labels, (a, b) => string.CompareOrdinal(a.Key, b.Key));
        for (var i = 1; i < _labels.Length; i++)
        {
            if (_labels[i].Key == _labels[i - 1].Key)
                throw new ArgumentException($"duplicate label key '{_labels[i].Key}'", nameof(labels));
        }
    }

    public string this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException(key);

    public IEnumerable<string> Keys => _labels.Select(p => p.Key);

    public IEnumerable<string> Values => _labels.Select(p => p.Value);

    public int Count => _labels.Length;

    public bool ContainsKey(string key) => IndexOf(key) >= 0;

    public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out string value)
    {
        var index = IndexOf(key);
        value = index >= 0 ? _labels[index].Value : null;
        return index >= 0;
    }

    private int IndexOf(string key)
    {
        int low = 0, high = _labels.Length - 1;
        while (low <= high)
        {
            var middle = (low + high) >>> 1;
            var order = string.CompareOrdinal(_labels[middle].Key, key);
            if (order == 0)
                return middle;
            if (order < 0)
                low = middle + 1;
            else
                high = middle - 1;
        }
        return -1;
    }

    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, string>>)_labels).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public bool Equals(LabelDictionary? other) => other is not null && _labels.AsSpan().SequenceEqual(other._labels);

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
