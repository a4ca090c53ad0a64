namespace QuicPipe.Mesh.Internal;

/// <summary>
/// A probe this node has seen, until it expires: where it came from (null: our own dial), the branches it went out on
/// that have not answered, and whether a FOUND answer already went back (later ones are released).
/// </summary>
internal sealed class ProbeState(NeighborLink? from, long expiresTicks)
{
    public NeighborLink? From { get; } = from;

    public long ExpiresTicks { get; } = expiresTicks;

    public HashSet<NeighborLink> Outstanding { get; } = [];

    public bool Answered { get; set; }

    /// <summary>Our own dial's outcome: the circuit's first hop, from the first FOUND answer.</summary>
    public TaskCompletionSource<CircuitHop>? Found { get; init; }

    /// <summary>Our own re-route: the circuit whose broken path the FOUND answer replaces.</summary>
    public LocalCircuit? Resuming { get; init; }

    /// <summary>Our own dial: the key the new circuit is known by at its target.</summary>
    public byte[]? Key { get; init; }
}
