using QuicPipe.Protocol.Fleet;

namespace QuicPipe.Relay.Fleet;

/// <summary>What a relay does with the messages other relays of its fleet send it through the directory.</summary>
public interface IRelayInbox
{
    /// <summary>A peer's signal from relay <paramref name="fromRelay"/>: deliver it and answer.</summary>
    Task<FleetAnswer> OnSignalAsync(string fromRelay, FleetSignal signal, CancellationToken cancellationToken);

    /// <summary>Relay <paramref name="fromRelay"/> renews the routes of its peers here; no answer.</summary>
    void OnRoutes(string fromRelay, FleetRoutes routes);
}
