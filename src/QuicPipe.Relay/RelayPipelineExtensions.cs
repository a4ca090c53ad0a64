using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Pipeline;
using QuicPipe.Relay.Internal;

namespace QuicPipe.Relay;

/// <summary>Adds the relay's stages to a packet pipeline.</summary>
public static class RelayPipelineExtensions
{
    /// <summary>Forwards each parsed packet to the endpoint <paramref name="table"/> routes its destination CID to.</summary>
    public static PipelineBuilder UseRelayForwarding(this PipelineBuilder builder, CidTable table)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(table);
        return builder.Use(next => new RelayForwardingStage(next, table).Invoke);
    }

    /// <summary>
    /// Forwards as <see cref="UseRelayForwarding(PipelineBuilder, CidTable)"/> does, and reports each packet
    /// forwarded on a route flagged <see cref="RouteFlags.ReportUse"/> to <paramref name="sink"/> (the CID
    /// registry's sliding window). A null sink is the plain stage.
    /// </summary>
    public static PipelineBuilder UseRelayForwarding(this PipelineBuilder builder, CidTable table, IRouteUseSink? sink)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(table);
        return builder.Use(next => new RelayForwardingStage(next, table, sink).Invoke);
    }
}
