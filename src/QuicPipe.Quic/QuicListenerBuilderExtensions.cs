using Microsoft.AspNetCore.Connections;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Dataplane.Pipeline;
using QuicPipe.Quic.Internal;

namespace QuicPipe.Quic;

/// <summary>QUIC on a server builder's UDP listener: endpoints on its sockets, their stages, and their connections' handler.</summary>
public static class QuicListenerBuilderExtensions
{
    /// <summary>
    /// Runs a QUIC endpoint on each address of the listener beside the listener's receive loops (nothing else is
    /// bound), and serves its incoming connections with the handler <paramref name="connections"/> composes
    /// (connection middleware, then the handler: Kestrel's <c>ListenOptions.Use</c> shape). The endpoints receive
    /// only what a stage of the listener hands them (<see cref="UseQuicEndpointDelivery"/>, the relay's control
    /// stage) and run their own stages (header, connection lookup, path probes) on their loop thread. For a listener
    /// that mostly forwards (a relay) and ends a few packets locally.
    /// </summary>
    public static UdpListenerBuilder UseQuicEndpoint(this UdpListenerBuilder listener, QuicEndpointOptions options, Action<IMultiplexedConnectionBuilder> connections)
    {
        ArgumentNullException.ThrowIfNull(listener);
        var build = Checked(options, connections);
        return listener.AddService(context => new AttachedQuicEndpointService(context, WithLoggers(options, context), build(context), context.LoggerFactory.CreateLogger("QuicPipe.Quic")));
    }

    /// <summary>
    /// Makes a QUIC endpoint the listener's receiver: on each address (one socket: set <c>Threads = 1</c>) the
    /// endpoint's loop thread receives, runs the listener's stages, and ends them with its terminal step: a packet
    /// the stages marked for a connection of ours goes to that connection; a long-header Initial may start an
    /// incoming connection (within <see cref="QuicEndpointOptions.MaxHandshakingConnections"/> and
    /// <see cref="QuicEndpointOptions.MaxConnections"/>); anything else is counted as unroutable and offered to
    /// <see cref="QuicEndpointOptions.UnroutableDatagramHandler"/>. Incoming connections reach the handler
    /// <paramref name="connections"/> composes. For a listener whose traffic is all its own (a peer).
    /// </summary>
    public static UdpListenerBuilder RunQuicEndpoint(this UdpListenerBuilder listener, QuicEndpointOptions options, Action<IMultiplexedConnectionBuilder> connections)
    {
        ArgumentNullException.ThrowIfNull(listener);
        var build = Checked(options, connections);
        return listener.RunLoopsOn(context => new QuicLoopService(context, WithLoggers(options, context), build(context), context.LoggerFactory.CreateLogger("QuicPipe.Quic")));
    }

    /// <summary>
    /// Marks each parsed packet whose destination CID is one of our connections' Local, with the connection's slot,
    /// on the endpoint that runs this listener's loops (<see cref="RunQuicEndpoint"/>). Runs on that endpoint's thread.
    /// </summary>
    public static UdpListenerBuilder UseQuicConnectionLookup(this UdpListenerBuilder listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        return listener.Use((loop, next) =>
            new PipelineBuilder().UseLocalCidLookup(loop.GetQuicEndpoints(nameof(UseQuicConnectionLookup))[loop.AddressIndex].ConnectionIds).Run(next).Build());
    }

    /// <summary>
    /// Answers the path probes of our connections' peers and takes the answers to ours
    /// (<see cref="QuicConnection.ProbePathAsync"/>), among the packets no connection claimed, on the endpoint that
    /// runs this listener's loops (<see cref="RunQuicEndpoint"/>). Forged probes are dropped and counted.
    /// </summary>
    public static UdpListenerBuilder UsePathProbes(this UdpListenerBuilder listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        return listener.Use((loop, next) =>
            new PathProbeStage(next, loop.GetQuicEndpoints(nameof(UsePathProbes))[loop.AddressIndex]).Invoke);
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

    /// <summary>The listener's QUIC endpoints, for a stage that needs them; a clear error naming the stage if there are none.</summary>
    public static QuicListenerEndpoints GetQuicEndpoints(this UdpLoopContext loop, string stage)
    {
        ArgumentNullException.ThrowIfNull(loop);
        return loop.Listener.Features.Get<QuicListenerEndpoints>()
            ?? throw new InvalidOperationException($"{loop.Listener}: {stage} needs UseQuicEndpoint or RunQuicEndpoint on the same listener.");
    }

    /// <summary>The options as given, or a copy reporting to the server's loggers when they name none.</summary>
    private static QuicEndpointOptions WithLoggers(QuicEndpointOptions options, ListenerContext context)
    {
        if (options.LoggerFactory is not null)
        {
            return options;
        }

        var copy = options.Clone();
        copy.LoggerFactory = context.LoggerFactory;
        return copy;
    }

    /// <summary>Checks the options where the listener is composed (a bad one fails Build, not Start) and returns the handler's composer.</summary>
    private static Func<ListenerContext, MultiplexedConnectionDelegate> Checked(QuicEndpointOptions options, Action<IMultiplexedConnectionBuilder> connections)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(connections);
        options.Validate();
        return context =>
        {
            var builder = new MultiplexedConnectionBuilder(context.Services);
            connections(builder);
            return builder.Build();
        };
    }
}
