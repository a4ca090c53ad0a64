using QuicPipe.Quic;

namespace QuicPipe.Peer;

/// <summary>A signal another peer sent us through the relay; <see cref="From"/> is the NodeId its certificate proved to the relay.</summary>
public sealed record RelaySignal(NodeId From, ReadOnlyMemory<byte> Payload);
