namespace QuicPipe.Relay.Control;

/// <summary>Cumulative counters of a <see cref="RelayControlService"/> and its registry, for the stats reporter.</summary>
public sealed record RelayControlStats
{
    /// <summary>Control connections open now (with a NodeId and a control stream).</summary>
    public int Sessions { get; init; }

    public long ConnectionsAccepted { get; init; }

    /// <summary>Connections closed because the client presented no certificate.</summary>
    public long RefusedWithoutCertificate { get; init; }

    public long Registrations { get; init; }

    public long RegistrationsRefused { get; init; }

    public long Refreshes { get; init; }

    public long SignalsDelivered { get; init; }

    public long SignalsUnknownNode { get; init; }

    public long SignalsRateLimited { get; init; }

    /// <summary>Malformed messages and framing errors seen.</summary>
    public long ProtocolErrors { get; init; }

    /// <summary>Control connections refused because their NodeId is not on the allow-list (relay --peers).</summary>
    public long RefusedNotAllowed { get; init; }

    /// <summary>Control connections refused because their source address, or its /24 or /64, had its quota of them.</summary>
    public long RefusedPerSource { get; init; }

    public required RegistryCounts Registry { get; init; }
}
