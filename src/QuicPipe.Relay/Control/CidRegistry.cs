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
/// The requests are here; the rest by idea: ownership and quotas (CidRegistry.Ownership.cs), derived windows
/// (.Windows.cs), expiry and grace (.Expiry.cs), table writes and observers (.Routes.cs).
/// </remarks>
public sealed partial class CidRegistry
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

    /// <summary>Give this to the forwarding stage (<c>UseRelayForwarding(table, sink)</c>).</summary>
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
}
