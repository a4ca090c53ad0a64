using System.Diagnostics.Metrics;
using QuicPipe.Relay.Control;

namespace QuicPipe.Relay.Diagnostics;

/// <summary>
/// The relay's control service and CID registry as the instruments of meter <see cref="MeterName"/>: sessions,
/// registrations, signals by outcome, protocol errors, and what the registry holds. Each instrument reads the service's
/// counters (<see cref="RelayControlService.Snapshot"/>) when a listener collects: the control plane's own lock, taken
/// per collection, never per packet.
/// </summary>
public sealed class RelayControlMetrics : IDisposable
{
    public const string MeterName = "QuicPipe.Relay.Control";

    private static readonly KeyValuePair<string, object?>[] Delivered = [new("outcome", "delivered")];
    private static readonly KeyValuePair<string, object?>[] UnknownNode = [new("outcome", "unknown_node")];
    private static readonly KeyValuePair<string, object?>[] RateLimited = [new("outcome", "rate_limited")];

    private readonly Meter _meter = new(MeterName);

    internal RelayControlMetrics(RelayControlService control)
    {
        _meter.CreateObservableGauge("quicpipe.relay.control.sessions", () => control.Snapshot().Sessions, "{session}", "Control connections open now (with a NodeId and a control stream).");
        _meter.CreateObservableCounter("quicpipe.relay.control.connections", () => control.Snapshot().ConnectionsAccepted, "{connection}", "Control connections accepted.");
        _meter.CreateObservableCounter("quicpipe.relay.control.connections.refused", () => control.Snapshot().RefusedWithoutCertificate, "{connection}", "Control connections closed because the client presented no certificate.");
        _meter.CreateObservableCounter("quicpipe.relay.control.connections.not_allowed", () => control.Snapshot().RefusedNotAllowed, "{connection}", "Control connections refused because their NodeId is not on the allow-list (relay --peers).");
        _meter.CreateObservableCounter("quicpipe.relay.control.connections.refused_per_source", () => control.Snapshot().RefusedPerSource, "{connection}", "Control connections refused at the per-address or per-prefix connection quota.");
        _meter.CreateObservableCounter("quicpipe.relay.control.registrations", () => control.Snapshot().Registrations, "{registration}", "CID registrations accepted.");
        _meter.CreateObservableCounter("quicpipe.relay.control.registrations.refused", () => control.Snapshot().RegistrationsRefused, "{registration}", "CID registrations refused (another identity's CID, quota, bad request).");
        _meter.CreateObservableCounter("quicpipe.relay.control.refreshes", () => control.Snapshot().Refreshes, "{refresh}", "Registration refreshes.");
        _meter.CreateObservableCounter("quicpipe.relay.control.signals", () => Signals(control.Snapshot()), "{signal}", "Signals between peers, by outcome: delivered, unknown_node, rate_limited.");
        _meter.CreateObservableCounter("quicpipe.relay.control.protocol_errors", () => control.Snapshot().ProtocolErrors, "{error}", "Malformed messages and framing errors.");
        _meter.CreateObservableGauge("quicpipe.relay.registry.identities", () => control.Snapshot().Registry.Identities, "{identity}", "NodeIds with registrations now.");
        _meter.CreateObservableGauge("quicpipe.relay.registry.registrations", () => control.Snapshot().Registry.Registrations, "{registration}", "Registrations held now.");
        _meter.CreateObservableGauge("quicpipe.relay.registry.cids", () => control.Snapshot().Registry.Cids, "{cid}", "CIDs routed by the registry now.");
        _meter.CreateObservableCounter("quicpipe.relay.registry.window_advances", () => control.Snapshot().Registry.WindowAdvances, "{advance}", "Times a derived registration's window moved ahead because one of its CIDs was used.");
        _meter.CreateObservableCounter("quicpipe.relay.registry.route_uses_dropped", () => control.Snapshot().Registry.RouteUsesDropped, "{notice}", "Route-use notices dropped because their queue was full (they recur).");
        _meter.CreateObservableCounter("quicpipe.relay.registry.expired", () => control.Snapshot().Registry.Expired, "{registration}", "Registrations removed because they expired or their grace period ran out.");
    }

    /// <summary>The meter (tests listen to this relay's instruments alone).</summary>
    public Meter Meter => _meter;

    public void Dispose() => _meter.Dispose();

    private static Measurement<long>[] Signals(RelayControlStats stats) =>
    [
        new(stats.SignalsDelivered, Delivered),
        new(stats.SignalsUnknownNode, UnknownNode),
        new(stats.SignalsRateLimited, RateLimited),
    ];
}
