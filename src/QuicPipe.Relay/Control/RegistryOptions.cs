namespace QuicPipe.Relay.Control;

/// <summary>Limits and lifetimes of a <see cref="CidRegistry"/>. Every bound exists so a flood of registrations costs bounded memory.</summary>
public sealed class RegistryOptions
{
    /// <summary>Length of the CIDs the relay routes (and derives): must match the relay's header parsing.</summary>
    public int CidLength { get; set; } = 12;

    /// <summary>Most CIDs one identity may have routed at once, over all its registrations.</summary>
    public int MaxCidsPerIdentity { get; set; } = 1024;

    /// <summary>Most registrations (CID keys, plus one for explicit CIDs) one identity may hold.</summary>
    public int MaxRegistrationsPerIdentity { get; set; } = 8;

    /// <summary>
    /// Most identities holding registrations at once (default 16,384: at least 16 CIDs each in the default route
    /// table). The relay's control endpoint takes as many connections.
    /// </summary>
    public int MaxIdentities { get; set; } = 16_384;

    /// <summary>
    /// Most identities registered from one source address at once (default 64): keys cost nothing to make, so one
    /// host could otherwise register as many identities as the relay serves.
    /// </summary>
    public int MaxIdentitiesPerAddress { get; set; } = 64;

    /// <summary>Most identities registered from one /24 (IPv4) or /64 (IPv6) at once (default 256).</summary>
    public int MaxIdentitiesPerPrefix { get; set; } = 256;

    /// <summary>
    /// Most CIDs routed for the identities of one source address, together (default 16,384: a sixteenth of the
    /// default route table, the CIDs of 16 identities at their full quota).
    /// </summary>
    public int MaxCidsPerAddress { get; set; } = 16_384;

    /// <summary>Most CIDs routed for the identities of one /24 or /64, together (default 65,536: a quarter of the default route table).</summary>
    public int MaxCidsPerPrefix { get; set; } = 65_536;

    /// <summary>Largest window of derived CIDs a registration may ask for.</summary>
    public int MaxWindow { get; set; } = 256;

    /// <summary>Lifetime of a registration that asks for none.</summary>
    public TimeSpan DefaultLifetime { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Longest lifetime a registration gets; longer requests are cut to it.</summary>
    public TimeSpan MaxLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long an identity's routes outlive its control connection, so a reconnecting peer keeps them.</summary>
    public TimeSpan DisconnectGrace { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Capacity of the queue of "this CID was used" notices from the forwarding stage (a power of two).</summary>
    public int RouteUseQueueCapacity { get; set; } = 4096;

    /// <summary>A copy, for a component that must change a setting without changing its caller's object.</summary>
    internal RegistryOptions Clone() => (RegistryOptions)MemberwiseClone();

    internal void Validate()
    {
        if (CidLength is < Dataplane.CidDerivation.MinLength or > Dataplane.ConnectionId.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(CidLength), CidLength, "Derivable CID lengths are 4 to 20.");
        }

        if (MaxCidsPerIdentity < 1 || MaxRegistrationsPerIdentity < 1 || MaxIdentities < 1 || MaxWindow < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxCidsPerIdentity), "Registry limits are at least 1.");
        }

        if (MaxIdentitiesPerAddress < 1 || MaxIdentitiesPerPrefix < MaxIdentitiesPerAddress || MaxCidsPerAddress < 1 || MaxCidsPerPrefix < MaxCidsPerAddress)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxIdentitiesPerAddress), "Per-source quotas are at least 1, and a prefix's at least an address's.");
        }

        if (DefaultLifetime <= TimeSpan.Zero || MaxLifetime < DefaultLifetime)
        {
            throw new ArgumentOutOfRangeException(nameof(DefaultLifetime), "The default lifetime is positive and at most MaxLifetime.");
        }

        if (DisconnectGrace < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(DisconnectGrace), DisconnectGrace, "The grace period is not negative.");
        }
    }
}
