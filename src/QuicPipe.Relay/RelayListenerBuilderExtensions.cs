using QuicPipe.Dataplane.Hosting;
using QuicPipe.Dataplane.Pipeline;
using QuicPipe.Quic;
using QuicPipe.Relay.Internal;
using QuicPipe.Xdp;

namespace QuicPipe.Relay;

/// <summary>The relay on a server builder's UDP listener: its stages, its control handler, and the XDP offload beside it.</summary>
public static class RelayListenerBuilderExtensions
{
    /// <summary>
    /// Serves the listener's addresses as <paramref name="relay"/> (one route table for all of them). The whole
    /// relay, in the order a packet meets it:
    /// <list type="number">
    /// <item><c>UseQuicEndpoint</c>: the control service's QUIC endpoint on the listener's sockets, its connections
    /// handled by <see cref="Control.RelayControlService.OnConnectedAsync"/>;</item>
    /// <item>the relay's lifetime (static routes, registry upkeep), published in the listener's features;</item>
    /// <item><c>UseQuicHeaderParsing</c>: parse the header, drop what is not QUIC;</item>
    /// <item><see cref="UseRelayControl"/>: hand packets addressed to the relay itself to that endpoint;</item>
    /// <item><c>UseRelayForwarding</c>: forward the rest by destination CID (and report use to the registry).</item>
    /// </list>
    /// </summary>
    public static UdpListenerBuilder UseRelay(this UdpListenerBuilder listener, RelayRouter relay)
    {
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(relay);
        return listener
            .UseQuicEndpoint(relay.ControlEndpointOptions, connections => connections.Run(relay.Control.OnConnectedAsync))
            .AddService(context =>
            {
                context.Features.Set(relay);
                return new RelayRouterService(relay, context);
            })
            .UseQuicHeaderParsing(relay.CidLength)
            .UseRelayControl(relay)
            .UseRelayForwarding(relay.Table, relay.Registry.RouteUseSink);
    }

    /// <summary>
    /// Hands each parsed packet whose destination CID is in the relay namespace and has no route to the listener's
    /// QUIC endpoint (<see cref="QuicListenerBuilderExtensions.UseQuicEndpoint"/>, which must be on the same
    /// listener); drops it, counted, when that endpoint is stopping or its queue is full.
    /// </summary>
    public static UdpListenerBuilder UseRelayControl(this UdpListenerBuilder listener, RelayRouter relay)
    {
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(relay);
        return listener.Use((loop, next) =>
            new RelayControlDeliveryStage(next, relay.Table, loop.GetQuicEndpoints(nameof(UseRelayControl)), loop.AddressIndex).Invoke);
    }

    /// <summary>Offloads the relay's forwarding to an XDP program on <paramref name="interfaceName"/> (needs root).</summary>
    public static UdpListenerBuilder UseXdpOffload(this UdpListenerBuilder listener, string interfaceName, XdpAttachMode mode = XdpAttachMode.Native) =>
        listener.UseXdpOffload(new RelayXdpOptions { Interface = interfaceName, Mode = mode });

    /// <summary>
    /// Offloads the relay's forwarding to an XDP program: must come after <see cref="UseRelay"/> on the same
    /// listener, whose routes it mirrors. The service is published in the listener's features (its stats).
    /// </summary>
    public static UdpListenerBuilder UseXdpOffload(this UdpListenerBuilder listener, RelayXdpOptions options)
    {
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.Interface))
        {
            throw new ArgumentException("--xdp needs an interface name.", nameof(options));
        }

        return listener.AddService(context =>
        {
            var relay = context.Features.Get<RelayRouter>()
                ?? throw new InvalidOperationException($"{context}: UseXdpOffload needs UseRelay before it on the same listener (it offloads that relay's routes).");
            var service = new XdpOffloadService(options, relay, context, context.LoggerFactory.CreateLogger("QuicPipe.Relay.Xdp"));
            context.Features.Set(service);
            return service;
        });
    }
}
