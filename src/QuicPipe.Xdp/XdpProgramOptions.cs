using QuicPipe.Dataplane;
using QuicPipe.Xdp.Internal;

namespace QuicPipe.Xdp;

/// <summary>What <see cref="XdpProgram.Load"/> fixes before the program is verified.</summary>
public sealed class XdpProgramOptions
{
    /// <summary>The compiled program; the build copies it beside this assembly.</summary>
    public string ObjectPath { get; set; } = Path.Combine(AppContext.BaseDirectory, "quicpipe_xdp.o");

    /// <summary>Length of the destination CID in short headers (1-20). Every routed CID has this length.</summary>
    public int CidLength { get; set; } = 12;

    /// <summary>
    /// Routes the CID route table is sized for. The table gets the next power of two of slots at or above twice this
    /// (load at most one half), 64 bytes a slot, preallocated in the kernel: 128-256 bytes a route, 256 MiB at the
    /// default. Not a hard limit either way: a route whose 8-slot window is full is not offloaded (userspace forwards
    /// its packets), which at half load happens to about one route in 65,000.
    /// </summary>
    public uint RouteCapacity { get; set; } = 2_097_152;

    /// <summary>Miss ring buffer size in bytes: a power of two, at least one page. Each miss takes 56 bytes.</summary>
    public uint MissBufferBytes { get; set; } = 256 * 1024;

    internal void Validate()
    {
        if (CidLength is < 1 or > ConnectionId.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(CidLength), CidLength, $"CID length must be 1-{ConnectionId.MaxLength}.");
        }

        if (RouteCapacity is 0 or > RouteSlotTable.MaximumSlots / 2)
        {
            throw new ArgumentOutOfRangeException(nameof(RouteCapacity), RouteCapacity, $"Route capacity must be 1-{RouteSlotTable.MaximumSlots / 2}.");
        }

        if (MissBufferBytes < 4096 || !uint.IsPow2(MissBufferBytes))
        {
            throw new ArgumentOutOfRangeException(nameof(MissBufferBytes), MissBufferBytes, "The miss buffer must be a power of two of at least 4096 bytes.");
        }
    }
}
