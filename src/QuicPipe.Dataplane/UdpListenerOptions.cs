namespace QuicPipe.Dataplane;

/// <summary>How one UDP listen address is served.</summary>
public sealed class UdpListenerOptions
{
    /// <summary>The address to bind (port 0 picks an ephemeral port, shared by all the listener's sockets).</summary>
    public PeerAddress Address { get; set; }

    /// <summary>Sockets on the address (SO_REUSEPORT), each with its own receive loop thread. Default: one per core.</summary>
    public int Threads { get; set; } = Environment.ProcessorCount;

    /// <summary>Datagrams per receive batch (1-1024).</summary>
    public int BatchSize { get; set; } = PacketBatch.DefaultCapacity;

    /// <summary>Largest datagram accepted; larger ones are dropped as oversize.</summary>
    public int SlotSize { get; set; } = PacketBatch.DefaultSlotSize;

    public UdpSocketOptions Socket { get; set; } = new();

    /// <summary>Throws <see cref="ArgumentException"/> with a message a person can act on.</summary>
    public void Validate()
    {
        if (Address.IsEmpty)
        {
            throw new ArgumentException("A listener needs an address.");
        }

        if (Threads is < 1 or > 256)
        {
            throw new ArgumentException($"Threads must be 1 to 256, not {Threads}.");
        }

        if (BatchSize is < 1 or > PacketBatch.MaxCapacity)
        {
            throw new ArgumentException($"Batch size must be 1 to {PacketBatch.MaxCapacity}, not {BatchSize}.");
        }

        if (Threads > 1 && !Socket.ReusePort)
        {
            throw new ArgumentException("More than one thread on an address needs SO_REUSEPORT.");
        }
    }
}
