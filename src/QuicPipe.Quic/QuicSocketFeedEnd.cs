namespace QuicPipe.Quic;

/// <summary>How a <see cref="QuicSocketFeed"/> ended.</summary>
public enum QuicSocketFeedEnd
{
    /// <summary>The socket's peer ended its stream (FIN): the QUIC stream's writes are ended too (FIN sent).</summary>
    SocketEnded,

    /// <summary>Reading the socket failed (a reset, for one); the QUIC stream is left as it is.</summary>
    SocketFailed,

    /// <summary>The QUIC stream's write side ended first (aborted, reset, or the connection ended).</summary>
    StreamFailed,

    /// <summary><see cref="QuicSocketFeed.Stop"/> ended it; the QUIC stream is left as it is.</summary>
    Stopped,
}
