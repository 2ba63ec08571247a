using System.Buffers;

namespace BgpLb.Config.Yaml;

/// <summary>
/// The keys of every mapping of one document, to find duplicates: a short mapping compares its keys one by one, a
/// mapping past <see cref="LinearLimit"/> keys also enters them in a hash table.
/// </summary>
internal sealed class KeySet : IDisposable
{
    private const int LinearLimit = 16;

    private byte[] _names = ArrayPool<byte>.Shared.Rent(4096);
    private int _namesLength;
    private Entry[] _entries = ArrayPool<Entry>.Shared.Rent(256);
    private int _count;
    private int _mappings;
    // Entry index + 1 of the keys of long mappings; 0 is free.
    private int[] _table = [];
    private int _tableCount;

    public Mapping BeginMapping() => new(++_mappings);

    /// <summary>Adds <paramref name="name"/> to <paramref name="mapping"/>, or returns false if it is already there.</summary>
    public bool TryAdd(ref Mapping mapping, ReadOnlySpan<byte> name)
    {
        if (mapping.Count < LinearLimit)
        {
            for (var index = mapping.Last; index >= 0; index = _entries[index].Previous)
            {
                if (NameOf(index).SequenceEqual(name))
                {
                    return false;
                }
            }
        }
        else
        {
            if (mapping.Count == LinearLimit)
            {
                for (var index = mapping.Last; index >= 0; index = _entries[index].Previous)
                {
                    Insert(index);
                }
            }
            if (Find(mapping.Id, name, Hash(name)) >= 0)
            {
                return false;
            }
        }
        var added = Append(mapping, name);
        mapping.Last = added;
        mapping.Count++;
        if (mapping.Count > LinearLimit)
        {
            Insert(added);
        }
        return true;
    }

    /// <summary>Forgets every key; the next document starts empty.</summary>
    public void Clear()
    {
        _namesLength = 0;
        _count = 0;
        _mappings = 0;
        if (_tableCount > 0)
        {
            Array.Clear(_table);
            _tableCount = 0;
        }
    }

    private ReadOnlySpan<byte> NameOf(int index) => _names.AsSpan(_entries[index].Offset, _entries[index].Length);

    private static int Hash(ReadOnlySpan<byte> name)
    {
        var hash = new HashCode();
        hash.AddBytes(name);
        return hash.ToHashCode();
    }

    private int Append(in Mapping mapping, ReadOnlySpan<byte> name)
    {
        if (_namesLength + name.Length > _names.Length)
        {
            _names = Grow(_names, _namesLength, _namesLength + name.Length);
        }
        if (_count == _entries.Length)
        {
            _entries = Grow(_entries, _count, _count + 1);
        }
        name.CopyTo(_names.AsSpan(_namesLength));
        _entries[_count] = new Entry(_namesLength, name.Length, mapping.Last, mapping.Id, 0);
        _namesLength += name.Length;
        return _count++;
    }

    private void Insert(int index)
    {
        if ((_tableCount + 1) * 2 > _table.Length)
        {
            Rehash(Math.Max(64, _table.Length * 2));
        }
        ref var entry = ref _entries[index];
        entry.Hash = Hash(NameOf(index));
        Place(index, entry.Hash);
        _tableCount++;
    }

    private void Place(int index, int hash)
    {
        var mask = _table.Length - 1;
        var slot = hash & mask;
        while (_table[slot] != 0)
        {
            slot = (slot + 1) & mask;
        }
        _table[slot] = index + 1;
    }

    private int Find(int mappingId, ReadOnlySpan<byte> name, int hash)
    {
        var mask = _table.Length - 1;
        for (var slot = hash & mask; _table[slot] != 0; slot = (slot + 1) & mask)
        {
            var index = _table[slot] - 1;
            ref readonly var entry = ref _entries[index];
            if (entry.Hash == hash && entry.MappingId == mappingId && NameOf(index).SequenceEqual(name))
            {
                return index;
            }
        }
        return -1;
    }

    private void Rehash(int capacity)
    {
        var old = _table;
        _table = new int[capacity];
        foreach (var occupied in old)
        {
            if (occupied != 0)
            {
                Place(occupied - 1, _entries[occupied - 1].Hash);
            }
        }
    }

    private static T[] Grow<T>(T[] array, int used, int needed)
    {
        var larger = ArrayPool<T>.Shared.Rent(Math.Max(needed, array.Length * 2));
        array.AsSpan(0, used).CopyTo(larger);
        ArrayPool<T>.Shared.Return(array);
        return larger;
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_names);
        ArrayPool<Entry>.Shared.Return(_entries);
        _names = [];
        _entries = [];
    }

    /// <summary>One mapping being read: its id and the last of its keys, which chain back to the first.</summary>
    public struct Mapping(int id)
    {
        public readonly int Id = id;
        public int Last = -1;
        public int Count;
    }

    private record struct Entry(int Offset, int Length, int Previous, int MappingId, int Hash);
}
