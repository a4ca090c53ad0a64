using QuicPipe.Quic;

namespace QuicPipe.Relay.Control;

/// <summary>Settings of a <see cref="RelayControlService"/>.</summary>
public sealed class RelayControlOptions
{
    /// <summary>How often the registry's window moves are processed (the forwarding stage's use reports).</summary>
    public TimeSpan RouteUseInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How often expired registrations and ended grace periods are swept.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Signals one identity may send per second, on average.</summary>
    public double SignalsPerSecond { get; set; } = 50;

    /// <summary>Signals one identity may send in a burst.</summary>
    public int SignalBurst { get; set; } = 100;

    /// <summary>Malformed messages a connection may send before it is closed.</summary>
    public int MaxProtocolErrors { get; set; } = 3;

    /// <summary>How long a new connection has to open its control stream.</summary>
    public TimeSpan FirstStreamTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Messages queued for one connection (answers and signal deliveries) before deliveries to it are refused.</summary>
    public int OutboundQueue { get; set; } = 256;

    /// <summary>
    /// When the control endpoint validates a peer's address with a Retry before its handshake (default
    /// <see cref="QuicRetryMode.Auto"/>: once handshakes pile up, as under a flood of Initials).
    /// </summary>
    public QuicRetryMode Retry { get; set; } = QuicRetryMode.Auto;

    /// <summary>
    /// Most control connections from one source address at once (default 64, as many as the registry serves
    /// identities from one address); beyond it a new one is closed with <c>RelayProtocol.CloseSourceQuota</c>.
    /// </summary>
    public int MaxConnectionsPerAddress { get; set; } = 64;

    /// <summary>Most control connections from one /24 (IPv4) or /64 (IPv6) at once (default 256).</summary>
    public int MaxConnectionsPerPrefix { get; set; } = 256;

    internal void Validate()
    {
        if (RouteUseInterval <= TimeSpan.Zero || SweepInterval <= TimeSpan.Zero || FirstStreamTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(SweepInterval), "Intervals and timeouts are positive.");
        }

        if (MaxConnectionsPerAddress < 1 || MaxConnectionsPerPrefix < MaxConnectionsPerAddress)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxConnectionsPerAddress), "Per-source connection quotas are at least 1, and a prefix's at least an address's.");
        }

        if (SignalsPerSecond <= 0 || SignalBurst < 1 || MaxProtocolErrors < 1 || OutboundQueue < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(SignalsPerSecond), "Rates, bursts and queue sizes are positive.");
        }
    }
}
