using QuicPipe.Dataplane;

namespace QuicPipe.Relay.Control;

// The table and its observers: writing an owned CID's route from the registry's state, and telling the
// observers (the XDP mirror) what an operation changed once the table holds it.
public sealed partial class CidRegistry
{
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
