using QuicPipe.Dataplane;

namespace QuicPipe.Quic;

/// <summary>
/// Counts what each source address, and each source prefix (a /24 for IPv4, a /64 for IPv6), holds against a limit
/// for each: so that one host, or one small network, cannot take what a shared limit leaves for everybody.
/// Keyed by <see cref="SourceAddressKey"/>: ports do not count, IPv4-mapped IPv6 addresses count as the IPv4 address.
/// Not thread-safe: its owner serializes the calls.
/// </summary>
public sealed class SourceAddressLimiter
{
    private readonly Dictionary<SourceAddressKey, int> _byAddress = [];
    private readonly Dictionary<SourceAddressKey, int> _byPrefix = [];

    /// <param name="perAddress">Most held at once by one address (at least 1).</param>
    /// <param name="perPrefix">Most held at once by one /24 or /64 (at least <paramref name="perAddress"/>).</param>
    public SourceAddressLimiter(int perAddress, int perPrefix)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perAddress, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(perPrefix, perAddress);
        PerAddress = perAddress;
        PerPrefix = perPrefix;
    }

    /// <summary>The limit for one address.</summary>
    public int PerAddress { get; }

    /// <summary>The limit for one /24 (IPv4) or /64 (IPv6).</summary>
    public int PerPrefix { get; }

    /// <summary>Addresses that hold something now.</summary>
    public int Addresses => _byAddress.Count;

    /// <summary>Takes one unit for <paramref name="source"/> if neither its address nor its prefix is at its limit.</summary>
    public SourceLimitResult TryAcquire(in PeerAddress source)
    {
        var (address, prefix) = Keys(source);
        var result = Check(address, prefix);
        if (result == SourceLimitResult.Acquired)
        {
            _byAddress[address] = _byAddress.GetValueOrDefault(address) + 1;
            _byPrefix[prefix] = _byPrefix.GetValueOrDefault(prefix) + 1;
        }

        return result;
    }

    /// <summary>What <see cref="TryAcquire"/> would answer now, taking nothing: a cheap refusal before costlier checks.</summary>
    public SourceLimitResult Peek(in PeerAddress source)
    {
        var (address, prefix) = Keys(source);
        return Check(address, prefix);
    }

    private SourceLimitResult Check(SourceAddressKey address, SourceAddressKey prefix) =>
        _byAddress.GetValueOrDefault(address) >= PerAddress ? SourceLimitResult.AddressFull
        : _byPrefix.GetValueOrDefault(prefix) >= PerPrefix ? SourceLimitResult.PrefixFull
        : SourceLimitResult.Acquired;

    /// <summary>Gives back one unit <see cref="TryAcquire"/> took for <paramref name="source"/>.</summary>
    public void Release(in PeerAddress source)
    {
        var (address, prefix) = Keys(source);
        Decrement(_byAddress, address);
        Decrement(_byPrefix, prefix);
    }

    /// <summary>What <paramref name="source"/>'s address holds now.</summary>
    public int HeldBy(in PeerAddress source) => _byAddress.GetValueOrDefault(Keys(source).Address);

    /// <summary>What <paramref name="source"/>'s /24 or /64 holds now.</summary>
    public int HeldByPrefix(in PeerAddress source) => _byPrefix.GetValueOrDefault(Keys(source).Prefix);

    private static void Decrement(Dictionary<SourceAddressKey, int> counts, SourceAddressKey key)
    {
        if (!counts.TryGetValue(key, out var count))
        {
            return;
        }

        // Removed at zero, so the maps hold only sources that hold something: their size is bounded by the limits'.
        if (count <= 1)
        {
            counts.Remove(key);
        }
        else
        {
            counts[key] = count - 1;
        }
    }

    private static (SourceAddressKey Address, SourceAddressKey Prefix) Keys(in PeerAddress source) => SourceAddressKey.Of(source);
}

/// <summary>What <see cref="SourceAddressLimiter.TryAcquire"/> decided.</summary>
public enum SourceLimitResult
{
    /// <summary>Taken: give it back with <see cref="SourceAddressLimiter.Release"/>.</summary>
    Acquired,

    /// <summary>The source address holds its limit already.</summary>
    AddressFull,

    /// <summary>The source's /24 or /64 holds its limit already.</summary>
    PrefixFull,
}
