using System.Diagnostics;
using QuicPipe.Dataplane;

namespace QuicPipe.Relay.Control;

/// <summary>
/// Derived registrations as sliding windows: a derived registration routes <c>Window</c> counters of its key and
/// flags the upper half with <see cref="RouteFlags.ReportUse"/>; the forwarding stage reports their use to
/// <see cref="UseSink"/>, and <see cref="ProcessUses"/> moves each window past the counter in use (dropping counters
/// more than a window below it, and the lowest ones first if the quota is reached), so rotation never runs out.
/// Called under the registry's lock, except <see cref="UseSink"/>: the packet path fills that lock-free queue.
/// </summary>
internal sealed class DerivedCidWindows
{
    private readonly CidTable _table;
    private readonly RegistryOptions _options;
    private readonly CidOwners _owners;
    private readonly Lock _registryLock;
    private readonly RouteUseQueue _uses;
    private long _advances;

    public DerivedCidWindows(CidTable table, RegistryOptions options, CidOwners owners, Lock registryLock)
    {
        _table = table;
        _options = options;
        _owners = owners;
        _registryLock = registryLock;
        _uses = new RouteUseQueue(options.RouteUseQueueCapacity);
    }

    /// <summary>Where the forwarding stage reports the use of flagged routes; lock-free.</summary>
    public IRouteUseSink UseSink => _uses;

    /// <summary>Use notices dropped because the queue was full.</summary>
    public long UsesDropped => _uses.Dropped;

    /// <summary>Windows moved so far.</summary>
    public long Advances => _advances;

    /// <summary>Moves derived windows ahead of the CIDs the forwarding stage reported in use; returns how many windows moved.</summary>
    public int ProcessUses()
    {
        Debug.Assert(_registryLock.IsHeldByCurrentThread, "called under the registry's lock");
        var advanced = 0;
        while (_uses.TryDequeue(out var cid))
        {
            if (_owners.TryGetOwner(cid, out var owner) && owner.Registration.IsDerived && Advance(owner.Identity, owner.Registration, owner.Counter))
            {
                advanced++;
            }
        }

        _advances += advanced;
        return advanced;
    }

    /// <summary>Routes the window <paramref name="cids"/> (counters from <paramref name="firstCounter"/>) of the key; a key registered again starts its window afresh.</summary>
    public void Apply(IdentityRecord identity, ReadOnlySpan<byte> cidKey, uint firstCounter, int window, ConnectionId[] cids, long lifetimeMs, long expiresAtMs)
    {
        Debug.Assert(_registryLock.IsHeldByCurrentThread, "called under the registry's lock");
        var registration = identity.FindDerived(cidKey);
        if (registration is null)
        {
            registration = Registration.Derived(cidKey.ToArray(), window);
            _owners.AddRegistration(identity, registration);
        }
        else
        {
            // Re-registering a key starts its window afresh: what the old window routed and the new one does not goes.
            var kept = new HashSet<ConnectionId>(cids);
            foreach (var cid in registration.Cids)
            {
                if (!kept.Contains(cid) && _owners.TryGetOwner(cid, out var owner) && owner.Registration == registration)
                {
                    _owners.RemoveCid(cid, owner);
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
            _owners.Own(identity, registration, cids[i], firstCounter + (long)i);
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
            if (!_owners.IsOwned(cid) && !_table.TryGet(cid, out _))
            {
                _owners.Own(identity, registration, cid, counter);
            }
        }

        // CIDs that left the upper half stop reporting use.
        var newThreshold = registration.FlagThreshold;
        for (var counter = Math.Max(oldThreshold, registration.Low); counter < newThreshold; counter++)
        {
            var cid = registration.Cids[(int)(counter - registration.Low)];
            if (_owners.TryGetOwner(cid, out var owner) && owner.Registration == registration && owner.ReportsUse)
            {
                _owners.WriteRoute(cid, owner);
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
            if (_owners.TryGetOwner(cid, out var owner) && owner.Registration == registration)
            {
                _owners.RemoveCid(cid, owner);
            }
        }

        registration.Cids.RemoveRange(0, count);
        registration.Low += count;
    }
}
