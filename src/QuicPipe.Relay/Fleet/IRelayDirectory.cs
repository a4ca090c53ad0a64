using QuicPipe.Protocol.Fleet;
using QuicPipe.Quic;

namespace QuicPipe.Relay.Fleet;

/// <summary>
/// What a relay of a fleet needs from the store the fleet shares (docs/fleet.md): publish and withdraw the identities
/// registered here (NodeId -> this relay, lapsing within the store's lease if the relay dies), find the relay a NodeId
/// is registered at, send a signal to that relay and await its answer, and hear the signals other relays send here.
/// etcd implements it (<see cref="EtcdRelayDirectory"/>); a NATS key-value store with subjects could too.
/// </summary>
public interface IRelayDirectory : IAsyncDisposable
{
    /// <summary>This relay's id in the directory: its NodeId.</summary>
    string RelayId { get; }

    /// <summary>True while the store answers; publishing and lookups fail fast (with <see cref="RelayDirectoryException"/>) while it does not.</summary>
    bool IsConnected { get; }

    /// <summary>
    /// Starts publishing and hearing the inbox; returns at once, also when the store is down (it is retried, and
    /// everything published again when it answers). <paramref name="inbox"/> handles what other relays send here.
    /// </summary>
    void Start(IRelayInbox inbox);

    /// <summary>Publishes <paramref name="node"/> as registered here; queued, never blocks (called under the registry's lock).</summary>
    void Publish(NodeId node);

    /// <summary>Withdraws <paramref name="node"/>; queued, never blocks.</summary>
    void Withdraw(NodeId node);

    /// <summary>The id of a relay <paramref name="node"/> is registered at, other than this one; null when none is.</summary>
    Task<string?> LookupAsync(NodeId node, CancellationToken cancellationToken);

    /// <summary>Sends <paramref name="signal"/> to relay <paramref name="relayId"/> and returns its answer.</summary>
    Task<FleetAnswer> SendAsync(string relayId, FleetSignal signal, CancellationToken cancellationToken);

    /// <summary>Sends <paramref name="routes"/> to relay <paramref name="relayId"/>, expecting no answer.</summary>
    Task PostAsync(string relayId, FleetRoutes routes, CancellationToken cancellationToken);
}
