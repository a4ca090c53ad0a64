using QuicPipe.Dataplane;

namespace QuicPipe.Quic;

/// <summary>
/// Carries the packets of a <see cref="QuicEndpoint"/> that has no socket (<see cref="QuicVirtualSocket"/>): e.g. as
/// DATAGRAM frames of other QUIC connections, a circuit through the mesh.
/// </summary>
public interface IQuicPacketCarrier
{
    /// <summary>
    /// Sends one packet to <paramref name="destination"/>, an address of the carrier's own naming. Called on the
    /// endpoint's loop thread: never block; a packet that cannot go is dropped (and counted by the carrier), as a
    /// network would, and QUIC's loss recovery and congestion control react.
    /// </summary>
    void Send(ReadOnlySpan<byte> packet, in PeerAddress destination);

    /// <summary>
    /// The end of a run of <see cref="Send"/> calls (one flush of the endpoint's packets): a carrier that gathers
    /// packets to send them together lets them go here. Same thread and rules as <see cref="Send"/>.
    /// </summary>
    void Flush()
    {
    }
}
