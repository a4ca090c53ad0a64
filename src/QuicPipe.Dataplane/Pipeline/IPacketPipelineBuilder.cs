namespace QuicPipe.Dataplane.Pipeline;

/// <summary>
/// Anything packet stages are added to: a bare <see cref="PipelineBuilder"/> (a QUIC endpoint's own pipeline, a
/// test's) or a server's UDP listener. The stage extension methods (<c>UseQuicHeaderParsing</c>,
/// <c>UseRelayForwarding</c>...) are written once against it and return the builder they were called on, so a
/// listener's composition reads as one chain.
/// </summary>
public interface IPacketPipelineBuilder<out TSelf>
    where TSelf : IPacketPipelineBuilder<TSelf>
{
    /// <summary>Adds a stage (<c>next =&gt; batch =&gt; ...</c>) that runs after those added before it.</summary>
    TSelf Use(Func<PacketDelegate, PacketDelegate> stage);
}
