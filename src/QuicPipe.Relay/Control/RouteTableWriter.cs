using System.Diagnostics;
using QuicPipe.Dataplane;

namespace QuicPipe.Relay.Control;

/// <summary>
/// The registry's writes to the relay's <see cref="CidTable"/> and what they tell the route observers (the XDP
/// mirror): every change is kept, in order, and told by <see cref="NotifyObservers"/> at the end of the registry's
/// operation, once the table holds it. Flagged routes (report use) are told as removed: the offload would forward
/// them in the driver and their use would never be reported. Called under the registry's lock.
/// </summary>
internal sealed class RouteTableWriter
{
    private readonly CidTable _table;
    private readonly IRouteObserver[] _observers;
    private readonly Lock _registryLock;

    // Changes for the observers, in order (Removed: the CID is no longer routed), told at the end of each operation.
    private readonly List<(ConnectionId Cid, PeerAddress Endpoint, bool Removed)> _observed = [];

    public RouteTableWriter(CidTable table, IRouteObserver[] observers, Lock registryLock)
    {
        _table = table;
        _observers = observers;
        _registryLock = registryLock;
    }

    /// <summary>
    /// Writes the table entry of an owned CID from the registry's state: address, expiry, report-use flag. False if
    /// a static route holds the CID: static routes win, and the caller lets the CID go.
    /// </summary>
    public bool TryWrite(ConnectionId cid, CidOwnership owner)
    {
        Debug.Assert(_registryLock.IsHeldByCurrentThread, "called under the registry's lock");
        var registration = owner.Registration;
        var identity = owner.Identity;
        owner.ReportsUse = registration.IsDerived && owner.Counter >= registration.FlagThreshold;
        var ownerId = identity.OwnerId | (owner.ReportsUse ? RouteFlags.ReportUse : 0);
        var expiresAtMs = registration.ExpiresAtMs;
        if (!_table.TrySet(cid, new CidRoute(identity.Address, ownerId, expiresAtMs), RouteFlags.OwnerMask))
        {
            // A static route was loaded over it meanwhile.
            _observed.Add((cid, default, true));
            return false;
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

        return true;
    }

    /// <summary>Removes the route of <paramref name="cid"/> if <paramref name="ownerId"/> still holds it (a static route loaded over it stays).</summary>
    public void Remove(ConnectionId cid, ulong ownerId)
    {
        Debug.Assert(_registryLock.IsHeldByCurrentThread, "called under the registry's lock");
        _table.RemoveIfOwnedBy(cid, ownerId, RouteFlags.OwnerMask);
        _observed.Add((cid, default, true));
    }

    /// <summary>Tells the observers what this operation changed, after the table holds it, in order (runs of one kind at a time).</summary>
    public void NotifyObservers()
    {
        Debug.Assert(_registryLock.IsHeldByCurrentThread, "called under the registry's lock");
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
