using Microsoft.AspNetCore.Connections;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Quic.Internal;

namespace QuicPipe.Quic;

/// <summary>QUIC on a server builder's UDP listener: an endpoint on its sockets, and its connections' handler.</summary>
public static class QuicListenerBuilderExtensions
{
    /// <summary>
    /// Runs a QUIC endpoint on each address of the listener, on the listener's own sockets (nothing else is bound),
    /// and serves its incoming connections with the handler <paramref name="connections"/> composes (connection
    /// middleware, then the handler: Kestrel's <c>ListenOptions.Use</c> shape). The endpoints receive only what a
    /// stage of the listener hands them through <see cref="QuicListenerEndpoints"/>, published in the listener's
    /// features once its sockets are bound.
    /// </summary>
    public static UdpListenerBuilder UseQuicEndpoint(this UdpListenerBuilder listener, QuicEndpointOptions options, Action<IMultiplexedConnectionBuilder> connections)
    {
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(connections);

        // Checked where the listener is composed, so a bad option fails Build rather than Start.
        options.Validate();
        return listener.AddService(context =>
        {
            var builder = new MultiplexedConnectionBuilder(context.Services);
            connections(builder);
            return new QuicEndpointService(context, options, builder.Build(), context.LoggerFactory.CreateLogger("QuicPipe.Quic"));
        });
    }

    /// <summary>
    /// Hands every packet still pending (parsed, decided by no stage before this one) to the listener's QUIC endpoint
    /// (<see cref="UseQuicEndpoint"/>, which must be on the same listener): the stage that ends a QUIC server's
    /// pipeline. Dropped and counted when the endpoint is stopping or its queue is full.
    /// </summary>
    public static UdpListenerBuilder UseQuicEndpointDelivery(this UdpListenerBuilder listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        return listener.Use((loop, next) => new QuicEndpointDeliveryStage(next, loop.GetQuicEndpoints(nameof(UseQuicEndpointDelivery)), loop.AddressIndex).Invoke);
    }

    /// <summary>The listener's QUIC endpoints, for a stage that delivers to them; a clear error if there are none.</summary>
    public static QuicListenerEndpoints GetQuicEndpoints(this UdpLoopContext loop, string stage)
    {
        ArgumentNullException.ThrowIfNull(loop);
        return loop.Listener.Features.Get<QuicListenerEndpoints>()
            ?? throw new InvalidOperationException($"{loop.Listener}: {stage} needs UseQuicEndpoint on the same listener (the endpoint it delivers to).");
    }
}
