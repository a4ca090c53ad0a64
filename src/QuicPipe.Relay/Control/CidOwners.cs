using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using QuicPipe.Dataplane;
using QuicPipe.Quic;

namespace QuicPipe.Relay.Control;

/// <summary>
/// Who owns what: the identities the registry serves, their registrations, and which identity (and registration)
/// owns each CID; the quotas a request is checked against before anything changes; and taking CIDs, registrations
/// and identities away. Every route it gives or takes goes through the <see cref="RouteTableWriter"/>.
/// Called under the registry's lock.
/// </summary>
internal sealed class CidOwners
{
    private readonly CidTable _table;
    private readonly RegistryOptions _options;
    private readonly RouteTableWriter _routes;
    private readonly Lock _registryLock;
    private readonly Dictionary<NodeId, IdentityRecord> _identities = [];

    // The same identities by the source address (and prefix) their routes lead to: the per-source quotas' count.
    private readonly IdentitiesBySource _bySource = new();
    private readonly Dictionary<ConnectionId, CidOwnership> _owners = [];
    private ulong _nextOwnerId = 1;
    private int _registrations;

    public CidOwners(CidTable table, RegistryOptions options, RouteTableWriter routes, Lock registryLock)
    {
        _table = table;
        _options = options;
        _routes = routes;
        _registryLock = registryLock;
    }

    /// <summary>Told when an identity registered at this relay (not a remote one) comes and goes; called under the registry's lock.</summary>
    public ILocalIdentityObserver? IdentityObserver { get; set; }

    public int IdentityCount => _identities.Count;

    public int RegistrationCount => _registrations;

    /// <summary>CIDs routed for all identities.</summary>
    public int CidCount => _owners.Count;

    /// <summary>The identities; removing one while enumerating is not allowed (removing registrations is).</summary>
    public Dictionary<NodeId, IdentityRecord>.ValueCollection Identities => _identities.Values;

    public bool TryGetIdentity(NodeId node, [NotNullWhen(true)] out IdentityRecord? identity) => _identities.TryGetValue(node, out identity);

    /// <summary>A new identity, its routes leading to <paramref name="address"/>, with an OwnerId no other record has had.</summary>
    public IdentityRecord AddIdentity(NodeId node, PeerAddress address)
    {
        Debug.Assert(_registryLock.IsHeldByCurrentThread, "called under the registry's lock");
        var identity = new IdentityRecord(node, _nextOwnerId++) { Address = address };
        _identities.Add(node, identity);
        _bySource.Add(identity);
        return identity;
    }

    /// <summary>The identity's routes lead to <paramref name="address"/> from now on (the caller rewrites them).</summary>
    public void MoveIdentity(IdentityRecord identity, PeerAddress address)
    {
        Debug.Assert(_registryLock.IsHeldByCurrentThread, "called under the registry's lock");
        _bySource.Remove(identity);
        identity.Address = address;
        _bySource.Add(identity);
    }

    public bool TryGetOwner(ConnectionId cid, [NotNullWhen(true)] out CidOwnership? owner) => _owners.TryGetValue(cid, out owner);

    public bool IsOwned(ConnectionId cid) => _owners.ContainsKey(cid);

    public ConnectionId[] CidsOf(NodeId node) => _owners.Where(o => o.Value.Identity.Node == node).Select(o => o.Key).ToArray();

    /// <summary>Null if the request may be applied as a whole; else why not. Changes nothing.</summary>
    /// <remarks>Remote identities (another relay's peers, <paramref name="remote"/>) all lead to their relay's address: the per-source quotas do not apply to them.</remarks>
    public RegistryResult? CheckRegistration(IdentityRecord? identity, PeerAddress address, ReadOnlySpan<byte> cidKey, ConnectionId[] derivedCids, List<ConnectionId> explicitCids, long nowMs, bool remote = false)
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

        if (!remote && CheckSourceQuotas(identity, address, cidsAfter) is { } overSource)
        {
            return overSource;
        }

        if (_table.Count + added - freed > _table.Capacity)
        {
            return RegistryResult.Refused(RegistryStatus.QuotaExceeded, $"the relay's route table is full ({_table.Capacity} entries)");
        }

        return null;
    }

    /// <summary>
    /// The per-source quotas: the identities registering from one address (or /24, /64), and the CIDs they route, so
    /// that fresh keys (which cost nothing) from one host take that host's share and no more.
    /// </summary>
    private RegistryResult? CheckSourceQuotas(IdentityRecord? identity, PeerAddress address, int cidsAfter)
    {
        var (atAddress, inPrefix) = _bySource.HoldingsOf(address, identity);
        var where = address.ToEndPoint().Address;
        if (atAddress.Identities + 1 > _options.MaxIdentitiesPerAddress)
        {
            return RegistryResult.Refused(RegistryStatus.QuotaExceeded, $"this relay serves at most {_options.MaxIdentitiesPerAddress} identities from one address ({where})");
        }

        if (inPrefix.Identities + 1 > _options.MaxIdentitiesPerPrefix)
        {
            return RegistryResult.Refused(RegistryStatus.QuotaExceeded, $"this relay serves at most {_options.MaxIdentitiesPerPrefix} identities from one /24 or /64 ({where}'s)");
        }

        if (atAddress.Cids + cidsAfter > _options.MaxCidsPerAddress)
        {
            return RegistryResult.Refused(RegistryStatus.QuotaExceeded, $"{atAddress.Cids + cidsAfter} CIDs would be routed to {where}; this relay routes at most {_options.MaxCidsPerAddress} for one address");
        }

        if (inPrefix.Cids + cidsAfter > _options.MaxCidsPerPrefix)
        {
            return RegistryResult.Refused(RegistryStatus.QuotaExceeded, $"{inPrefix.Cids + cidsAfter} CIDs would be routed to {where}'s /24 or /64; this relay routes at most {_options.MaxCidsPerPrefix} for one");
        }

        return null;
    }

    /// <summary>The identity registers from <paramref name="address"/> on <paramref name="session"/>: it is connected, and every route it has moves there.</summary>
    public void Attach(IdentityRecord identity, long session, PeerAddress address)
    {
        identity.Session = session;
        identity.GraceDeadlineMs = null;
        UpdatePublished(identity);
        if (!identity.Address.Equals(address))
        {
            MoveIdentity(identity, address);
            RewriteRoutes(identity);
        }
    }

    /// <summary>Tells the observer when the identity became one of this relay's own (or stopped being one).</summary>
    public void UpdatePublished(IdentityRecord identity)
    {
        var local = !identity.IsRemote;
        if (local != identity.IsPublished)
        {
            identity.IsPublished = local;
            if (local)
            {
                IdentityObserver?.OnLocalIdentityAdded(identity.Node);
            }
            else
            {
                IdentityObserver?.OnLocalIdentityRemoved(identity.Node);
            }
        }
    }

    /// <summary>Adds <paramref name="registration"/> to the identity's, before any CID is owned in it.</summary>
    public void AddRegistration(IdentityRecord identity, Registration registration)
    {
        Debug.Assert(_registryLock.IsHeldByCurrentThread, "called under the registry's lock");
        identity.Registrations.Add(registration);
        _registrations++;
    }

    public void ApplyExplicit(IdentityRecord identity, List<ConnectionId> cids, long lifetimeMs, long expiresAtMs)
    {
        var registration = identity.FindExplicit();
        if (registration is null)
        {
            registration = Registration.Explicit();
            AddRegistration(identity, registration);
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
    public void Own(IdentityRecord identity, Registration registration, ConnectionId cid, long counter)
    {
        Debug.Assert(_registryLock.IsHeldByCurrentThread, "called under the registry's lock");
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

    /// <summary>Writes the route of an owned CID from its owner's state; a static route over it wins, and the CID is let go.</summary>
    public void WriteRoute(ConnectionId cid, CidOwnership owner)
    {
        if (!_routes.TryWrite(cid, owner))
        {
            ForgetCid(cid, owner);
        }
    }

    /// <summary>Writes every route of the identity again (its address or expiry changed).</summary>
    public void RewriteRoutes(IdentityRecord identity)
    {
        foreach (var registration in identity.Registrations)
        {
            foreach (var cid in registration.Cids)
            {
                if (_owners.TryGetValue(cid, out var owner) && owner.Registration == registration)
                {
                    WriteRoute(cid, owner);
                }
            }
        }
    }

    /// <summary>Removes those of <paramref name="cids"/> the identity owns (others' are ignored), and registrations left empty.</summary>
    public void RemoveCids(IdentityRecord identity, IReadOnlyList<ConnectionId> cids)
    {
        foreach (var cid in cids)
        {
            if (_owners.TryGetValue(cid, out var owner) && owner.Identity == identity)
            {
                var registration = owner.Registration;
                RemoveCid(cid, owner);
                if (!registration.IsDerived)
                {
                    registration.Cids.Remove(cid);
                }

                if (registration.OwnedCount == 0)
                {
                    RemoveRegistration(identity, registration);
                }
            }
        }
    }

    public void RemoveCid(ConnectionId cid, CidOwnership owner)
    {
        _routes.Remove(cid, owner.Identity.OwnerId);
        ForgetCid(cid, owner);
    }

    public void RemoveRegistration(IdentityRecord identity, Registration registration)
    {
        Debug.Assert(_registryLock.IsHeldByCurrentThread, "called under the registry's lock");
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

    public void RemoveIdentity(IdentityRecord identity)
    {
        Debug.Assert(_registryLock.IsHeldByCurrentThread, "called under the registry's lock");
        for (var i = identity.Registrations.Count - 1; i >= 0; i--)
        {
            RemoveRegistration(identity, identity.Registrations[i]);
        }

        Forget(identity);
    }

    /// <summary>Forgets the identity if it has no registrations left.</summary>
    public void RemoveIdentityIfEmpty(IdentityRecord identity)
    {
        Debug.Assert(_registryLock.IsHeldByCurrentThread, "called under the registry's lock");
        if (identity.Registrations.Count == 0)
        {
            Forget(identity);
        }
    }

    private void Forget(IdentityRecord identity)
    {
        if (_identities.Remove(identity.Node))
        {
            _bySource.Remove(identity);
            if (identity.IsPublished)
            {
                identity.IsPublished = false;
                IdentityObserver?.OnLocalIdentityRemoved(identity.Node);
            }
        }
    }

    private void ForgetCid(ConnectionId cid, CidOwnership owner)
    {
        Debug.Assert(_registryLock.IsHeldByCurrentThread, "called under the registry's lock");
        _owners.Remove(cid);
        owner.Registration.OwnedCount--;
        owner.Identity.CidCount--;
    }
}
