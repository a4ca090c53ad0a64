using QuicPipe.Quic;

namespace QuicPipe.Relay.Control;

// Expiry: registrations end at their lifetime, and an identity's routes a grace period after its control
// connection ends unless it registers or refreshes again.
public sealed partial class CidRegistry
{
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
}
