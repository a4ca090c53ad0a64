using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Relay.Internal;
using QuicPipe.Xdp;

namespace QuicPipe.Relay;

/// <summary>The relay's handlers for a server builder's UDP listener: forwarding, and the XDP offload beside it.</summary>
public static class RelayListenerBuilderExtensions
{
    /// <summary>
    /// Serves the listener's addresses with a <see cref="RelayServer"/> (one route table for all of them). The
    /// addresses come from the listener, so <paramref name="options"/>' <see cref="RelayOptions.Listen"/> must be empty;
    /// they are added to it. The relay is published in the listener's features.
    /// </summary>
    public static UdpListenerBuilder UseRelayForwarding(this UdpListenerBuilder listener, RelayOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(listener);
        options ??= new RelayOptions();
        if (options.Listen.Count > 0)
        {
            throw new ArgumentException("UseRelayForwarding serves the listener's addresses: leave RelayOptions.Listen empty.", nameof(options));
        }

        foreach (var endpoint in listener.Endpoints)
        {
            options.Listen.Add(PeerAddress.FromEndPoint(endpoint));
        }

        return listener.Use(context =>
        {
            var relay = new RelayServer(options, context.LoggerFactory);
            context.Features.Set(relay);
            return new RelayForwardingHandler(relay, context.LoggerFactory.CreateLogger("QuicPipe.Relay"));
        });
    }

    /// <summary>Offloads the relay's forwarding to an XDP program on <paramref name="interfaceName"/> (needs root).</summary>
    public static UdpListenerBuilder UseXdpOffload(this UdpListenerBuilder listener, string interfaceName, XdpAttachMode mode = XdpAttachMode.Native) =>
        listener.UseXdpOffload(new RelayXdpOptions { Interface = interfaceName, Mode = mode });

    /// <summary>
    /// Offloads the relay's forwarding to an XDP program: must come after <see cref="UseRelayForwarding"/> on the
    /// same listener, whose routes it mirrors. The handler is published in the listener's features (its stats).
    /// </summary>
    public static UdpListenerBuilder UseXdpOffload(this UdpListenerBuilder listener, RelayXdpOptions options)
    {
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.Interface))
        {
            throw new ArgumentException("--xdp needs an interface name.", nameof(options));
        }

        return listener.Use(context =>
        {
            var relay = context.Features.Get<RelayServer>()
                ?? throw new InvalidOperationException($"{context}: UseXdpOffload needs UseRelayForwarding before it on the same listener (it offloads that relay's routes).");
            var handler = new XdpOffloadHandler(options, relay, context.LoggerFactory.CreateLogger("QuicPipe.Relay.Xdp"));
            context.Features.Set(handler);
            return handler;
        });
    }
}
