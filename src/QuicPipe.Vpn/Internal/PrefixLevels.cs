using System.Diagnostics.CodeAnalysis;
using System.Numerics;

namespace QuicPipe.Vpn.Internal;

/// <summary>
/// Longest-prefix match for one address family: one hash map per prefix length in use, longest first, so the
/// first hit wins. A lookup costs one masked probe per distinct length (a handful in practice, at most 33 or
/// 129), whatever the number of prefixes. Immutable after construction: readers need no lock.
/// </summary>
/// <remarks>
/// Chosen over a trie because allowed-IP sets use few distinct lengths (/32, /24, /16, /128, /64) and a hash probe
/// touches one or two cache lines where a trie walks one node per bit.
/// </remarks>
internal sealed class PrefixLevels<TKey, TValue>
    where TKey : unmanaged, IBinaryInteger<TKey>
{
    private readonly Level[] _levels;

    /// <param name="prefixes">Network (host bits clear), length, value; each network at most once per length.</param>
    public PrefixLevels(List<(TKey Network, int Length, TValue Value)> prefixes)
    {
        var byLength = new SortedDictionary<int, Dictionary<TKey, TValue>>(Comparer<int>.Create((a, b) => b.CompareTo(a)));
        foreach (var (network, length, value) in prefixes)
        {
            if (!byLength.TryGetValue(length, out var map))
            {
                map = [];
                byLength.Add(length, map);
            }

            map.Add(network, value);
        }

        _levels = new Level[byLength.Count];
        var i = 0;
        foreach (var (length, map) in byLength)
        {
            _levels[i++] = new Level(AddressBits.Mask<TKey>(length), map);
        }
    }

    public bool TryLookup(TKey address, [MaybeNullWhen(false)] out TValue value)
    {
        foreach (var level in _levels)
        {
            if (level.Map.TryGetValue(address & level.Mask, out value))
            {
                return true;
            }
        }

        value = default;
        return false;
    }

    private readonly record struct Level(TKey Mask, Dictionary<TKey, TValue> Map);
}
