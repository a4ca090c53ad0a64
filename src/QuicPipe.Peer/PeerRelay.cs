using System.Net;
using QuicPipe.Quic;

namespace QuicPipe.Peer;

/// <summary>A relay a peer registers with: its UDP address, and its NodeId to pin (null: trusted on first use, with a warning).</summary>
public sealed record PeerRelay(IPEndPoint EndPoint, NodeId? Id = null);
