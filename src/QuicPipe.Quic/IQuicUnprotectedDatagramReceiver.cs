namespace QuicPipe.Quic;

/// <summary>
/// Takes the unprotected datagrams that arrive on a connection's path (<see cref="QuicConnection.TrySendUnprotectedDatagram"/>),
/// on the endpoint's loop thread, without a copy: for a node that switches packets between its connections by a label
/// of its own, as a relay forwards by CID, where the payload is already encrypted end to end (circuits). Set with
/// <see cref="QuicConnection.SetUnprotectedDatagramReceiver"/>.
/// </summary>
public interface IQuicUnprotectedDatagramReceiver
{
    /// <summary>
    /// One datagram's payload (what followed the header), writable and valid only during the call. Returns another
    /// connection of the same endpoint to pass it on to, unprotected, as the payload then is (sent with the other
    /// received datagrams passed on in the batch, in one system call), or null when it was taken here. Runs inside
    /// the engine: keep it short, never block, and do not throw.
    /// </summary>
    QuicConnection? OnUnprotectedDatagram(QuicConnection connection, Span<byte> datagram);
}
