namespace QuicPipe.Xdp;

/// <summary>Where the kernel runs the program.</summary>
public enum XdpAttachMode
{
    /// <summary>In the driver, before an skb exists (XDP_FLAGS_DRV_MODE): the fast path.</summary>
    Native,

    /// <summary>In the stack after the skb is built (XDP_FLAGS_SKB_MODE): works on any interface, slower.</summary>
    Generic,
}
