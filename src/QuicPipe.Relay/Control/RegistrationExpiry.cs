using System.Diagnostics;
using QuicPipe.Dataplane;

namespace QuicPipe.Relay.Control;

/// <summary>
/// When registrations end: each at its lifetime (renewed by a refresh), and all of an identity's a grace period
/// after its control connection ends unless it registers or refreshes again. Counts what expired.
/// Called under the registry's lock.
/// </summary>
internal sealed class RegistrationExpiry
{
    // Read only for its clock (NowMs), the one registrations expire on.
    private readonly CidTable _table;
    private readonly RegistryOptions _options;
    private readonly CidOwners _owners;
    private readonly Lock _registryLock;
    private long _expired;

    public RegistrationExpiry(CidTable table, RegistryOptions options, CidOwners owners, Lock registryLock)
    {
        _table = table;
        _options = options;
        _owners = owners;
        _registryLock = registryLock;
    }

    /// <summary>Registrations removed because they expired or their identity's grace period ran out.</summary>
    public long Expired => _expired;

    /// <summary>
    /// The control connection <paramref name="session"/> of the identity ended: unless a newer one has registered or
    /// refreshed since, its grace period starts now.
    /// </summary>
    public void StartGrace(IdentityRecord identity, long session)
    {
        Debug.Assert(_registryLock.IsHeldByCurrentThread, "called under the registry's lock");
        if (identity.Session == session && identity.GraceDeadlineMs is null)
        {
            identity.GraceDeadlineMs = _table.NowMs + (long)_options.DisconnectGrace.TotalMilliseconds;
        }
    }

    /// <summary>Every registration of the identity expires a lifetime from now; returns the longest lifetime.</summary>
    public long Renew(IdentityRecord identity)
    {
        Debug.Assert(_registryLock.IsHeldByCurrentThread, "called under the registry's lock");
        var nowMs = _table.NowMs;
        long longest = 0;
        foreach (var registration in identity.Registrations)
        {
            registration.ExpiresAtMs = nowMs + registration.LifetimeMs;
            longest = Math.Max(longest, registration.LifetimeMs);
        }

        return longest;
    }

    /// <summary>
    /// Removes registrations expired at <paramref name="nowMs"/> (table clock) and everything of identities whose
    /// grace period ran out; returns how many registrations went.
    /// </summary>
    public int RemoveExpired(long nowMs)
    {
        Debug.Assert(_registryLock.IsHeldByCurrentThread, "called under the registry's lock");
        var removed = 0;
        var emptied = new List<IdentityRecord>();
        foreach (var identity in _owners.Identities)
        {
            var graceOver = identity.GraceDeadlineMs is { } deadline && deadline <= nowMs;
            for (var i = identity.Registrations.Count - 1; i >= 0; i--)
            {
                var registration = identity.Registrations[i];
                if (graceOver || registration.ExpiresAtMs <= nowMs)
                {
                    _owners.RemoveRegistration(identity, registration);
                    removed++;
                }
            }

            if (identity.Registrations.Count == 0)
            {
                emptied.Add(identity);
            }
        }

        foreach (var identity in emptied)
        {
            _owners.RemoveIdentityIfEmpty(identity);
        }

        _expired += removed;
        return removed;
    }
}
