using QuicPipe.Dataplane.Pipeline;
using QuicPipe.Dataplane.Tun;

namespace QuicPipe.Dataplane.Hosting;

/// <summary>
/// A TUN device being configured: the device the server creates (name, addresses, MTU, routes), the packet stages
/// every batch of IP packets read from it runs through (<see cref="Use"/>, first added runs first), and the services
/// that live on it (<see cref="AddService"/>). The server ends the pipeline by writing back to the device what the
/// stages marked <see cref="PacketVerdict.Forward"/> (an ICMP error answering a packet, say); a stage that hands a
/// packet elsewhere (to a peer) marks it <see cref="PacketVerdict.Consumed"/>. Handlers write packets into the device
/// through the <see cref="TunTransport"/> feature; nothing added here opens a device of its own.
/// </summary>
public sealed class TunListenerBuilder : ListenerBuilder, IPacketPipelineBuilder<TunListenerBuilder>
{
    private readonly List<Func<PacketDelegate, PacketDelegate>> _stages = [];

    internal TunListenerBuilder(TunDeviceOptions device)
        : base(ListenerTransport.Tun, [])
    {
        Device = device;
    }

    /// <summary>The device the server creates when it starts, and removes when it stops.</summary>
    public TunDeviceOptions Device { get; }

    /// <summary>Packets read per wake-up at most (1-1024).</summary>
    public int BatchSize { get; set; } = PacketBatch.DefaultCapacity;

    internal IReadOnlyList<Func<PacketDelegate, PacketDelegate>> Stages => _stages;

    internal override bool IsEmpty => base.IsEmpty && _stages.Count == 0;

    /// <summary>Adds a packet stage (<c>next =&gt; batch =&gt; ...</c>), running after those added before it.</summary>
    public TunListenerBuilder Use(Func<PacketDelegate, PacketDelegate> stage)
    {
        ArgumentNullException.ThrowIfNull(stage);
        _stages.Add(stage);
        return this;
    }

    /// <summary>Adds a service, created at Build and started once the device exists, after those added before it.</summary>
    public TunListenerBuilder AddService(Func<ListenerContext, IListenerService> service)
    {
        AddServiceCore(service);
        return this;
    }
}
