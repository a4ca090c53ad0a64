namespace QuicPipe.Dataplane.Pipeline;

/// <summary>
/// Composes packet stages in Kestrel's middleware shape: <see cref="Use"/> adds a stage
/// (<c>next =&gt; batch =&gt; ...</c>), <see cref="Run"/> sets the terminal step, and <see cref="Build"/>
/// wraps the stages, last added innermost, around the terminal. Building allocates the delegates
/// once; running them allocates nothing.
/// </summary>
public sealed class PipelineBuilder : IPacketPipelineBuilder<PipelineBuilder>
{
    private readonly List<Func<PacketDelegate, PacketDelegate>> _stages = [];
    private PacketDelegate? _terminal;

    /// <summary>Adds a stage that runs after those added before it.</summary>
    public PipelineBuilder Use(Func<PacketDelegate, PacketDelegate> stage)
    {
        ArgumentNullException.ThrowIfNull(stage);
        _stages.Add(stage);
        return this;
    }

    /// <summary>Sets the step that ends the pipeline (for example, transmit). Without one, the pipeline ends with nothing.</summary>
    public PipelineBuilder Run(PacketDelegate terminal)
    {
        ArgumentNullException.ThrowIfNull(terminal);
        _terminal = terminal;
        return this;
    }

    public PacketDelegate Build()
    {
        PacketDelegate app = _terminal ?? EndOfPipeline;
        for (var i = _stages.Count - 1; i >= 0; i--)
        {
            app = _stages[i](app);
        }

        return app;
    }

    private static void EndOfPipeline(PacketBatch batch)
    {
    }
}
