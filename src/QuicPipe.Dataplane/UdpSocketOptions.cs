namespace QuicPipe.Dataplane;

/// <summary>How <see cref="UdpBatchSocket.Bind"/> configures a socket.</summary>
public sealed class UdpSocketOptions
{
    /// <summary>
    /// SO_RCVBUF. Tried as SO_RCVBUFFORCE first, which ignores net.core.rmem_max but needs CAP_NET_ADMIN;
    /// without it the kernel caps the value at rmem_max. The kernel doubles the value for bookkeeping.
    /// </summary>
    public int ReceiveBufferBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>SO_SNDBUF, tried as SO_SNDBUFFORCE first, like <see cref="ReceiveBufferBytes"/>.</summary>
    public int SendBufferBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>SO_REUSEPORT, so that N sockets (one per receive loop) share a port and the kernel spreads flows over them.</summary>
    public bool ReusePort { get; set; } = true;

    /// <summary>UDP_GRO on receive, if the kernel supports it: one syscall may then return many datagrams in one buffer.</summary>
    public bool EnableGro { get; set; } = true;

    /// <summary>UDP_SEGMENT on send, if the kernel supports it: one sendmmsg entry may carry up to 64 datagrams.</summary>
    public bool EnableGso { get; set; } = true;

    /// <summary>
    /// SO_RCVTIMEO: the longest a <see cref="UdpBatchSocket.Receive(PacketBatch, DataplaneCounters)"/> waits, so that loops notice shutdown.
    /// <see cref="TimeSpan.Zero"/> or <see cref="Timeout.InfiniteTimeSpan"/> wait without limit (until data or Shutdown).
    /// </summary>
    public TimeSpan ReceiveTimeout { get; set; } = TimeSpan.FromMilliseconds(200);

    internal void Validate()
    {
        if (ReceiveBufferBytes <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ReceiveBufferBytes), ReceiveBufferBytes, "The receive buffer must be positive.");
        }

        if (SendBufferBytes <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(SendBufferBytes), SendBufferBytes, "The send buffer must be positive.");
        }

        if (ReceiveTimeout < TimeSpan.Zero && ReceiveTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(ReceiveTimeout), ReceiveTimeout, "The receive timeout must be zero or more (or infinite).");
        }
    }
}
