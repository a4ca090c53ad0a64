namespace QuicPipe.Dataplane.Pipeline;

public static partial class PipelineBuilderExtensions
{
    /// <summary>
    /// Adds the stage that marks each parsed packet whose destination CID <paramref name="table"/> routes to a
    /// local connection <see cref="PacketVerdict.Local"/>, with the connection's slot in
    /// <see cref="PacketBatch.LocalSlots"/>. Other packets stay pending for the stages after it.
    /// </summary>
    public static TBuilder UseLocalCidLookup<TBuilder>(this TBuilder builder, CidTable table)
        where TBuilder : IPacketPipelineBuilder<TBuilder>
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(table);
        return builder.Use(next => new LocalCidLookupStage(next, table).Invoke);
    }
}
