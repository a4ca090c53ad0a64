using QuicPipe.Xdp;

namespace QuicPipe.Relay;

/// <summary>The XDP offload's part of <see cref="RelayStats"/>: the program's counters and what userspace did with its misses.</summary>
public sealed class XdpOffloadStats
{
    public required string Interface { get; init; }

    /// <summary>The mode the program actually runs in (native may have fallen back to generic).</summary>
    public required XdpAttachMode Mode { get; init; }

    /// <summary>The program's counters, summed over CPUs.</summary>
    public required XdpCounters Program { get; init; }

    /// <summary>Misses whose CID the relay still routes: their route went back into the program's map.</summary>
    public required long MissesReinserted { get; init; }

    /// <summary>Misses not put back: CIDs the relay does not route (any more), or routes that report their use.</summary>
    public required long MissesIgnored { get; init; }

    /// <summary>
    /// Route map updates that failed. Always 0: routes are written in place through a shared mapping, with no system
    /// call that could fail (a route that does not fit is counted in <see cref="RoutesNotOffloaded"/>). Kept so the
    /// stats line and the metrics keep their fields.
    /// </summary>
    public required long SyncErrors { get; init; }

    /// <summary>
    /// Route writes the program's table refused because the route's 8-slot window was full (<see cref="XdpProgram.RoutesNotOffloaded"/>):
    /// those routes' packets go through userspace. Each refusal counts, so a refused route whose packets miss counts again
    /// each time its miss tries to put it back.
    /// </summary>
    public required long RoutesNotOffloaded { get; init; }

    /// <summary>
    /// Bounced frames the interface's driver failed to send since the program was attached (<see cref="XdpAttachment.ReadTransmitErrors"/>):
    /// counted as transmitted by the program, yet lost. On veth, every XDP_TX frame while the other end runs no XDP program.
    /// </summary>
    public required long TransmitErrors { get; init; }
}
