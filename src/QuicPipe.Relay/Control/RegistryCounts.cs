namespace QuicPipe.Relay.Control;

/// <summary>What a <see cref="CidRegistry"/> holds and has done, for stats and tests.</summary>
public sealed record RegistryCounts
{
    public int Identities { get; init; }

    public int Registrations { get; init; }

    /// <summary>CIDs routed by the registry (each also an entry in the CID table).</summary>
    public int Cids { get; init; }

    /// <summary>Times a derived registration's window moved ahead because one of its CIDs was used.</summary>
    public long WindowAdvances { get; init; }

    /// <summary>Use notices dropped because the queue was full (they recur, so nothing is lost for good).</summary>
    public long RouteUsesDropped { get; init; }

    /// <summary>Registrations removed because they expired or their grace period after disconnect ran out.</summary>
    public long Expired { get; init; }
}
