namespace QuicPipe.Dataplane;

/// <summary>Why a datagram was dropped. Every drop is counted under exactly one reason.</summary>
public enum DropReason : byte
{
    None = 0,

    /// <summary>Shorter than the smallest header its first byte announces.</summary>
    Truncated,

    /// <summary>A long header announces a connection ID longer than 20 bytes.</summary>
    CidTooLong,

    /// <summary>Larger than a batch slot; the kernel cut it, so it cannot be forwarded intact.</summary>
    Oversize,

    /// <summary>No route for the destination connection ID (or its route expired).</summary>
    UnknownCid,

    /// <summary>The route points back at the sender; forwarding would reflect the packet.</summary>
    Reflection,

    /// <summary>The kernel refused to send it (unreachable, buffer full, ...).</summary>
    SendFailed,

    /// <summary>A datagram that reached the end of the pipeline with no verdict: a pipeline bug, counted not hidden.</summary>
    NoVerdict,

    /// <summary>Marked local, but this listener has no local handler.</summary>
    NoLocalHandler,

    /// <summary>For this node, but its local handler's queue was full (it is not keeping up).</summary>
    LocalQueueFull,

    /// <summary>Dropped on purpose by an impairment stage that simulates a lossy link (tests, lab runs).</summary>
    Impaired,

    /// <summary>A frame read from a TUN device that is not an IPv4 or IPv6 packet.</summary>
    NotIp,

    /// <summary>An IP packet to a destination no route covers (and no ICMP answer was allowed).</summary>
    NoRoute,

    /// <summary>A TUN frame whose offload header cannot be followed (unknown GSO type, headers past the end).</summary>
    BadOffload,
}

/// <summary>Helpers over <see cref="DropReason"/>.</summary>
public static class DropReasons
{
    /// <summary>Number of values, for arrays of counters indexed by reason.</summary>
    public const int Count = (int)DropReason.BadOffload + 1;

    /// <summary>Short snake_case names used in stats lines and logs.</summary>
    public static string Name(DropReason reason) => reason switch
    {
        DropReason.None => "none",
        DropReason.Truncated => "truncated",
        DropReason.CidTooLong => "cid_too_long",
        DropReason.Oversize => "oversize",
        DropReason.UnknownCid => "unknown_cid",
        DropReason.Reflection => "reflection",
        DropReason.SendFailed => "send_failed",
        DropReason.NoVerdict => "no_verdict",
        DropReason.NoLocalHandler => "no_local_handler",
        DropReason.LocalQueueFull => "local_queue_full",
        DropReason.Impaired => "impaired",
        DropReason.NotIp => "not_ip",
        DropReason.NoRoute => "no_route",
        DropReason.BadOffload => "bad_offload",
        _ => "unknown",
    };
}
