namespace QuicPipe.Lab;

/// <summary>A host of a lab: one network namespace each.</summary>
public enum LabHost
{
    /// <summary>Peer A, 10.77.1.2, behind <see cref="NatA"/>.</summary>
    A,

    /// <summary>Peer B, 10.77.2.2, behind <see cref="NatB"/>.</summary>
    B,

    /// <summary>The relay on the public segment, 198.18.0.10 and 198.18.0.11.</summary>
    R,

    /// <summary>A's NAT router, 198.18.0.1 on the public segment.</summary>
    NatA,

    /// <summary>B's NAT router, 198.18.0.2 on the public segment.</summary>
    NatB,
}
