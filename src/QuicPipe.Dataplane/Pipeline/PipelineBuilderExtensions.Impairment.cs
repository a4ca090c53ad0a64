namespace QuicPipe.Dataplane.Pipeline;

public static partial class PipelineBuilderExtensions
{
    /// <summary>
    /// Adds a stage that drops and reorders datagrams as <paramref name="options"/> says (see
    /// <see cref="ImpairmentOptions"/>), to test what runs over the link; drops count as <see cref="DropReason.Impaired"/>.
    /// Each pipeline built gets its own stage, seeded alike.
    /// </summary>
    public static TBuilder UseImpairment<TBuilder>(this TBuilder builder, ImpairmentOptions options)
        where TBuilder : IPacketPipelineBuilder<TBuilder>
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);

        // Checked here so that a bad setting fails where it is made, not when the pipeline is built.
        options.Validate();
        return builder.Use(next => new ImpairmentStage(next, options).Invoke);
    }
}
