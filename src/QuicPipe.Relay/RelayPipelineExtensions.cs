using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Pipeline;
using QuicPipe.Relay.Internal;

namespace QuicPipe.Relay;

/// <summary>Adds the relay's forwarding stage to a packet pipeline or a UDP listener.</summary>
public static class RelayPipelineExtensions
{
    /// <summary>Forwards each parsed packet to the endpoint <paramref name="table"/> routes its destination CID to.</summary>
    public static TBuilder UseRelayForwarding<TBuilder>(this TBuilder builder, CidTable table)
        where TBuilder : IPacketPipelineBuilder<TBuilder>
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(table);
        return builder.Use(next => new RelayForwardingStage(next, table).Invoke);
    }

    /// <summary>
    /// Forwards as <c>UseRelayForwarding(table)</c> does, and reports each packet
    /// forwarded on a route flagged <see cref="RouteFlags.ReportUse"/> to <paramref name="sink"/> (the CID
    /// registry's sliding window). A null sink is the plain stage.
    /// </summary>
    public static TBuilder UseRelayForwarding<TBuilder>(this TBuilder builder, CidTable table, IRouteUseSink? sink)
        where TBuilder : IPacketPipelineBuilder<TBuilder>
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(table);
        return builder.Use(next => new RelayForwardingStage(next, table, sink).Invoke);
    }
}
