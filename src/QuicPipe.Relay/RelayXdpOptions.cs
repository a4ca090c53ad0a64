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
    /// Routes the program's route table is sized for (<see cref="XdpProgramOptions.RouteCapacity"/>). Null (the default):
    /// the relay's own CID table capacity, since the program can only hold routes the relay has. The table is
    /// preallocated kernel memory, 64-byte slots, at least two a route (128-256 bytes a route: 32 MiB for the default
    /// 262,144); a larger capacity lowers the load, so fewer routes find their 8-slot window full and stay in userspace.
    /// </summary>
    public uint? RouteCapacity { get; init; }

    /// <summary>The compiled program; by default the one the build puts beside QuicPipe.Xdp.dll.</summary>
    public string? ObjectPath { get; init; }
}
