using QuicPipe.Quic;

namespace QuicPipe.Mesh;

/// <summary>A mesh node's neighbours, whom it builds circuits for, and its bounds (docs/circuits.md).</summary>
public sealed class MeshNodeOptions
{
    /// <summary>The nodes this one keeps a link to (each must list this one too).</summary>
    public ISet<NodeId> Neighbors { get; } = new HashSet<NodeId>();

    /// <summary>
    /// Whether circuits may end here: null (a node that only routes) refuses every circuit to it; otherwise the
    /// origins allowed to open one (the same rule as a direct dial's <c>--allow</c>).
    /// </summary>
    public Func<NodeId, bool>? AcceptCircuitsFrom { get; set; }

    /// <summary>Most nodes a probe's path may hold beyond its origin.</summary>
    public int HopLimit { get; set; } = 8;

    /// <summary>How long a dial waits for the target's answer before it reports the target unreachable.</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Probes taken per second from one neighbour (its burst: twice as many); beyond it they dead-end.</summary>
    public int ProbesPerSecondPerNeighbor { get; set; } = 100;

    /// <summary>Probe ids remembered at once (each for <see cref="ProbeTimeout"/>); beyond it new probes dead-end.</summary>
    public int MaxProbeStates { get; set; } = 4096;

    /// <summary>Circuits through or ending at this node at once; beyond it a FOUND answer is released.</summary>
    public int MaxCircuits { get; set; } = 1024;

    /// <summary>How long a circuit may stay pending (answered, no end-to-end traffic yet) before it is torn down.</summary>
    public TimeSpan PendingCircuitLifetime { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>An established circuit that carried nothing for this long is torn down (the ends keep it alive).</summary>
    public TimeSpan CircuitIdleTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A keep-alive on each link this often.</summary>
    public TimeSpan LinkKeepAliveInterval { get; set; } = TimeSpan.FromSeconds(0.5);

    /// <summary>A link that heard nothing for this long is down: every circuit on it is torn down, both ways.</summary>
    public TimeSpan LinkTimeout { get; set; } = TimeSpan.FromSeconds(2.5);

    /// <summary>
    /// How long a broken circuit's ends try to carry on over another path (docs/circuits.md, "Re-route"): the origin
    /// probes for the target again within it, the target keeps the connection for it; zero tears a broken circuit
    /// down at once.
    /// </summary>
    public TimeSpan RerouteWindow { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Whether this node sends cells inside each link's encryption (DATAGRAM frames: every node between decrypts and
    /// encrypts each one again) instead of unprotected on the link's path, forwarded by label as a relay forwards (the
    /// default: the inner packets are end-to-end encrypted either way). Encrypted hops cost about twice the CPU per byte
    /// and hide from someone watching two links that a cell on one is the cell on the other (docs/circuits.md).
    /// </summary>
    public bool EncryptedHops { get; set; }

    /// <summary>How long to wait before dialing a neighbour again after a failed dial or a lost link.</summary>
    public TimeSpan LinkRetryInterval { get; set; } = TimeSpan.FromSeconds(1);

    internal void Validate()
    {
        if (HopLimit is < 1 or > 32)
        {
            throw new ArgumentOutOfRangeException(nameof(HopLimit), HopLimit, "1 to 32 hops.");
        }

        if (ProbeTimeout <= TimeSpan.Zero || PendingCircuitLifetime <= TimeSpan.Zero || CircuitIdleTimeout <= TimeSpan.Zero || LinkRetryInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(ProbeTimeout), "Timeouts and intervals are positive.");
        }

        if (RerouteWindow < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(RerouteWindow), RerouteWindow, "Zero or more.");
        }

        if (LinkKeepAliveInterval <= TimeSpan.Zero || LinkTimeout <= 2 * LinkKeepAliveInterval)
        {
            throw new ArgumentOutOfRangeException(nameof(LinkTimeout), "The link timeout spans more than two keep-alive intervals.");
        }

        if (ProbesPerSecondPerNeighbor < 1 || MaxProbeStates < 16 || MaxCircuits < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxProbeStates), "Probe rate and circuit count at least 1, probe states at least 16.");
        }
    }
}
