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
}
