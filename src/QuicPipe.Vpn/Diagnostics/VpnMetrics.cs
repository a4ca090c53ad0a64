using System.Diagnostics.Metrics;

namespace QuicPipe.Vpn.Diagnostics;

/// <summary>
/// A VPN router's counters (<see cref="VpnCounters"/>) as the instruments of meter <see cref="MeterName"/>: IP packets
/// each way and those not delivered, by reason. Read when a listener collects; the stages count as before.
/// </summary>
public sealed class VpnMetrics : IDisposable
{
    public const string MeterName = "QuicPipe.Vpn";

    private static readonly (string Reason, Func<VpnCounters, long> Read)[] DropReasons =
    [
        ("not_ip", c => c.NotIpPackets),
        ("no_route", c => c.NoRoutePackets),
        ("too_big", c => c.TooBigPackets),
        ("spoofed", c => c.SpoofedPackets),
        ("bad_datagram", c => c.BadDatagramPackets),
        ("pending_full", c => c.PendingDroppedPackets),
        ("send_queue_full", c => c.SendDroppedPackets),
        ("tun_write_failed", c => c.TunWriteFailures),
    ];

    private static readonly KeyValuePair<string, object?>[][] ReasonTags =
        [.. DropReasons.Select(d => new KeyValuePair<string, object?>[] { new("reason", d.Reason) })];

    private readonly Meter _meter = new(MeterName);

    public VpnMetrics(VpnRouter router)
    {
        ArgumentNullException.ThrowIfNull(router);
        var counters = router.Counters;
        _meter.CreateObservableCounter("quicpipe.vpn.sent", () => counters.Sent, "{packet}", "IP packets from the TUN device queued to a peer.");
        _meter.CreateObservableCounter("quicpipe.vpn.sent.bytes", () => counters.SentBytes, "By", "Bytes of the IP packets queued to peers.");
        _meter.CreateObservableCounter("quicpipe.vpn.received", () => counters.Received, "{packet}", "IP packets from peers written into the TUN device.");
        _meter.CreateObservableCounter("quicpipe.vpn.received.bytes", () => counters.ReceivedBytes, "By", "Bytes of the IP packets from peers written into the TUN device.");
        _meter.CreateObservableCounter("quicpipe.vpn.dropped", () => Dropped(counters), "{packet}", "IP packets not delivered, by reason (no_route and too_big are answered with ICMP).");
    }

    /// <summary>The meter (tests listen to this router's instruments alone).</summary>
    public Meter Meter => _meter;

    public void Dispose() => _meter.Dispose();

    private static Measurement<long>[] Dropped(VpnCounters counters)
    {
        var measurements = new Measurement<long>[DropReasons.Length];
        for (var i = 0; i < DropReasons.Length; i++)
        {
            measurements[i] = new Measurement<long>(DropReasons[i].Read(counters), ReasonTags[i]);
        }

        return measurements;
    }
}
