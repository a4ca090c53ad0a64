using QuicPipe.Dataplane;

namespace QuicPipe.Relay;

/// <summary>
/// A point-in-time view of the relay: packet counters summed over every loop, the table, and the runtime. A record,
/// so that whoever runs an offload beside the relay can add its part: <c>relay.Snapshot() with { Xdp = ... }</c>.
/// </summary>
public sealed record RelayStats
{
    public required DataplaneCounters Packets { get; init; }

    public required int Routes { get; init; }

    public required int StaticRoutes { get; init; }

    public required long Evictions { get; init; }

    public required TimeSpan Uptime { get; init; }

    public required int Gen0Collections { get; init; }

    public required int Gen1Collections { get; init; }

    public required int Gen2Collections { get; init; }

    public required long AllocatedBytes { get; init; }

    /// <summary>The control service's and registry's counters.</summary>
    public Control.RelayControlStats? Control { get; init; }

    /// <summary>The XDP offload's counters; the relay never fills them (it does not know the offload), its runner may.</summary>
    public XdpOffloadStats? Xdp { get; init; }
}
