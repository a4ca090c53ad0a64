using QuicPipe.Dataplane;

namespace QuicPipe.Quic;

/// <summary>Receives a datagram no connection of a <see cref="QuicEndpoint"/> claimed (see <see cref="QuicEndpointOptions.UnroutableDatagramHandler"/>).</summary>
/// <param name="datagram">The datagram's bytes; valid only during the call.</param>
/// <param name="source">Who sent it.</param>
public delegate void UnroutableDatagramHandler(ReadOnlySpan<byte> datagram, PeerAddress source);
