using QuicPipe.Dataplane;

namespace QuicPipe.Relay;

/// <summary>A <see cref="RelayServer"/>'s settings: the relay's, and how its one listener serves its addresses.</summary>
public sealed class RelayServerOptions : RelayOptions
{
    /// <summary>Addresses to serve. Default: every IPv4 and IPv6 address, port 4433.</summary>
    public IList<PeerAddress> Listen { get; } = [];

    /// <summary>Receive loops (and SO_REUSEPORT sockets) per listen address.</summary>
    public int Threads { get; set; } = Environment.ProcessorCount;

    public int BatchSize { get; set; } = PacketBatch.DefaultCapacity;

    public int SlotSize { get; set; } = PacketBatch.DefaultSlotSize;

    public UdpSocketOptions Socket { get; set; } = new();

    public override void Validate()
    {
        base.Validate();
        var seen = new HashSet<PeerAddress>();
        foreach (var address in Listen)
        {
            if (!seen.Add(address))
            {
                throw new ArgumentException($"{address} is listed twice.");
            }
        }
    }
}
