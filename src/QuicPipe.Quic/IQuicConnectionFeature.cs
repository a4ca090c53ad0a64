namespace QuicPipe.Quic;

/// <summary>
/// The QUIC connection behind a <see cref="Microsoft.AspNetCore.Connections.MultiplexedConnectionContext"/>, for
/// handlers that need more than streams: the peer's NodeId, a close with a reason phrase, path and stats.
/// </summary>
public interface IQuicConnectionFeature
{
    QuicConnection Connection { get; }
}
