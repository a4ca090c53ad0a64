using QuicPipe.Dataplane;
using QuicPipe.Quic;

namespace QuicPipe.Relay.Control;

/// <summary>The registry's state for one identity (NodeId): where its routes point and what it registered. Under the registry's lock.</summary>
internal sealed class IdentityRecord(NodeId node, ulong ownerId)
{
    public NodeId Node { get; } = node;

    /// <summary>The OwnerId its routes carry (without flag bits); unique for the record's lifetime, never 0.</summary>
    public ulong OwnerId { get; } = ownerId;

    /// <summary>Where its routes lead: the address its control connection was last seen from.</summary>
    public PeerAddress Address { get; set; }

    /// <summary>
    /// The control connection that last registered or refreshed; only its end starts the grace period.
    /// <see cref="CidRegistry.RemoteSession"/> for a peer of another relay of the fleet, whose routes lead there.
    /// </summary>
    public long Session { get; set; }

    /// <summary>A peer of another relay of the fleet: its routes lead to that relay, and it is not published as ours.</summary>
    public bool IsRemote => Session == CidRegistry.RemoteSession;

    /// <summary>Whether the identity observer was told of it as registered here (and must be told when it goes).</summary>
    public bool IsPublished { get; set; }

    /// <summary>When (table clock) everything is removed because the control connection is gone; null while connected.</summary>
    public long? GraceDeadlineMs { get; set; }

    public List<Registration> Registrations { get; } = [];

    /// <summary>CIDs routed for it, over all registrations.</summary>
    public int CidCount { get; set; }

    public Registration? FindDerived(ReadOnlySpan<byte> key)
    {
        foreach (var registration in Registrations)
        {
            if (registration.IsDerived && registration.Key.AsSpan().SequenceEqual(key))
            {
                return registration;
            }
        }

        return null;
    }

    public Registration? FindExplicit() => Registrations.Find(r => !r.IsDerived);
}
