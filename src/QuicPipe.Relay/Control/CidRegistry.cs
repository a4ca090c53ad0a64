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
/// This class checks requests and holds the lock; under it, each idea has its class: ownership and quotas
/// (<see cref="CidOwners"/>), derived windows (<see cref="DerivedCidWindows"/>), expiry and grace
/// (<see cref="RegistrationExpiry"/>), table writes and observers (<see cref="RouteTableWriter"/>).
/// </remarks>
public sealed class CidRegistry
{
    /// <summary>The session of an identity registered at another relay of the fleet: never a control connection's id.</summary>
    internal const long RemoteSession = -1;

    private readonly CidTable _table;
    private readonly RegistryOptions _options;

    // Serialises the control plane: the classes below are used only under it and take no lock of their own; the
    // packet path reaches only the lock-free use queue (RouteUseSink).
    private readonly Lock _lock = new();
    private readonly RouteTableWriter _routes;
    private readonly CidOwners _owners;
    private readonly DerivedCidWindows _windows;
    private readonly RegistrationExpiry _expiry;

    public CidRegistry(CidTable table, RegistryOptions? options = null, IReadOnlyList<IRouteObserver>? observers = null)
    {
        ArgumentNullException.ThrowIfNull(table);
        _options = options ?? new RegistryOptions();
        _options.Validate();
        _table = table;
        _routes = new RouteTableWriter(table, observers?.ToArray() ?? [], _lock);
        _owners = new CidOwners(table, _options, _routes, _lock);
        _windows = new DerivedCidWindows(table, _options, _owners, _lock);
        _expiry = new RegistrationExpiry(table, _options, _owners, _lock);
    }

    public RegistryOptions Options => _options;

    /// <summary>The table's clock (ms), the one registrations expire on.</summary>
    public long NowMs => _table.NowMs;

    /// <summary>Give this to the forwarding stage (<c>UseRelayForwarding(table, sink)</c>).</summary>
    public IRouteUseSink RouteUseSink => _windows.UseSink;

    /// <summary>
    /// Routes the CIDs of <paramref name="request"/> to <paramref name="address"/> for <paramref name="node"/>, all
    /// or nothing, and moves the identity's other routes there too. <paramref name="session"/> names the control
    /// connection, so that only its end starts the grace period.
    /// </summary>
    public RegistryResult Register(NodeId node, long session, PeerAddress address, CidRegistrationRequest request)
    {
        ArgumentOutOfRangeException.ThrowIfEqual(session, RemoteSession);
        return Register(node, session, address, request, remote: false);
    }

    /// <summary>
    /// Routes the CIDs of <paramref name="request"/>, a peer of another relay of the fleet, to that relay at
    /// <paramref name="relay"/>, for the registry's longest lifetime (each cross-relay signal renews it). Refused
    /// while <paramref name="node"/> is registered at this relay itself: its own routes win.
    /// </summary>
    internal RegistryResult RegisterRemote(NodeId node, PeerAddress relay, CidRegistrationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        lock (_lock)
        {
            if (_owners.TryGetIdentity(node, out var identity) && !identity.IsRemote)
            {
                return RegistryResult.Refused(RegistryStatus.CidOwnedByOther, $"{node} is registered at this relay itself");
            }
        }

        return Register(node, RemoteSession, relay, request with { Lifetime = _options.MaxLifetime }, remote: true);
    }

    /// <summary>Told which identities are registered here (the fleet directory publishes them); set before the relay serves.</summary>
    internal ILocalIdentityObserver? IdentityObserver
    {
        get => _owners.IdentityObserver;
        set
        {
            lock (_lock)
            {
                _owners.IdentityObserver = value;
            }
        }
    }

    /// <summary>The identities registered at this relay itself (not other relays' peers routed through it).</summary>
    internal IReadOnlyList<NodeId> LocalIdentities()
    {
        lock (_lock)
        {
            return _owners.Identities.Where(identity => !identity.IsRemote).Select(identity => identity.Node).ToArray();
        }
    }

    /// <summary>
    /// What another relay needs to route <paramref name="node"/>'s CIDs here: its registrations as requests (derived
    /// windows from their lowest routed counter, explicit CIDs); empty when it is not registered at this relay itself.
    /// </summary>
    internal IReadOnlyList<CidRegistrationRequest> RegistrationsOf(NodeId node)
    {
        lock (_lock)
        {
            if (!_owners.TryGetIdentity(node, out var identity) || identity.IsRemote)
            {
                return [];
            }

            var requests = new List<CidRegistrationRequest>(identity.Registrations.Count);
            foreach (var registration in identity.Registrations)
            {
                // A window that slid spans up to twice its size; past the largest window a request may ask for, the
                // upper counters (the ones the peer moves on to) are the ones that matter.
                var span = (int)Math.Min(registration.High - registration.Low, _options.MaxWindow);
                requests.Add(registration.IsDerived
                    ? new CidRegistrationRequest(registration.Key, (uint)(registration.High - span), span, [], TimeSpan.Zero)
                    : new CidRegistrationRequest(ReadOnlyMemory<byte>.Empty, 0, 0, [.. registration.Cids], TimeSpan.Zero));
            }

            return requests;
        }
    }

    private RegistryResult Register(NodeId node, long session, PeerAddress address, CidRegistrationRequest request, bool remote)
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
            _owners.TryGetIdentity(node, out var identity);
            if (remote && identity is { IsRemote: false })
            {
                return RegistryResult.Refused(RegistryStatus.CidOwnedByOther, $"{node} is registered at this relay itself");
            }

            var refusal = _owners.CheckRegistration(identity, address, cidKey, derivedCids, explicitCids, nowMs, remote);
            if (refusal is { } refused)
            {
                return refused;
            }

            identity ??= _owners.AddIdentity(node, address);
            _owners.Attach(identity, session, address);
            var expiresAtMs = nowMs + lifetimeMs;
            if (derived)
            {
                _windows.Apply(identity, cidKey, request.FirstCounter, request.Window, derivedCids, lifetimeMs, expiresAtMs);
            }

            if (explicitCids.Count > 0)
            {
                _owners.ApplyExplicit(identity, explicitCids, lifetimeMs, expiresAtMs);
            }

            _routes.NotifyObservers();
            return new RegistryResult(RegistryStatus.Ok, null, lifetime, identity.CidCount);
        }
    }

    /// <summary>Extends every registration of <paramref name="node"/> by its lifetime and moves its routes to <paramref name="address"/>.</summary>
    public RegistryResult Refresh(NodeId node, long session, PeerAddress address)
    {
        lock (_lock)
        {
            if (!_owners.TryGetIdentity(node, out var identity))
            {
                return RegistryResult.Refused(RegistryStatus.NotRegistered, $"{node} has nothing registered (expired or never registered): register again");
            }

            var longest = _expiry.Renew(identity);
            if (!identity.Address.Equals(address))
            {
                _owners.MoveIdentity(identity, address);
            }

            identity.Session = session;
            identity.GraceDeadlineMs = null;
            _owners.UpdatePublished(identity);
            _owners.RewriteRoutes(identity);
            _routes.NotifyObservers();
            return new RegistryResult(RegistryStatus.Ok, null, TimeSpan.FromMilliseconds(longest), identity.CidCount);
        }
    }

    /// <summary>Removes the given CIDs of <paramref name="node"/> (others' are ignored), or all its registrations; returns how many CIDs went.</summary>
    public int Unregister(NodeId node, IReadOnlyList<ConnectionId> cids, bool all)
    {
        ArgumentNullException.ThrowIfNull(cids);
        lock (_lock)
        {
            if (!_owners.TryGetIdentity(node, out var identity))
            {
                return 0;
            }

            var before = identity.CidCount;
            if (all)
            {
                _owners.RemoveIdentity(identity);
            }
            else
            {
                _owners.RemoveCids(identity, cids);
                _owners.RemoveIdentityIfEmpty(identity);
            }

            _routes.NotifyObservers();
            return before - identity.CidCount;
        }
    }

    /// <summary>Removes everything of the identities <paramref name="remove"/> picks (say, ones off a reloaded allow-list); returns how many went.</summary>
    public int UnregisterWhere(Func<NodeId, bool> remove)
    {
        ArgumentNullException.ThrowIfNull(remove);
        lock (_lock)
        {
            var doomed = _owners.Identities.Where(identity => remove(identity.Node)).ToList();
            foreach (var identity in doomed)
            {
                _owners.RemoveIdentity(identity);
            }

            _routes.NotifyObservers();
            return doomed.Count;
        }
    }

    public RegistryCounts Snapshot()
    {
        lock (_lock)
        {
            return new RegistryCounts
            {
                Identities = _owners.IdentityCount,
                Registrations = _owners.RegistrationCount,
                Cids = _owners.CidCount,
                WindowAdvances = _windows.Advances,
                RouteUsesDropped = _windows.UsesDropped,
                Expired = _expiry.Expired,
            };
        }
    }

    /// <summary>The CIDs routed for <paramref name="node"/> (tests and diagnostics).</summary>
    public IReadOnlyList<ConnectionId> CidsOf(NodeId node)
    {
        lock (_lock)
        {
            return _owners.CidsOf(node);
        }
    }

    /// <summary>Moves derived windows ahead of the CIDs the forwarding stage reported in use; returns how many windows moved.</summary>
    public int ProcessRouteUses()
    {
        lock (_lock)
        {
            var advanced = _windows.ProcessUses();
            _routes.NotifyObservers();
            return advanced;
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
            if (_owners.TryGetIdentity(node, out var identity))
            {
                _expiry.StartGrace(identity, session);
            }
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
            var removed = _expiry.RemoveExpired(nowMs);
            _routes.NotifyObservers();
            return removed;
        }
    }
}
