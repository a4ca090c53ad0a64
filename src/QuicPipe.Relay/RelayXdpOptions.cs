using QuicPipe.Xdp;

namespace QuicPipe.Relay;

/// <summary>How the relay offloads forwarding to its XDP program (<c>quicpipe relay --xdp IFACE</c>).</summary>
public sealed class RelayXdpOptions
{
    /// <summary>The interface the program is attached to: the one the relay's traffic arrives on.</summary>
    public required string Interface { get; init; }

    /// <summary>Native (in the driver) or generic. Native falls back to generic, with a warning, when the driver refuses.</summary>
    public XdpAttachMode Mode { get; init; } = XdpAttachMode.Native;

    /// <summary>
    /// Capacity of the program's route table (an LRU; misses re-populate what it evicts). Null (the default): the
    /// relay's own CID table capacity, since the program can only hold routes the relay has. A larger map costs
    /// kernel memory (it is preallocated, about 100 bytes a route) and gains nothing.
    /// </summary>
    public uint? RouteCapacity { get; init; }

    /// <summary>The compiled program; by default the one the build puts beside QuicPipe.Xdp.dll.</summary>
    public string? ObjectPath { get; init; }
}
