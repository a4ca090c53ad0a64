using System.Diagnostics.Metrics;
using QuicPipe.Dataplane.Diagnostics;

namespace QuicPipe.Relay.Diagnostics;

/// <summary>
/// The relay's forwarding as the instruments of meter <see cref="MeterName"/>: the datagrams of every receive loop
/// (the counters the stats line prints, drops by reason as the <c>reason</c> tag) and the route table. Observable
/// instruments: the loops count as before, and a collection sums their counters.
/// </summary>
public sealed class RelayForwardingMetrics : IDisposable
{
    public const string MeterName = "QuicPipe.Relay.Forwarding";

    private readonly Meter _meter = new(MeterName);

    internal RelayForwardingMetrics(RelayRouter relay)
    {
        PacketInstruments.Add(_meter, "quicpipe.relay", "forwarded", relay.ReadPacketCounters);
        _meter.CreateObservableGauge("quicpipe.relay.routes", () => relay.Table.Count, "{route}", "Routes in the CID table now (static and registered).");
        _meter.CreateObservableGauge("quicpipe.relay.routes.static", () => relay.StaticRouteCount, "{route}", "Routes from the routes file now.");
        _meter.CreateObservableCounter("quicpipe.relay.routes.evicted", () => relay.Table.Evictions, "{route}", "Routes evicted because the table was full (least recently used first).");
    }

    /// <summary>The meter (tests listen to this relay's instruments alone).</summary>
    public Meter Meter => _meter;

    public void Dispose() => _meter.Dispose();
}
