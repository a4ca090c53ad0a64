using System.Net;
using QuicPipe.Dataplane.Pipeline;

namespace QuicPipe.Dataplane.Hosting;

/// <summary>
/// A UDP listener being configured: how its sockets are served (threads, batch size, socket options), the packet
/// stages every received batch runs through (<see cref="Use(Func{PacketDelegate, PacketDelegate})"/>, Kestrel's
/// middleware shape, first added runs first; the server ends the pipeline by transmitting what the stages
/// forwarded), and the services that live on its sockets (<see cref="AddService"/>). The server binds the
/// sockets; nothing added here opens one of its own.
/// </summary>
public sealed class UdpListenerBuilder : ListenerBuilder, IPacketPipelineBuilder<UdpListenerBuilder>
{
    private readonly List<Func<UdpLoopContext, PacketDelegate, PacketDelegate>> _stages = [];

    internal UdpListenerBuilder(IReadOnlyList<IPEndPoint> endpoints)
        : base(ListenerTransport.Udp, endpoints)
    {
    }

    /// <summary>Sockets per address (SO_REUSEPORT), each with its own receive loop and pipeline. Default: one per core.</summary>
    public int Threads { get; set; } = Environment.ProcessorCount;

    /// <summary>Datagrams per receive and send batch (1-1024).</summary>
    public int BatchSize { get; set; } = PacketBatch.DefaultCapacity;

    /// <summary>Largest datagram accepted; larger ones are dropped as oversize.</summary>
    public int SlotSize { get; set; } = PacketBatch.DefaultSlotSize;

    /// <summary>Buffers, GSO/GRO, receive timeout of every socket.</summary>
    public UdpSocketOptions Socket { get; set; } = new();

    internal IReadOnlyList<Func<UdpLoopContext, PacketDelegate, PacketDelegate>> Stages => _stages;

    private bool _hasLoopOwner;

    internal override bool IsEmpty => base.IsEmpty && _stages.Count == 0;

    /// <summary>Adds a packet stage (<c>next =&gt; batch =&gt; ...</c>), built once per receive loop, running after those added before it.</summary>
    public UdpListenerBuilder Use(Func<PacketDelegate, PacketDelegate> stage)
    {
        ArgumentNullException.ThrowIfNull(stage);
        _stages.Add((_, next) => stage(next));
        return this;
    }

    /// <summary>
    /// Adds a packet stage that needs to know which loop it serves (<c>(loop, next) =&gt; batch =&gt; ...</c>): the
    /// address and its index, and the listener's features (what its services published once the sockets were bound).
    /// </summary>
    public UdpListenerBuilder Use(Func<UdpLoopContext, PacketDelegate, PacketDelegate> stage)
    {
        ArgumentNullException.ThrowIfNull(stage);
        _stages.Add(stage);
        return this;
    }

    /// <summary>Adds a service, created at Build and started once the sockets are bound, after those added before it.</summary>
    public UdpListenerBuilder AddService(Func<ListenerContext, IListenerService> service)
    {
        AddServiceCore(service);
        return this;
    }

    /// <summary>
    /// Lets a service receive on the listener's sockets on threads of its own (a QUIC endpoint, whose work must
    /// share the receiving thread), running the listener's stages ended by its terminal step, instead of the
    /// server's receive loops. It is one of the listener's services, started where it was added. One owner per listener.
    /// </summary>
    public UdpListenerBuilder RunLoopsOn(Func<ListenerContext, IUdpLoopOwner> owner)
    {
        ArgumentNullException.ThrowIfNull(owner);
        if (_hasLoopOwner)
        {
            throw new InvalidOperationException("The listener's receive loops already have an owner: one per listener.");
        }

        _hasLoopOwner = true;
        AddServiceCore(owner);
        return this;
    }

    /// <summary>The options of the listener on one of its addresses, as the server binds it.</summary>
    internal UdpListenerOptions OptionsFor(IPEndPoint endpoint) => new()
    {
        Address = PeerAddress.FromEndPoint(endpoint),
        Threads = Threads,
        BatchSize = BatchSize,
        SlotSize = SlotSize,
        Socket = Socket,
    };
}
