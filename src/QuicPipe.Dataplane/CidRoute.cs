namespace QuicPipe.Dataplane;

/// <summary>What a connection ID maps to in a <see cref="CidTable"/>: where to forward, who owns the route, until when.</summary>
public readonly struct CidRoute
{
    public CidRoute(PeerAddress endpoint, ulong ownerId, long expiresAtMs)
    {
        Endpoint = endpoint;
        OwnerId = ownerId;
        ExpiresAtMs = expiresAtMs;
    }

    /// <summary>Where to forward packets for this connection ID.</summary>
    public PeerAddress Endpoint { get; }

    /// <summary>Who registered the route; 0 for a static route.</summary>
    public ulong OwnerId { get; }

    /// <summary>
    /// When the route stops being valid, on the table's clock (<see cref="CidTable.NowMs"/>);
    /// <see cref="long.MaxValue"/> means never. A route is expired once now is at or past this instant.
    /// </summary>
    public long ExpiresAtMs { get; }

    internal bool IsExpiredAt(long nowMs) => nowMs >= ExpiresAtMs;
}
