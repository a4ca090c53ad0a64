namespace QuicPipe.Quic;

/// <summary>
/// Takes a connection's DATAGRAM frames (RFC 9221) as they are decrypted, on the endpoint's loop thread, without a
/// copy or an allocation: for packet paths (a VPN writing each one into its TUN device) that cannot afford
/// <see cref="QuicConnection.ReadDatagramAsync"/>'s queue. Set with <see cref="QuicConnection.SetDatagramReceiver"/>.
/// </summary>
public interface IQuicDatagramReceiver
{
    /// <summary>
    /// One DATAGRAM's payload, valid only during the call. Runs inside the engine: keep it short, never block, and
    /// do not throw (an exception fails the connection).
    /// </summary>
    void OnDatagram(QuicConnection connection, ReadOnlySpan<byte> datagram);

    /// <summary>
    /// The end of a batch of received packets for <paramref name="connection"/>, after its DATAGRAMs in that batch
    /// (if any) and before the connection answers: a receiver that holds DATAGRAMs to hand them on together (a TUN
    /// writer joining TCP segments) lets them go here. Same thread and rules as <see cref="OnDatagram"/>.
    /// </summary>
    void OnDatagramBatchEnd(QuicConnection connection)
    {
    }
}
