namespace QuicPipe.Relay.Control;

/// <summary>Who routes one CID: the identity, its registration, the counter (derived CIDs) and whether the route reports use.</summary>
internal sealed class CidOwnership(IdentityRecord identity, Registration registration, long counter)
{
    public IdentityRecord Identity { get; } = identity;

    public Registration Registration { get; set; } = registration;

    public long Counter { get; set; } = counter;

    public bool ReportsUse { get; set; }
}
