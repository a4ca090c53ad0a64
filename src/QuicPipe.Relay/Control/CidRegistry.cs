using QuicPipe.Dataplane;
using QuicPipe.Quic;

namespace QuicPipe.Relay.Control;

/// <summary>
/// Which identity routes which CIDs, kept in step with the relay's <see cref="CidTable"/>. A CID belongs to the
/// identity that registered it: registering one that another identity (or a static route) holds is refused, the
/// whole request with it. Quotas bound every identity and the number of identities; registrations expire, and
/// an identity's routes go a grace period after its control connection ends unless it comes back.
/// </summary>
/// <remarks>
/// Sliding window: a derived registration flags the CIDs in the upper half of its window with
/// <see cref="RouteFlags.ReportUse"/>; the forwarding stage reports their use to <see cref="RouteUseSink"/>, and
/// <see cref="ProcessRouteUses"/> then routes <c>Window</c> counters past the one in use (dropping counters more
/// than a window below it, and the lowest ones first if the quota is reached), so rotation never runs out.
/// One lock serialises the control plane; the packet path only touches the lock-free use queue.
/// Route observers (the XDP mirror) hear of removals and of unflagged routes set; flagged routes are not
/// mirrored, so their use goes through userspace and is reported.
/// </remarks>
public sealed class CidRegistry
{
    private readonly CidTable _table;
    private readonly RegistryOptions _options;
    private readonly IRouteObserver[] _observers;
    private readonly RouteUseQueue _uses;
    private readonly Lock _lock = new();
    private readonly Dictionary<NodeId, IdentityRecord> _identities = [];
    private readonly Dictionary<ConnectionId, CidOwnership> _owners = [];

    // Changes for the observers, in order (Removed: the CID is no longer routed), told at the end of each operation.
    private readonly List<(ConnectionId Cid, PeerAddress Endpoint, bool Removed)> _observed = [];
    private ulong _nextOwnerId = 1;
    private int _registrations;
    private long _windowAdvances;
    private long _expired;

    public CidRegistry(CidTable table, RegistryOptions? options = null, IReadOnlyList<IRouteObserver>? observers = null)
    {
        ArgumentNullException.ThrowIfNull(table);
        _options = options ?? new RegistryOptions();
        _options.Validate();
        _table = table;
        _observers = observers?.ToArray() ?? [];
        _uses = new RouteUseQueue(_options.RouteUseQueueCapacity);
    }

    public RegistryOptions Options => _options;

    /// <summary>The table's clock (ms), the one registrations expire on.</summary>
    public long NowMs => _table.NowMs;

    /// <summary>Give this to the forwarding stage (<see cref="RelayPipelineExtensions.UseRelayForwarding(Dataplane.Pipeline.PipelineBuilder, CidTable, IRouteUseSink?)"/>).</summary>
    public IRouteUseSink RouteUseSink => _uses;

    /// <summary>
    /// Routes the CIDs of <paramref name="request"/> to <paramref name="address"/> for <paramref name="node"/>, all
    /// or nothing, and moves the identity's other routes there too. <paramref name="session"/> names the control
    /// connection, so that only its end starts the grace period.
    /// </summary>
    public RegistryResult Register(NodeId node, long session, PeerAddress address, CidRegistrationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var cidKey = request.CidKey.Span;
        var derived = !cidKey.IsEmpty;
        if (derived && cidKey.Length is < CidDerivation.MinKeyLength or > CidDerivation.MaxKeyLength)
        {
            return RegistryResult.Refused(RegistryStatus.BadRequest, $"cid_key has {cidKey.Length} bytes; {CidDerivation.MinKeyLength} to {CidDerivation.MaxKeyLength} expected");
        }

        if (derived && (request.Window < 1 || request.Window > _options.MaxWindow))
        {
            return RegistryResult.Refused(RegistryStatus.BadRequest, $"window {request.Window} is outside 1..{_options.MaxWindow}");
        }

        if (derived && (long)request.FirstCounter + request.Window - 1 > uint.MaxValue)
        {
            return RegistryResult.Refused(RegistryStatus.BadRequest, $"counters {request.FirstCounter}+{request.Window} pass 2^32");
        }

        if (!derived && request.Cids.Count == 0)
        {
            return RegistryResult.Refused(RegistryStatus.BadRequest, "nothing to register: no cid_key and no cids");
        }

        if (request.Lifetime < TimeSpan.Zero)
        {
            return RegistryResult.Refused(RegistryStatus.BadRequest, "a negative lifetime");
        }

        var requested = (derived ? request.Window : 0) + request.Cids.Count;
        if (requested > _options.MaxCidsPerIdentity)
        {
            return RegistryResult.Refused(RegistryStatus.QuotaExceeded, $"{requested} CIDs asked for; an identity may route at most {_options.MaxCidsPerIdentity}");
        }

        var derivedCids = new ConnectionId[derived ? request.Window : 0];
        for (var i = 0; i < derivedCids.Length; i++)
        {
            derivedCids[i] = CidDerivation.Derive(cidKey, request.FirstCounter + (uint)i, _options.CidLength, CidNamespace.PeerToPeer);
        }

        var explicitCids = new List<ConnectionId>(request.Cids.Count);
        var seen = new HashSet<ConnectionId>(derivedCids);
        foreach (var cid in request.Cids)
        {
            if (cid.Length != _options.CidLength)
            {
                return RegistryResult.Refused(RegistryStatus.BadRequest, $"CID {cid} has {cid.Length} bytes; this relay routes {_options.CidLength}-byte CIDs");
            }

            if (CidDerivation.NamespaceOf(cid) != CidNamespace.PeerToPeer)
            {
                return RegistryResult.Refused(RegistryStatus.BadRequest, $"CID {cid} is in the relay's namespace (top bit set); peers register peer-to-peer CIDs only");
            }

            if (seen.Add(cid))
            {
                explicitCids.Add(cid);
            }
        }

        var lifetime = request.Lifetime == TimeSpan.Zero ? _options.DefaultLifetime : TimeSpan.FromTicks(Math.Min(request.Lifetime.Ticks, _options.MaxLifetime.Ticks));
        var lifetimeMs = (long)lifetime.TotalMilliseconds;
        lock (_lock)
        {
            var nowMs = _table.NowMs;
            _identities.TryGetValue(node, out var identity);
            var refusal = CheckRegistration(identity, cidKey, derivedCids, explicitCids, nowMs);
            if (refusal is { } refused)
            {
                return refused;
            }

            if (identity is null)
            {
                identity = new IdentityRecord(node, _nextOwnerId++) { Address = address };
                _identities.Add(node, identity);
            }

            Attach(identity, session, address);
            var expiresAtMs = nowMs + lifetimeMs;
            if (derived)
            {
                ApplyDerived(identity, cidKey, request.FirstCounter, request.Window, derivedCids, lifetimeMs, expiresAtMs);
            }

            if (explicitCids.Count > 0)
            {
                ApplyExplicit(identity, explicitCids, lifetimeMs, expiresAtMs);
            }

            NotifyObservers();
            return new RegistryResult(RegistryStatus.Ok, null, lifetime, identity.CidCount);
        }
    }

    /// <summary>Extends every registration of <paramref name="node"/> by its lifetime and moves its routes to <paramref name="address"/>.</summary>
    public RegistryResult Refresh(NodeId node, long session, PeerAddress address)
    {
        lock (_lock)
        {
            if (!_identities.TryGetValue(node, out var identity))
            {
                return RegistryResult.Refused(RegistryStatus.NotRegistered, $"{node} has nothing registered (expired or never registered): register again");
            }

            var nowMs = _table.NowMs;
            long longest = 0;
            foreach (var registration in identity.Registrations)
            {
                registration.ExpiresAtMs = nowMs + registration.LifetimeMs;
                longest = Math.Max(longest, registration.LifetimeMs);
            }

            identity.Address = address;
            identity.Session = session;
            identity.GraceDeadlineMs = null;
            RewriteRoutes(identity);
            NotifyObservers();
            return new RegistryResult(RegistryStatus.Ok, null, TimeSpan.FromMilliseconds(longest), identity.CidCount);
        }
    }

    /// <summary>Removes the given CIDs of <paramref name="node"/> (others' are ignored), or all its registrations; returns how many CIDs went.</summary>
    public int Unregister(NodeId node, IReadOnlyList<ConnectionId> cids, bool all)
    {
        ArgumentNullException.ThrowIfNull(cids);
        lock (_lock)
        {
            if (!_identities.TryGetValue(node, out var identity))
            {
                return 0;
            }

            var before = identity.CidCount;
            if (all)
            {
                RemoveIdentity(identity);
            }
            else
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

                if (identity.Registrations.Count == 0)
                {
                    _identities.Remove(identity.Node);
                }
            }

            NotifyObservers();
            return before - identity.CidCount;
        }
    }

    /// <summary>
    /// The control connection <paramref name="session"/> of <paramref name="node"/> ended: unless a newer one has
    /// registered or refreshed since, its routes go after <see cref="RegistryOptions.DisconnectGrace"/>.
    /// </summary>
    public void Disconnected(NodeId node, long session)
    {
        lock (_lock)
        {
            if (_identities.TryGetValue(node, out var identity) && identity.Session == session && identity.GraceDeadlineMs is null)
            {
                identity.GraceDeadlineMs = _table.NowMs + (long)_options.DisconnectGrace.TotalMilliseconds;
            }
        }
    }

    /// <summary>Moves derived windows ahead of the CIDs the forwarding stage reported in use; returns how many windows moved.</summary>
    public int ProcessRouteUses()
    {
        lock (_lock)
        {
            var advanced = 0;
            while (_uses.TryDequeue(out var cid))
            {
                if (_owners.TryGetValue(cid, out var owner) && owner.Registration.IsDerived && Advance(owner.Identity, owner.Registration, owner.Counter))
                {
                    advanced++;
                }
            }

            _windowAdvances += advanced;
            NotifyObservers();
            return advanced;
        }
    }

    /// <summary>
    /// Processes pending use notices, then removes registrations expired at <paramref name="nowMs"/> (table clock)
    /// and everything of identities whose grace period ran out; returns how many registrations went.
    /// </summary>
    public int Sweep(long nowMs)
    {
        ProcessRouteUses();
        lock (_lock)
        {
            var removed = 0;
            var emptied = new List<IdentityRecord>();
            foreach (var identity in _identities.Values)
            {
                var graceOver = identity.GraceDeadlineMs is { } deadline && deadline <= nowMs;
                for (var i = identity.Registrations.Count - 1; i >= 0; i--)
                {
                    var registration = identity.Registrations[i];
                    if (graceOver || registration.ExpiresAtMs <= nowMs)
                    {
                        RemoveRegistration(identity, registration);
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
                _identities.Remove(identity.Node);
            }

            _expired += removed;
            NotifyObservers();
            return removed;
        }
    }

    public RegistryCounts Snapshot()
    {
        lock (_lock)
        {
            return new RegistryCounts
            {
                Identities = _identities.Count,
                Registrations = _registrations,
                Cids = _owners.Count,
                WindowAdvances = _windowAdvances,
                RouteUsesDropped = _uses.Dropped,
                Expired = _expired,
            };
        }
    }

    /// <summary>The CIDs routed for <paramref name="node"/> (tests and diagnostics).</summary>
    public IReadOnlyList<ConnectionId> CidsOf(NodeId node)
    {
        lock (_lock)
        {
            return _owners.Where(o => o.Value.Identity.Node == node).Select(o => o.Key).ToArray();
        }
    }

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

    private void ApplyDerived(IdentityRecord identity, ReadOnlySpan<byte> cidKey, uint firstCounter, int window, ConnectionId[] cids, long lifetimeMs, long expiresAtMs)
    {
        var registration = identity.FindDerived(cidKey);
        if (registration is null)
        {
            registration = Registration.Derived(cidKey.ToArray(), window);
            identity.Registrations.Add(registration);
            _registrations++;
        }
        else
        {
            // Re-registering a key starts its window afresh: what the old window routed and the new one does not goes.
            var kept = new HashSet<ConnectionId>(cids);
            foreach (var cid in registration.Cids)
            {
                if (!kept.Contains(cid) && _owners.TryGetValue(cid, out var owner) && owner.Registration == registration)
                {
                    RemoveCid(cid, owner);
                }
            }

            registration.Cids.Clear();
            registration.Window = window;
        }

        registration.Low = firstCounter;
        registration.High = firstCounter + (long)window;
        registration.LifetimeMs = lifetimeMs;
        registration.ExpiresAtMs = expiresAtMs;
        for (var i = 0; i < cids.Length; i++)
        {
            registration.Cids.Add(cids[i]);
            Own(identity, registration, cids[i], firstCounter + (long)i);
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

    /// <summary>
    /// Counter <paramref name="used"/> of a derived registration is in use: route <c>Window</c> counters past it,
    /// drop those more than a window below it, and keep the identity within its quota by dropping the lowest.
    /// </summary>
    private bool Advance(IdentityRecord identity, Registration registration, long used)
    {
        var newHigh = Math.Min(used + 1 + registration.Window, (long)uint.MaxValue + 1);
        if (newHigh <= registration.High)
        {
            return false;
        }

        DropLowCounters(registration, Math.Max(registration.Low, used - registration.Window));
        var oldThreshold = registration.FlagThreshold;
        for (var counter = registration.High; counter < newHigh; counter++)
        {
            if (identity.CidCount >= _options.MaxCidsPerIdentity && registration.Low < used)
            {
                DropLowCounters(registration, registration.Low + 1);
            }

            if (identity.CidCount >= _options.MaxCidsPerIdentity || _table.Count >= _table.Capacity)
            {
                // No room: the window stops here; the next use moves it on.
                break;
            }

            var cid = CidDerivation.Derive(registration.Key, (uint)counter, _options.CidLength, CidNamespace.PeerToPeer);
            registration.Cids.Add(cid);
            registration.High = counter + 1;

            // A CID someone else routes (vanishingly rare with 96-bit CIDs) stays theirs: a hole in the window.
            if (!_owners.ContainsKey(cid) && !_table.TryGet(cid, out _))
            {
                Own(identity, registration, cid, counter);
            }
        }

        // CIDs that left the upper half stop reporting use.
        var newThreshold = registration.FlagThreshold;
        for (var counter = Math.Max(oldThreshold, registration.Low); counter < newThreshold; counter++)
        {
            var cid = registration.Cids[(int)(counter - registration.Low)];
            if (_owners.TryGetValue(cid, out var owner) && owner.Registration == registration && owner.ReportsUse)
            {
                WriteRoute(cid, owner);
            }
        }

        return true;
    }

    /// <summary>Removes a derived registration's counters below <paramref name="newLow"/>.</summary>
    private void DropLowCounters(Registration registration, long newLow)
    {
        var count = (int)Math.Min(newLow - registration.Low, registration.Cids.Count);
        if (count <= 0)
        {
            return;
        }

        for (var i = 0; i < count; i++)
        {
            var cid = registration.Cids[i];
            if (_owners.TryGetValue(cid, out var owner) && owner.Registration == registration)
            {
                RemoveCid(cid, owner);
            }
        }

        registration.Cids.RemoveRange(0, count);
        registration.Low += count;
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

    /// <summary>Writes the table entry of an owned CID from the registry's state: address, expiry, report-use flag.</summary>
    private void WriteRoute(ConnectionId cid, CidOwnership owner)
    {
        var registration = owner.Registration;
        var identity = owner.Identity;
        owner.ReportsUse = registration.IsDerived && owner.Counter >= registration.FlagThreshold;
        var ownerId = identity.OwnerId | (owner.ReportsUse ? RouteFlags.ReportUse : 0);
        var expiresAtMs = registration.ExpiresAtMs;
        if (!_table.TrySet(cid, new CidRoute(identity.Address, ownerId, expiresAtMs), RouteFlags.OwnerMask))
        {
            // A static route was loaded over it meanwhile: static routes win, the registry lets go.
            ForgetCid(cid, owner);
            _observed.Add((cid, default, true));
            return;
        }

        if (owner.ReportsUse)
        {
            // Not mirrored: the offload would forward it in the driver and its use would never be reported.
            _observed.Add((cid, default, true));
        }
        else
        {
            _observed.Add((cid, identity.Address, false));
        }
    }

    private void RewriteRoutes(IdentityRecord identity)
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

    /// <summary>Tells the observers what this operation changed, after the table holds it, in order (runs of one kind at a time).</summary>
    private void NotifyObservers()
    {
        if (_observers.Length > 0)
        {
            var start = 0;
            for (var i = 1; i <= _observed.Count; i++)
            {
                if (i < _observed.Count && _observed[i].Removed == _observed[start].Removed)
                {
                    continue;
                }

                var run = _observed.GetRange(start, i - start);
                foreach (var observer in _observers)
                {
                    if (run[0].Removed)
                    {
                        observer.OnRoutesRemoved(run.Select(c => c.Cid).ToArray());
                    }
                    else
                    {
                        observer.OnRoutesSet(run.Select(c => (c.Cid, c.Endpoint)).ToArray());
                    }
                }

                start = i;
            }
        }

        _observed.Clear();
    }
}
