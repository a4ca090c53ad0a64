using Microsoft.AspNetCore.Connections;
using QuicPipe.Quic.Internal;

namespace QuicPipe.Quic;

/// <summary>
/// Connections and streams as Microsoft.AspNetCore.Connections.Abstractions contexts, so connection handlers
/// (tunnels, the relay's control service) are written once against Kestrel's shapes.
/// </summary>
public static class QuicConnectionContextExtensions
{
    /// <summary>
    /// The connection as a <see cref="MultiplexedConnectionContext"/>: ConnectAsync opens a bidirectional stream,
    /// AcceptAsync waits for one from the peer (null once the connection has ended). Abort and DisposeAsync close
    /// the connection with the <see cref="Microsoft.AspNetCore.Connections.Features.IProtocolErrorCodeFeature"/> code.
    /// </summary>
    public static MultiplexedConnectionContext AsMultiplexedConnectionContext(this QuicConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return new QuicMultiplexedConnectionContext(connection);
    }

    /// <summary>
    /// The stream as a <see cref="ConnectionContext"/> whose Transport reads <see cref="QuicStream.Input"/> and
    /// writes to the stream with backpressure; completing Transport.Output sends FIN (or, completed with an
    /// exception, resets the stream with the IProtocolErrorCodeFeature code).
    /// </summary>
    public static ConnectionContext AsConnectionContext(this QuicStream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return new QuicStreamContext(stream, QuicMultiplexedConnectionContext.NextConnectionId());
    }
}
