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
}
