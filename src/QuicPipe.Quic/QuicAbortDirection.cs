namespace QuicPipe.Quic;

/// <summary>Which side(s) of a stream <see cref="QuicStream.AbortAsync"/> aborts.</summary>
[Flags]
public enum QuicAbortDirection
{
    /// <summary>Stop reading: the peer gets STOP_SENDING with the error code.</summary>
    Read = 1,

    /// <summary>Stop sending: the peer gets RESET_STREAM with the error code; unsent data is dropped.</summary>
    Write = 2,

    /// <summary>Both sides.</summary>
    Both = Read | Write,
}
