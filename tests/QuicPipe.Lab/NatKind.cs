namespace QuicPipe.Lab;

/// <summary>How a lab NAT router maps and filters; tests/lab/natlab.sh documents what each one guarantees.</summary>
public enum NatKind
{
    /// <summary>Plain routing: the peer is reachable at its own address.</summary>
    None,

    /// <summary>Endpoint-independent mapping; anyone may send to a mapping.</summary>
    FullCone,

    /// <summary>Endpoint-independent mapping; only addresses the peer sent to may send back.</summary>
    AddressRestricted,

    /// <summary>Endpoint-independent mapping; only address and port pairs the peer sent to may send back.</summary>
    PortRestricted,

    /// <summary>Endpoint-dependent mapping (a new external port per destination), port-restricted filtering.</summary>
    Symmetric,

    /// <summary>
    /// Port-restricted, but without an input filter: an unsolicited packet for the router itself is delivered there
    /// and its conntrack entry takes the 4-tuple (a bare masquerade rule on a server or cloud instance).
    /// </summary>
    BareMasquerade,
}

/// <summary>The names natlab.sh uses for <see cref="NatKind"/>.</summary>
public static class NatKindNames
{
    public static string ScriptName(this NatKind kind) => kind switch
    {
        NatKind.None => "none",
        NatKind.FullCone => "full-cone",
        NatKind.AddressRestricted => "address-restricted",
        NatKind.PortRestricted => "port-restricted",
        NatKind.Symmetric => "symmetric",
        NatKind.BareMasquerade => "bare-masquerade",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>True for the kinds whose mapping is the same whatever the destination.</summary>
    public static bool IsEndpointIndependent(this NatKind kind) =>
        kind is NatKind.FullCone or NatKind.AddressRestricted or NatKind.PortRestricted or NatKind.BareMasquerade;
}
