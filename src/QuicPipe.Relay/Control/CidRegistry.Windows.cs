using QuicPipe.Dataplane;

namespace QuicPipe.Relay.Control;

// Derived windows: a derived registration routes Window counters of its key; use of a CID in the upper half
// (reported by the forwarding stage) moves the window past it, dropping counters left behind.
public sealed partial class CidRegistry
{
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
}
