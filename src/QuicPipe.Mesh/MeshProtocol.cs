using QuicPipe.Peer;
using QuicPipe.Quic;

namespace QuicPipe.Mesh;

/// <summary>The mesh's wire constants (docs/circuits.md), and how a peer is set up to carry mesh links.</summary>
public static class MeshProtocol
{
    /// <summary>ALPN of neighbour links: it keeps them apart from tunnel connections on the same peer endpoint.</summary>
    public const string Alpn = "quicpipe-mesh/1";

    /// <summary>Bytes in front of every cell's inner QUIC packet, however the link carries it: the circuit id, big-endian.</summary>
    public const int CellHeaderSize = 4;

    /// <summary>
    /// Smallest DATAGRAM payload a link must carry before circuits use it: a 1200-byte inner QUIC packet (an Initial's
    /// minimum, RFC 9000 §14.1) and the cell header.
    /// </summary>
    public const int MinimumCellSize = 1200 + CellHeaderSize;

    /// <summary>Bytes of the random key a circuit's first probe carries and its re-route probes name it by.</summary>
    internal const int CircuitKeySize = 16;

    /// <summary>
    /// Lets <paramref name="neighbors"/> dial <paramref name="options"/>' peer for mesh links (and for nothing else):
    /// call before the peer endpoint is created.
    /// </summary>
    public static void AllowNeighbors(PeerEndpointOptions options, IEnumerable<NodeId> neighbors)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(neighbors);
        if (!options.ProtocolDialers.TryGetValue(Alpn, out var allowed))
        {
            allowed = new HashSet<NodeId>();
            options.ProtocolDialers[Alpn] = allowed;
        }

        foreach (var neighbor in neighbors)
        {
            allowed.Add(neighbor);
        }
    }
}
