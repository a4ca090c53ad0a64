namespace QuicPipe.Dataplane;

/// <summary>
/// Which endpoint a connection ID leads to, carried in the top bit of its first byte so that the relay
/// (and its XDP program) can tell its own connections from the peer-to-peer traffic it forwards.
/// </summary>
public enum CidNamespace
{
    /// <summary>Top bit 0: a connection between two peers; the relay forwards it.</summary>
    PeerToPeer = 0,

    /// <summary>Top bit 1: a connection that ends at the relay (its control service).</summary>
    Relay = 1,
}
