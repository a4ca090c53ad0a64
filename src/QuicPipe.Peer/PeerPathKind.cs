namespace QuicPipe.Peer;

/// <summary>Which way a peer connection's packets go right now.</summary>
public enum PeerPathKind
{
    /// <summary>Through the relay (the start, and the fallback).</summary>
    Relayed,

    /// <summary>Straight to the other peer's address (its NAT's mapping, or its own address).</summary>
    Direct,
}
