namespace QuicPipe.Dataplane.Pipeline;

/// <summary>
/// The stages of the dataplane, added by name to a <see cref="PipelineBuilder"/> or a server's UDP listener (any
/// <see cref="IPacketPipelineBuilder{TSelf}"/>). Partial: each stage adds its own method in its own file.
/// </summary>
public static partial class PipelineBuilderExtensions
{
    /// <summary>
    /// Adds the stage that parses each pending datagram's QUIC header (RFC 8999 invariants) and drops
    /// malformed ones (<see cref="DropReason.Truncated"/>, <see cref="DropReason.CidTooLong"/>).
    /// </summary>
    /// <remarks>
    /// <paramref name="shortDcidLength"/> is the DCID length peers use in short headers, 0 to 20
    /// (12 for QuicPipe's derived CIDs): short headers do not carry it.
    /// </remarks>
    public static TBuilder UseQuicHeaderParsing<TBuilder>(this TBuilder builder, int shortDcidLength = 12)
        where TBuilder : IPacketPipelineBuilder<TBuilder>
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentOutOfRangeException.ThrowIfNegative(shortDcidLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(shortDcidLength, ConnectionId.MaxLength);
        return builder.Use(next => new QuicHeaderStage(next, shortDcidLength).Invoke);
    }
}
