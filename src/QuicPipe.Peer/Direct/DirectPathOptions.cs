namespace QuicPipe.Peer.Direct;

/// <summary>The timers of direct-path upkeep, taken from <see cref="PeerEndpointOptions"/>.</summary>
internal sealed record DirectPathOptions(TimeSpan PunchDuration, TimeSpan KeepAlive, TimeSpan Timeout, TimeSpan RetryInterval);
