namespace QuicPipe.Dataplane;

/// <summary>
/// What a connection ID maps to in a <see cref="CidTable"/>: where to forward (or, for a route made by
/// <see cref="Local"/>, which of this node's connections takes the packet), who owns the route, until when.
/// </summary>
public readonly struct CidRoute
{
    public CidRoute(PeerAddress endpoint, ulong ownerId, long expiresAtMs)
    {
        Endpoint = endpoint;
        OwnerId = ownerId;
        ExpiresAtMs = expiresAtMs;
    }

    /// <summary>Where to forward packets for this connection ID (unused by a local route).</summary>
    public PeerAddress Endpoint { get; }

    // The local connection's slot plus one, so that 0 (every forwarding route, and default) means "not local".
    // Declared here, after the 28-byte Endpoint, it fills padding: the struct stays 48 bytes, a table entry 88.
    private readonly int _localSlotPlusOne;

    /// <summary>Who registered the route; 0 for a static route.</summary>
    public ulong OwnerId { get; }

    /// <summary>
    /// When the route stops being valid, on the table's clock (<see cref="CidTable.NowMs"/>);
    /// <see cref="long.MaxValue"/> means never. A route is expired once now is at or past this instant.
    /// </summary>
    public long ExpiresAtMs { get; }

    /// <summary>Whether packets for this connection ID end at this node, at connection <see cref="LocalSlot"/>.</summary>
    public bool IsLocal => _localSlotPlusOne != 0;

    /// <summary>The slot of the local connection (an index into the owner's connection table); -1 for a forwarding route.</summary>
    public int LocalSlot => _localSlotPlusOne - 1;

    private CidRoute(int localSlot, ulong ownerId, long expiresAtMs)
    {
        _localSlotPlusOne = localSlot + 1;
        OwnerId = ownerId;
        ExpiresAtMs = expiresAtMs;
    }

    /// <summary>
    /// A route to one of this node's own connections: the CID lookup stage marks its packets
    /// <see cref="PacketVerdict.Local"/> with <paramref name="slot"/> in <see cref="PacketBatch.LocalSlots"/>.
    /// </summary>
    public static CidRoute Local(int slot, ulong ownerId, long expiresAtMs)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(slot);
        ArgumentOutOfRangeException.ThrowIfEqual(slot, int.MaxValue);
        return new CidRoute(slot, ownerId, expiresAtMs);
    }

    internal bool IsExpiredAt(long nowMs) => nowMs >= ExpiresAtMs;
}
