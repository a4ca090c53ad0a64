using QuicPipe.Dataplane;

namespace QuicPipe.Relay.Control;

// Ownership and quotas: which identity owns which CID, the checks that keep a request within its identity's
// and the relay's quotas before anything changes, and taking CIDs, registrations and identities away.
public sealed partial class CidRegistry
{
    /// <summary>Null if the request may be applied as a whole; else why not. Changes nothing.</summary>
    private RegistryResult? CheckRegistration(IdentityRecord? identity, ReadOnlySpan<byte> cidKey, ConnectionId[] derivedCids, List<ConnectionId> explicitCids, long nowMs)
    {
        if (identity is null && _identities.Count >= _options.MaxIdentities)
        {
            return RegistryResult.Refused(RegistryStatus.QuotaExceeded, $"this relay serves at most {_options.MaxIdentities} identities");
        }

        var replaced = identity is not null && !cidKey.IsEmpty ? identity.FindDerived(cidKey) : null;
        var added = 0;
        foreach (var cid in derivedCids.Concat(explicitCids))
        {
            if (_owners.TryGetValue(cid, out var owner))
            {
                if (owner.Identity != identity)
                {
                    return RegistryResult.Refused(RegistryStatus.CidOwnedByOther, $"CID {cid} is registered by another identity");
                }
            }
            else if (_table.TryGet(cid, nowMs, out _))
            {
                return RegistryResult.Refused(RegistryStatus.CidOwnedByOther, $"CID {cid} is routed by this relay for someone else");
            }
            else
            {
                added++;
            }
        }

        // CIDs the replaced window routes that the new request does not keep are freed.
        var freed = 0;
        if (replaced is not null)
        {
            var kept = new HashSet<ConnectionId>(derivedCids);
            kept.UnionWith(explicitCids);
            foreach (var cid in replaced.Cids)
            {
                if (!kept.Contains(cid) && _owners.TryGetValue(cid, out var owner) && owner.Registration == replaced)
                {
                    freed++;
                }
            }
        }

        var registrations = (identity?.Registrations.Count ?? 0) +
            (!cidKey.IsEmpty && replaced is null ? 1 : 0) +
            (explicitCids.Count > 0 && identity?.FindExplicit() is null ? 1 : 0);
        if (registrations > _options.MaxRegistrationsPerIdentity)
        {
            return RegistryResult.Refused(RegistryStatus.QuotaExceeded, $"an identity may hold at most {_options.MaxRegistrationsPerIdentity} registrations");
        }

        var cidsAfter = (identity?.CidCount ?? 0) + added - freed;
        if (cidsAfter > _options.MaxCidsPerIdentity)
        {
            return RegistryResult.Refused(RegistryStatus.QuotaExceeded, $"{cidsAfter} CIDs would be routed; an identity may route at most {_options.MaxCidsPerIdentity}");
        }

        if (_table.Count + added - freed > _table.Capacity)
        {
            return RegistryResult.Refused(RegistryStatus.QuotaExceeded, $"the relay's route table is full ({_table.Capacity} entries)");
        }

        return null;
    }

    /// <summary>The identity registers from <paramref name="address"/> on <paramref name="session"/>: it is connected, and every route it has moves there.</summary>
    private void Attach(IdentityRecord identity, long session, PeerAddress address)
    {
        identity.Session = session;
        identity.GraceDeadlineMs = null;
        if (!identity.Address.Equals(address))
        {
            identity.Address = address;
            RewriteRoutes(identity);
        }
    }

    private void ApplyExplicit(IdentityRecord identity, List<ConnectionId> cids, long lifetimeMs, long expiresAtMs)
    {
        var registration = identity.FindExplicit();
        if (registration is null)
        {
            registration = Registration.Explicit();
            identity.Registrations.Add(registration);
            _registrations++;
        }

        // One explicit registration per identity: it lives as long as the longest request asks.
        registration.LifetimeMs = Math.Max(registration.LifetimeMs, lifetimeMs);
        registration.ExpiresAtMs = Math.Max(registration.ExpiresAtMs, expiresAtMs);
        foreach (var cid in cids)
        {
            if (!_owners.TryGetValue(cid, out var owner) || owner.Registration != registration)
            {
                registration.Cids.Add(cid);
            }

            Own(identity, registration, cid, 0);
        }

        // Explicit CIDs share the registration's expiry: rewrite them all.
        foreach (var cid in registration.Cids)
        {
            if (_owners.TryGetValue(cid, out var owner) && owner.Registration == registration)
            {
                WriteRoute(cid, owner);
            }
        }
    }

    /// <summary>Makes <paramref name="cid"/> the identity's, in <paramref name="registration"/>, and writes its route.</summary>
    private void Own(IdentityRecord identity, Registration registration, ConnectionId cid, long counter)
    {
        if (_owners.TryGetValue(cid, out var owner))
        {
            if (owner.Registration != registration)
            {
                owner.Registration.OwnedCount--;
                registration.OwnedCount++;
                owner.Registration = registration;
            }

            owner.Counter = counter;
        }
        else
        {
            owner = new CidOwnership(identity, registration, counter);
            _owners.Add(cid, owner);
            registration.OwnedCount++;
            identity.CidCount++;
        }

        WriteRoute(cid, owner);
    }

    private void RemoveCid(ConnectionId cid, CidOwnership owner)
    {
        _table.RemoveIfOwnedBy(cid, owner.Identity.OwnerId, RouteFlags.OwnerMask);
        ForgetCid(cid, owner);
        _observed.Add((cid, default, true));
    }

    private void ForgetCid(ConnectionId cid, CidOwnership owner)
    {
        _owners.Remove(cid);
        owner.Registration.OwnedCount--;
        owner.Identity.CidCount--;
    }

    private void RemoveRegistration(IdentityRecord identity, Registration registration)
    {
        foreach (var cid in registration.Cids)
        {
            if (_owners.TryGetValue(cid, out var owner) && owner.Registration == registration)
            {
                RemoveCid(cid, owner);
            }
        }

        registration.Cids.Clear();
        identity.Registrations.Remove(registration);
        _registrations--;
    }

    private void RemoveIdentity(IdentityRecord identity)
    {
        for (var i = identity.Registrations.Count - 1; i >= 0; i--)
        {
            RemoveRegistration(identity, identity.Registrations[i]);
        }

        _identities.Remove(identity.Node);
    }
}
