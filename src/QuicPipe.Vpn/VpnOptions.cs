using QuicPipe.Quic;

namespace QuicPipe.Vpn;

/// <summary>A peer of the VPN and the addresses it may use: WireGuard's cryptokey routing, by NodeId.</summary>
/// <param name="NodeId">Who the peer is (its key).</param>
/// <param name="AllowedPrefixes">
/// Where packets to it go (a packet read from the TUN device whose destination is in one of these goes to this peer,
/// the longest prefix winning across peers) and what it may send (a packet from it whose source is not in its own
/// prefixes is dropped and counted).
/// </param>
public sealed record VpnPeerOptions(NodeId NodeId, IReadOnlyList<IpPrefix> AllowedPrefixes);

/// <summary>Settings of a <see cref="VpnRouter"/>.</summary>
public sealed class VpnOptions
{
    /// <summary>The peers; each prefix belongs to one peer.</summary>
    public IList<VpnPeerOptions> Peers { get; } = [];

    /// <summary>
    /// Packets held per peer while its connection is being dialled (what WireGuard holds during a handshake); more are
    /// dropped and counted.
    /// </summary>
    public int PendingPacketsPerPeer { get; set; } = 64;

    /// <summary>After a failed dial, packets for that peer are dropped (counted) for this long before the next try.</summary>
    public TimeSpan RedialDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Checks the settings; throws <see cref="ArgumentException"/> naming what is wrong.</summary>
    public void Validate()
    {
        if (Peers.Count == 0)
        {
            throw new ArgumentException("A VPN needs at least one peer.");
        }

        var seen = new HashSet<NodeId>();
        var owners = new Dictionary<IpPrefix, NodeId>();
        foreach (var peer in Peers)
        {
            if (!seen.Add(peer.NodeId))
            {
                throw new ArgumentException($"Peer {peer.NodeId} is listed twice; give all its prefixes in one entry.");
            }

            if (peer.AllowedPrefixes.Count == 0)
            {
                throw new ArgumentException($"Peer {peer.NodeId} has no allowed prefix.");
            }

            foreach (var prefix in peer.AllowedPrefixes)
            {
                if (owners.TryGetValue(prefix, out var owner) && owner != peer.NodeId)
                {
                    throw new ArgumentException($"The prefix {prefix} is given to both {owner} and {peer.NodeId}: a prefix routes to one peer only.");
                }

                owners[prefix] = peer.NodeId;
            }
        }

        if (PendingPacketsPerPeer is < 0 or > 4096)
        {
            throw new ArgumentOutOfRangeException(nameof(PendingPacketsPerPeer), PendingPacketsPerPeer, "0 to 4096 packets.");
        }

        if (RedialDelay < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(RedialDelay), RedialDelay, "Not negative.");
        }
    }
}
