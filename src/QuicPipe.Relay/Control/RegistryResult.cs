namespace QuicPipe.Relay.Control;

/// <summary>
/// The answer to a registry request: its status, a message for the peer when refused, and when accepted how
/// long the affected registrations live and how many CIDs the identity now has routed.
/// </summary>
public readonly record struct RegistryResult(RegistryStatus Status, string? Message, TimeSpan ExpiresIn, int CidCount)
{
    public bool IsOk => Status == RegistryStatus.Ok;

    internal static RegistryResult Refused(RegistryStatus status, string message) => new(status, message, TimeSpan.Zero, 0);
}
