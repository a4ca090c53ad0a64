using System.Diagnostics.Metrics;

namespace QuicPipe.Relay.Diagnostics;

/// <summary>
/// The XDP offload as the instruments of meter <see cref="MeterName"/>: the program's per-CPU counters (summed) and
/// what userspace did with its misses. Each collection reads the program's counter map once per instrument, outside
/// any packet path: the program counts in the kernel as before.
/// </summary>
public sealed class XdpOffloadMetrics : IDisposable
{
    public const string MeterName = "QuicPipe.Xdp";

    private static readonly string[] PassReasons = ["long_header", "relay_cid", "miss", "family_change", "unsupported", "reflection", "busy"];
    private static readonly KeyValuePair<string, object?>[][] PassTags = [.. PassReasons.Select(r => new KeyValuePair<string, object?>[] { new("reason", r) })];

    private readonly Meter _meter = new(MeterName);

    internal XdpOffloadMetrics(Func<XdpOffloadStats?> read)
    {
        _meter.CreateObservableCounter("quicpipe.xdp.received", () => (long)(read()?.Program.Received ?? 0), "{packet}", "Packets the program saw.");
        _meter.CreateObservableCounter("quicpipe.xdp.transmitted", () => (long)(read()?.Program.Transmitted ?? 0), "{packet}", "Packets rewritten and sent back out in the driver (XDP_TX): forwarded without userspace.");
        _meter.CreateObservableCounter("quicpipe.xdp.passed", () => Passed(read()), "{packet}", "QUIC packets for the relay handed to userspace, by reason: long_header, relay_cid, miss, family_change, unsupported, reflection, busy.");
        _meter.CreateObservableCounter("quicpipe.xdp.miss_buffer_full", () => (long)(read()?.Program.MissBufferFull ?? 0), "{packet}", "Misses not reported to userspace because the ring buffer was full.");
        _meter.CreateObservableCounter("quicpipe.xdp.malformed", () => (long)(read()?.Program.Malformed ?? 0), "{packet}", "Packets to the relay's ports too short or inconsistent to parse.");
        _meter.CreateObservableCounter("quicpipe.xdp.non_quic", () => (long)(read()?.Program.NonQuic ?? 0), "{packet}", "Packets to the relay's ports that are not QUIC.");
        _meter.CreateObservableCounter("quicpipe.xdp.misses.reinserted", () => read()?.MissesReinserted ?? 0, "{miss}", "Misses whose CID the relay still routes: the route went back into the program's map.");
        _meter.CreateObservableCounter("quicpipe.xdp.misses.ignored", () => read()?.MissesIgnored ?? 0, "{miss}", "Misses not put back (CIDs the relay does not route, or routes that report their use).");
        _meter.CreateObservableCounter("quicpipe.xdp.transmit_errors", () => read()?.TransmitErrors ?? 0, "{packet}", "Bounced frames the interface's driver failed to send (counted as transmitted by the program, yet lost).");
        _meter.CreateObservableCounter("quicpipe.xdp.sync_errors", () => read()?.SyncErrors ?? 0, "{error}", "Route map updates that failed: always 0 since routes are written through a shared mapping (see routes_not_offloaded).");
        _meter.CreateObservableCounter("quicpipe.xdp.routes_not_offloaded", () => read()?.RoutesNotOffloaded ?? 0, "{route}", "Route writes the program's table refused (the route's 8-slot window full); those packets go through userspace.");
    }

    /// <summary>The meter (tests listen to this offload's instruments alone).</summary>
    public Meter Meter => _meter;

    public void Dispose() => _meter.Dispose();

    private static Measurement<long>[] Passed(XdpOffloadStats? stats)
    {
        var p = stats?.Program ?? default;
        ulong[] values = [p.PassedLongHeader, p.PassedRelayCid, p.Missed, p.PassedFamilyChange, p.PassedUnsupported, p.PassedReflection, p.PassedBusy];
        var measurements = new Measurement<long>[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            measurements[i] = new Measurement<long>((long)values[i], PassTags[i]);
        }

        return measurements;
    }
}
