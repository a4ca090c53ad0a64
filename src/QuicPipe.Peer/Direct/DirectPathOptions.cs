namespace QuicPipe.Peer.Direct;

/// <summary>The timers of direct-path upkeep and the dialer's opening pings, taken from <see cref="PeerEndpointOptions"/>.</summary>
internal sealed record DirectPathOptions(TimeSpan PunchDuration, TimeSpan KeepAlive, TimeSpan Timeout, TimeSpan RetryInterval, PunchOpening Opening);
