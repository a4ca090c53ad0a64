namespace QuicPipe.Mesh.Internal;

/// <summary>
/// This node's part of one circuit: the link and circuit id toward the origin (none at the origin) and toward the
/// target (none at the target), or the local end. Cells arriving on one side leave on the other under its id.
/// </summary>
internal sealed class CircuitHop(NeighborLink? inLink, uint inId, NeighborLink? outLink, uint outId, LocalCircuit? local, long createdTicks)
{
    private long _lastCellTicks;
    private int _closed;

    /// <summary>Toward the origin (null at the origin).</summary>
    public NeighborLink? InLink { get; } = inLink;

    public uint InId { get; } = inId;

    /// <summary>Toward the target (null at the target).</summary>
    public NeighborLink? OutLink { get; } = outLink;

    public uint OutId { get; } = outId;

    /// <summary>The end-to-end side when the circuit ends here.</summary>
    public LocalCircuit? Local { get; } = local;

    public long CreatedTicks { get; } = createdTicks;

    /// <summary>When a cell last crossed (0: never: the circuit is still pending).</summary>
    public long LastCellTicks => Volatile.Read(ref _lastCellTicks);

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    public void Touch(long now) => Volatile.Write(ref _lastCellTicks, now);

    /// <summary>True for the one caller that closes it.</summary>
    public bool TryClose() => Interlocked.Exchange(ref _closed, 1) == 0;

    /// <summary>The side a cell or close from <paramref name="from"/> (null: the local end) goes on to.</summary>
    public (NeighborLink? Link, uint Id) Beyond(NeighborLink? from) =>
        from is not null && from == OutLink ? (InLink, InId)
        : from is not null && from == InLink ? (OutLink, OutId)
        : InLink is null ? (OutLink, OutId) : (InLink, InId);
}
