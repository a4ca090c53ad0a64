using System.Net;

namespace QuicPipe.Peer;

/// <summary>A registration the relay accepted: the address it routes our CIDs to (ours as it sees us), until when, and how many CIDs we have routed there now.</summary>
public sealed record RelayRegistration(IPEndPoint ObservedAddress, DateTimeOffset ExpiresAt, int CidCount);
