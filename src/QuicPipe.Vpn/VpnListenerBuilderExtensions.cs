using QuicPipe.Dataplane.Hosting;
using QuicPipe.Dataplane.Pipeline;
using QuicPipe.Vpn.Internal;

namespace QuicPipe.Vpn;

/// <summary>The VPN's stages on a server builder's TUN listener.</summary>
public static class VpnListenerBuilderExtensions
{
    /// <summary>
    /// Serves the TUN device as <paramref name="router"/>'s: packets from peers are written into it, and each batch
    /// read from it runs, in this order:
    /// <list type="number">
    /// <item><c>UseIpRouting</c>: the destination's longest prefix names the peer; not IP: dropped; no peer: ICMP
    /// unreachable back into the device;</item>
    /// <item><c>UsePeerMtu</c>: larger than the peer's path carries: ICMP fragmentation-needed / packet-too-big;</item>
    /// <item><c>UsePeerDelivery</c>: to the peer's connection as a DATAGRAM (dialled on the first packet).</item>
    /// </list>
    /// The server writes the ICMP answers back into the device.
    /// </summary>
    public static TunListenerBuilder UseVpn(this TunListenerBuilder tun, VpnRouter router)
    {
        ArgumentNullException.ThrowIfNull(tun);
        ArgumentNullException.ThrowIfNull(router);
        return tun
            .AddService(context => new VpnTunService(router, context))
            .UseIpRouting(router)
            .UsePeerMtu(router)
            .UsePeerDelivery(router);
    }

    /// <summary>Routes each IP packet to a peer by destination (cryptokey routing); ICMP unreachable where none covers it.</summary>
    public static TBuilder UseIpRouting<TBuilder>(this TBuilder builder, VpnRouter router)
        where TBuilder : IPacketPipelineBuilder<TBuilder>
    {
        ArgumentNullException.ThrowIfNull(router);
        return builder.Use(next => new IpRoutingStage(next, router).Invoke);
    }

    /// <summary>Answers routed packets too large for their peer's path with ICMP "too big".</summary>
    public static TBuilder UsePeerMtu<TBuilder>(this TBuilder builder, VpnRouter router)
        where TBuilder : IPacketPipelineBuilder<TBuilder>
    {
        ArgumentNullException.ThrowIfNull(router);
        return builder.Use(next => new PeerMtuStage(next, router).Invoke);
    }

    /// <summary>Hands routed packets to their peers' connections.</summary>
    public static TBuilder UsePeerDelivery<TBuilder>(this TBuilder builder, VpnRouter router)
        where TBuilder : IPacketPipelineBuilder<TBuilder>
    {
        ArgumentNullException.ThrowIfNull(router);
        return builder.Use(next => new PeerDeliveryStage(next, router).Invoke);
    }
}
