namespace QuicPipe.Mesh;

/// <summary>What a mesh node did since it started (a snapshot).</summary>
public sealed record MeshCounters
{
    /// <summary>Probes passed on to the neighbours (each probe id at most once).</summary>
    public long ProbesForwarded { get; init; }

    /// <summary>Copies of probes sent (a forwarded probe goes to several neighbours).</summary>
    public long ProbeCopiesSent { get; init; }

    /// <summary>Probes dropped as already seen (another branch of the flood brought them first).</summary>
    public long ProbesDuplicate { get; init; }

    /// <summary>Probes dropped for the hop limit, a path already holding this node, or nowhere left to send.</summary>
    public long ProbesDeadEnded { get; init; }

    /// <summary>Probes dropped by the per-neighbour rate limit or because the probe table was full.</summary>
    public long ProbesRefused { get; init; }

    /// <summary>Probe states held now (bounded by MeshNodeOptions.MaxProbeStates).</summary>
    public int ProbeStates { get; init; }

    /// <summary>Cells (inner packets) relayed from one link to another.</summary>
    public long CellsForwarded { get; init; }

    /// <summary>Bytes of those cells (headers included).</summary>
    public long CellBytesForwarded { get; init; }

    /// <summary>
    /// Of <see cref="CellsForwarded"/>, those sent on inside the next link's encryption (DATAGRAM frames:
    /// <see cref="MeshNodeOptions.EncryptedHops"/>); the others went unprotected, switched by label.
    /// </summary>
    public long CellsForwardedEncrypted { get; init; }

    /// <summary>Cells dropped: no such circuit on the link, or the next link could not take it (its DATAGRAM queue full, its path not read yet).</summary>
    public long CellsDropped { get; init; }

    /// <summary>Circuits through or ending at this node now.</summary>
    public int Circuits { get; init; }

    /// <summary>Neighbour links up now.</summary>
    public int Links { get; init; }
}
