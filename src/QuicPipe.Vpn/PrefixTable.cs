using System.Diagnostics.CodeAnalysis;
using QuicPipe.Vpn.Internal;

namespace QuicPipe.Vpn;

/// <summary>
/// Cryptokey routing's lookup: prefix -> value (a peer), answered by longest-prefix match over raw addresses
/// taken from packets. IPv4 and IPv6 prefixes live apart; an address only ever meets prefixes of its own family.
/// Built once and immutable, so any number of threads may look up at once; a lookup allocates nothing.
/// </summary>
/// <remarks>
/// The same routing serves both directions: outbound, the destination's match picks the peer to send to; inbound,
/// a packet from a peer whose source does not match back to that same peer is dropped (WireGuard's source filter).
/// </remarks>
public sealed class PrefixTable<TValue>
{
    private readonly PrefixLevels<uint, TValue> _v4;
    private readonly PrefixLevels<UInt128, TValue> _v6;

    /// <summary>Builds the table.</summary>
    /// <exception cref="ArgumentException">
    /// A prefix is <c>default</c>, or one prefix is given to two different values (one prefix, one peer). The same
    /// prefix given twice to the same value is kept once.
    /// </exception>
    public PrefixTable(IEnumerable<(IpPrefix Prefix, TValue Value)> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var seen = new Dictionary<IpPrefix, TValue>();
        var v4 = new List<(uint, int, TValue)>();
        var v6 = new List<(UInt128, int, TValue)>();
        var comparer = EqualityComparer<TValue>.Default;
        foreach (var (prefix, value) in entries)
        {
            if (prefix.Version == 0)
            {
                throw new ArgumentException("A prefix table entry has no prefix (default IpPrefix).", nameof(entries));
            }

            if (seen.TryGetValue(prefix, out var existing))
            {
                if (comparer.Equals(existing, value))
                {
                    continue;
                }

                throw new ArgumentException(
                    $"The prefix {prefix} is given to both {existing} and {value}: a prefix routes to one peer only.",
                    nameof(entries));
            }

            seen.Add(prefix, value);
            if (prefix.Version == 4)
            {
                v4.Add(((uint)prefix.Bits, prefix.PrefixLength, value));
            }
            else
            {
                v6.Add((prefix.Bits, prefix.PrefixLength, value));
            }
        }

        _v4 = new PrefixLevels<uint, TValue>(v4);
        _v6 = new PrefixLevels<UInt128, TValue>(v6);
        Count = seen.Count;
    }

    /// <summary>Distinct prefixes held.</summary>
    public int Count { get; }

    /// <summary>
    /// Finds the value of the longest prefix holding <paramref name="address"/>: raw from a packet, 4 bytes for
    /// IPv4, 16 for IPv6. False when no prefix holds it, or when the span is neither length.
    /// </summary>
    public bool TryLookup(ReadOnlySpan<byte> address, [MaybeNullWhen(false)] out TValue value)
    {
        switch (address.Length)
        {
            case AddressBits.IPv4Length:
                return _v4.TryLookup(AddressBits.ReadIPv4(address), out value);
            case AddressBits.IPv6Length:
                return _v6.TryLookup(AddressBits.ReadIPv6(address), out value);
            default:
                value = default;
                return false;
        }
    }
}
