using System.Diagnostics.Metrics;
using QuicPipe.Dataplane.Diagnostics;

namespace QuicPipe.Quic.Internal;

/// <summary>
/// A QUIC endpoint's counters as the instruments of meter <see cref="MeterName"/>: the engine loop's datagrams (as
/// every packet loop reports them, <see cref="PacketInstruments"/>), its connections, and what it refused or could not
/// route. Observable instruments only: they read the endpoint's own counters when a listener collects.
/// </summary>
internal sealed class QuicEndpointMetrics : IDisposable
{
    public const string MeterName = "QuicPipe.Quic.Endpoint";

    private readonly Meter _meter = new(MeterName);

    public QuicEndpointMetrics(QuicEndpoint endpoint)
    {
        PacketInstruments.Add(_meter, "quicpipe.quic", "sent", endpoint.ReadPacketCounters);
        _meter.CreateObservableGauge("quicpipe.quic.connections", () => endpoint.LiveConnections, "{connection}", "Connections live now (handshaking or established).");
        _meter.CreateObservableCounter("quicpipe.quic.connections.admitted", () => endpoint.AdmittedConnections, "{connection}", "Connections admitted since start: dialed, or incoming within the handshake and connection limits.");
        _meter.CreateObservableCounter("quicpipe.quic.connections.refused", () => endpoint.RefusedConnections, "{connection}", "Incoming Initials dropped at MaxHandshakingConnections or MaxConnections.");
        _meter.CreateObservableCounter("quicpipe.quic.connections.refused_per_source", () => endpoint.HandshakesRefusedPerSource, "{connection}", "Incoming Initials dropped at MaxHandshakingPerAddress or MaxHandshakingPerPrefix.");
        _meter.CreateObservableCounter("quicpipe.quic.initials.undecryptable", () => endpoint.InitialsUndecryptable, "{packet}", "Client Initials dropped before any allocation: not QUIC v1, or not decrypting with their DCID's keys.");
        _meter.CreateObservableCounter("quicpipe.quic.retries.sent", () => endpoint.RetriesSent, "{packet}", "Retry packets sent to validate a client's address.");
        _meter.CreateObservableCounter("quicpipe.quic.retries.tokens_rejected", () => endpoint.RetryTokensRejected, "{packet}", "Initials dropped for a Retry token that is not valid (forged, expired, another address).");
        _meter.CreateObservableCounter("quicpipe.quic.unroutable", () => endpoint.UnroutableDatagrams, "{packet}", "Datagrams that matched no connection and could not start one.");
        _meter.CreateObservableCounter("quicpipe.quic.path_probes.answered", () => endpoint.PathProbesAnswered, "{probe}", "Path probes of our connections' peers answered.");
        _meter.CreateObservableCounter("quicpipe.quic.path_probes.dropped", () => endpoint.PathProbesDropped, "{probe}", "Datagrams shaped like path probes dropped unanswered (unknown id, wrong key, late answer).");
    }

    /// <summary>The meter, for tests that listen to this endpoint's instruments only.</summary>
    public Meter Meter => _meter;

    public void Dispose() => _meter.Dispose();
}
