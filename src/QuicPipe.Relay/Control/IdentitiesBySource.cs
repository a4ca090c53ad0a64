using QuicPipe.Dataplane;
using QuicPipe.Quic;

namespace QuicPipe.Relay.Control;

/// <summary>
/// The identities whose routes lead to each source address and to each /24 or /64 (<see cref="SourceAddressKey"/>),
/// so that the per-source quotas can count what one host or one small network holds. Under the registry's lock.
/// </summary>
internal sealed class IdentitiesBySource
{
    private readonly Dictionary<SourceAddressKey, List<IdentityRecord>> _byAddress = [];
    private readonly Dictionary<SourceAddressKey, List<IdentityRecord>> _byPrefix = [];

    /// <summary>Source addresses with identities now.</summary>
    public int Addresses => _byAddress.Count;

    public void Add(IdentityRecord identity)
    {
        var (address, prefix) = SourceAddressKey.Of(identity.Address);
        Add(_byAddress, address, identity);
        Add(_byPrefix, prefix, identity);
    }

    public void Remove(IdentityRecord identity)
    {
        var (address, prefix) = SourceAddressKey.Of(identity.Address);
        Remove(_byAddress, address, identity);
        Remove(_byPrefix, prefix, identity);
    }

    /// <summary>Identities and CIDs at <paramref name="source"/>'s address and in its prefix, <paramref name="except"/> left out.</summary>
    public (SourceHoldings Address, SourceHoldings Prefix) HoldingsOf(in PeerAddress source, IdentityRecord? except)
    {
        var (address, prefix) = SourceAddressKey.Of(source);
        return (Sum(_byAddress, address, except), Sum(_byPrefix, prefix, except));
    }

    private static SourceHoldings Sum(Dictionary<SourceAddressKey, List<IdentityRecord>> map, SourceAddressKey key, IdentityRecord? except)
    {
        if (!map.TryGetValue(key, out var identities))
        {
            return default;
        }

        var count = 0;
        var cids = 0;
        foreach (var identity in identities)
        {
            if (identity != except)
            {
                count++;
                cids += identity.CidCount;
            }
        }

        return new SourceHoldings(count, cids);
    }

    private static void Add(Dictionary<SourceAddressKey, List<IdentityRecord>> map, SourceAddressKey key, IdentityRecord identity)
    {
        if (!map.TryGetValue(key, out var identities))
        {
            identities = [];
            map.Add(key, identities);
        }

        identities.Add(identity);
    }

    private static void Remove(Dictionary<SourceAddressKey, List<IdentityRecord>> map, SourceAddressKey key, IdentityRecord identity)
    {
        if (map.TryGetValue(key, out var identities) && identities.Remove(identity) && identities.Count == 0)
        {
            map.Remove(key);
        }
    }
}

/// <summary>What the identities of one source address or prefix hold.</summary>
internal readonly record struct SourceHoldings(int Identities, int Cids);
