using System.Diagnostics.Metrics;

namespace QuicPipe.Peer.Diagnostics;

/// <summary>
/// A peer endpoint's paths as the instruments of meter <see cref="MeterName"/>: its connections by the kind of path they
/// are on, the moves between relayed and direct paths, hole-punch probes, and registrations with the relay. The
/// connections' own datagrams are the QUIC endpoint's (meter QuicPipe.Quic.Endpoint).
/// </summary>
public sealed class PeerPathMetrics : IDisposable
{
    public const string MeterName = "QuicPipe.Peer.Paths";

    private static readonly KeyValuePair<string, object?>[] Relayed = [new("path", "relayed")];
    private static readonly KeyValuePair<string, object?>[] Direct = [new("path", "direct")];

    private readonly Meter _meter = new(MeterName);

    // Moves counted as the endpoint reports them (a path change event, never a packet).
    private long _movesToDirect;
    private long _movesToRelayed;

    internal PeerPathMetrics(PeerEndpoint peer)
    {
        _meter.CreateObservableGauge("quicpipe.peer.connections", () => Connections(peer), "{connection}", "Open connections by the path they are on now: relayed or direct.");
        _meter.CreateObservableCounter("quicpipe.peer.path_changes", Moves, "{change}", "Times a connection moved, by the kind of path it moved to: direct or relayed.");
        _meter.CreateObservableCounter("quicpipe.peer.registrations", () => (long)peer.Registrations, "{registration}", "Registrations with the relay: the first, and one after each reconnect or address change.");
        _meter.CreateObservableCounter("quicpipe.peer.punch.pings_sent", () => peer.ProbeCounters.PingsSent, "{probe}", "Hole-punch probes sent.");
        _meter.CreateObservableCounter("quicpipe.peer.punch.pings_answered", () => peer.ProbeCounters.PingsAnswered, "{probe}", "Hole-punch probes from peers answered.");
        _meter.CreateObservableCounter("quicpipe.peer.punch.pongs_received", () => peer.ProbeCounters.PongsReceived, "{probe}", "Answers to our hole-punch probes received.");
        _meter.CreateObservableCounter("quicpipe.peer.punch.unknown_token", () => peer.ProbeCounters.UnknownToken, "{probe}", "Hole-punch probes dropped for a token no punch of ours knows.");
    }

    /// <summary>The meter (tests listen to this peer's instruments alone).</summary>
    public Meter Meter => _meter;

    public void Dispose() => _meter.Dispose();

    /// <summary>Counts one move of a connection to a path of <paramref name="kind"/>.</summary>
    internal void CountMove(PeerPathKind kind)
    {
        if (kind == PeerPathKind.Direct)
        {
            Interlocked.Increment(ref _movesToDirect);
        }
        else
        {
            Interlocked.Increment(ref _movesToRelayed);
        }
    }

    private Measurement<long>[] Moves() =>
    [
        new(Interlocked.Read(ref _movesToDirect), Direct),
        new(Interlocked.Read(ref _movesToRelayed), Relayed),
    ];

    private static Measurement<int>[] Connections(PeerEndpoint peer)
    {
        var (relayed, direct) = peer.CountOpenPaths();
        return [new(relayed, Relayed), new(direct, Direct)];
    }
}
