using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane;

namespace QuicPipe.Quic;

/// <summary>Settings of a <see cref="QuicEndpoint"/>: our identity, CIDs, timeouts and whether (and whom) it accepts.</summary>
public sealed class QuicEndpointOptions
{
    /// <summary>Our key and certificate, presented to every peer (both as client and as server).</summary>
    public NodeIdentity? Identity { get; set; }

    /// <summary>Length of every CID this endpoint issues, 8 to 20 (default 12, as the relay expects).</summary>
    public int ConnectionIdLength { get; set; } = 12;

    /// <summary>Closes a connection after this long without traffic (QUIC max_idle_timeout).</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Sends a PING when a connection has sent nothing for this long, so that an otherwise idle connection outlives
    /// <see cref="IdleTimeout"/> (both ends') and keeps its NAT mappings open. Null (the default, for clients and
    /// servers alike): no keep-alive, idle connections end by idle timeout. The side behind a NAT sets it well under
    /// the NAT's UDP mapping timeout (often 30 s): e.g. 10-15 s. Must be shorter than the idle timeout to help.
    /// </summary>
    public TimeSpan? KeepAliveInterval { get; set; }

    /// <summary>
    /// The max_datagram_frame_size transport parameter (RFC 9221): the largest DATAGRAM frame we accept, 0 to not
    /// take DATAGRAMs at all (then peers cannot send us any). Default 65535 ("any size"; the path MTU is the real
    /// bound). What we may send is bounded by the peer's value: <see cref="QuicConnection.MaxDatagramSize"/>.
    /// </summary>
    public int MaxDatagramFrameSize { get; set; } = 65535;

    /// <summary>
    /// The congestion controller of this endpoint's connections (default <see cref="QuicCongestionControl.Cubic"/>).
    /// </summary>
    public QuicCongestionControl CongestionControl { get; set; } = QuicCongestionControl.Cubic;

    /// <summary>
    /// Received DATAGRAMs a connection holds for <see cref="QuicConnection.ReadDatagramAsync"/> (default 1024); when it
    /// is full, arriving ones are dropped and counted (<see cref="QuicConnection.DatagramsDroppedOnReceive"/>).
    /// </summary>
    public int DatagramReceiveQueue { get; set; } = 1024;

    /// <summary>
    /// Fails a connection whose handshake has not completed this long after it started (default 10 s). Bounds
    /// how long a half-open connection (e.g. one started by a forged or junk Initial) holds its slot.
    /// </summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Most incoming connections that may be in their handshake at once (default 256); Initials that would start
    /// another are dropped and counted in <see cref="QuicEndpoint.RefusedConnections"/>.
    /// </summary>
    public int MaxHandshakingConnections { get; set; } = 256;

    /// <summary>
    /// Most incoming handshakes one source address may have open at once (default 16), within
    /// <see cref="MaxHandshakingConnections"/>: so that one host replaying Initials cannot take every slot. Initials
    /// beyond it are dropped and counted in <see cref="QuicEndpoint.HandshakesRefusedPerSource"/>.
    /// </summary>
    public int MaxHandshakingPerAddress { get; set; } = 16;

    /// <summary>
    /// Most incoming handshakes one /24 (IPv4) or /64 (IPv6) may have open at once (default 64), counted like
    /// <see cref="MaxHandshakingPerAddress"/>; at least that.
    /// </summary>
    public int MaxHandshakingPerPrefix { get; set; } = 64;

    /// <summary>
    /// When to validate a client's address with a Retry before creating its connection (default
    /// <see cref="QuicRetryMode.Never"/>: the CIDs of a Retry must route back to this endpoint, which a relay's control
    /// endpoint ensures and a peer behind a relay cannot).
    /// </summary>
    public QuicRetryMode Retry { get; set; } = QuicRetryMode.Never;

    /// <summary>
    /// With <see cref="QuicRetryMode.Auto"/>: the open handshakes from which an Initial without a valid token gets a
    /// Retry instead of a connection (default 32).
    /// </summary>
    public int RetryThreshold { get; set; } = 32;

    /// <summary>How long a Retry token stays valid (default 10 s): the client uses it within a round trip.</summary>
    public TimeSpan RetryTokenLifetime { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Most live connections (both directions, handshaking or not; default 4096). Beyond it incoming Initials are
    /// refused (counted) and <see cref="QuicEndpoint.ConnectAsync"/> throws. Connections in their closing or
    /// draining period count against a separate limit of the same size.
    /// </summary>
    public int MaxConnections { get; set; } = 4096;

    /// <summary>
    /// Receive window each stream starts with (default 1 MiB): the peer may send this far ahead of what the
    /// application has read from <see cref="QuicStream.Input"/>. Credit returns only as the application reads.
    /// </summary>
    public int StreamReceiveWindow { get; set; } = 1024 * 1024;

    /// <summary>How far ngtcp2 may grow a stream's receive window for a fast reader (default 16 MiB).</summary>
    public int MaxStreamReceiveWindow { get; set; } = 16 * 1024 * 1024;

    /// <summary>Receive window of a whole connection at its start (default 4 MiB), over all its streams.</summary>
    public int ConnectionReceiveWindow { get; set; } = 4 * 1024 * 1024;

    /// <summary>How far ngtcp2 may grow a connection's receive window (default 32 MiB).</summary>
    public int MaxConnectionReceiveWindow { get; set; } = 32 * 1024 * 1024;

    /// <summary>
    /// Most bytes a stream holds queued and not yet acknowledged by the peer (default 1 MiB); beyond it
    /// <see cref="QuicStream.WriteAsync"/> waits (send backpressure).
    /// </summary>
    public int StreamSendBuffer { get; set; } = 1024 * 1024;

    /// <summary>
    /// Lower bound of the closing and draining periods (normally three probe timeouts, RFC 9000 §10.2): lets tests
    /// observe a period that on loopback lasts only milliseconds.
    /// </summary>
    internal TimeSpan MinimumClosingPeriod { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// Count what the loop thread allocates, per iteration (QuicEndpoint.LoopAllocatedBytes and
    /// LoopAllocatingIterations): for the steady-state allocation tests and benchmarks. Off, the loop does not read
    /// the GC's per-thread counter at all and those stay 0.
    /// </summary>
    internal bool TrackLoopAllocations { get; set; }

    /// <summary>
    /// For tests: CIDs the endpoint's routing table holds, instead of room for every CID of MaxConnections live and as
    /// many closing connections; a small table shows what happens when it is full.
    /// </summary>
    internal int? ConnectionIdTableCapacity { get; set; }

    /// <summary>Accept incoming connections (be a server). Off: only <see cref="QuicEndpoint.ConnectAsync"/> works.</summary>
    public bool AcceptIncoming { get; set; }

    /// <summary>The ALPN protocol incoming connections must offer.</summary>
    public string ServerAlpn { get; set; } = "quicpipe";

    /// <summary>
    /// Further ALPN protocols incoming connections may offer instead of <see cref="ServerAlpn"/> (at most three): one
    /// endpoint then serves several kinds of connection, told apart by <see cref="QuicConnection.NegotiatedAlpn"/>.
    /// </summary>
    public IList<string> AdditionalServerAlpns { get; } = [];

    /// <summary>The only client NodeId incoming connections may present (mutual TLS, pinned).</summary>
    public NodeId? ExpectedClient { get; set; }

    /// <summary>
    /// Chooses the client NodeId to pin for each incoming connection from the destination CID of its first Initial
    /// (the CID the server handed that client out of band, e.g. through the relay's signalling); null refuses the
    /// connection (it is dropped unanswered and counted in <see cref="QuicEndpoint.RefusedConnections"/>).
    /// Called on the endpoint's loop thread: keep it quick. Takes precedence over <see cref="ExpectedClient"/>.
    /// </summary>
    public Func<ConnectionId, NodeId?>? ExpectedClientSelector { get; set; }

    /// <summary>
    /// Accept any client instead of pinning <see cref="ExpectedClient"/> (tests, interop): a client certificate is
    /// then optional, and <see cref="QuicConnection.RemoteNodeId"/> is null for a client that presents none.
    /// </summary>
    public bool AllowAnyClient { get; set; }

    /// <summary>Secret keying the stateless-reset tokens of our CIDs; random when not set.</summary>
    public byte[]? StatelessResetKey { get; set; }

    /// <summary>
    /// Called, on the endpoint's loop thread, with each datagram that belongs to no connection and cannot start one
    /// (not QUIC, or an unknown CID; Initials refused by the connection limits are not offered): the peer's hole-punch probes and the
    /// relay's forwarding share the endpoint's socket. The span is valid only during the call; keep it quick.
    /// </summary>
    public UnroutableDatagramHandler? UnroutableDatagramHandler { get; set; }

    /// <summary>
    /// Where the endpoint reports what it survives: a failed loop step, a throwing unroutable-datagram or
    /// PathChanged handler. Null: nothing is reported. On a server's listener, the server's loggers fill it.
    /// </summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>A copy, for a component that must fill in a setting without changing its caller's object.</summary>
    internal QuicEndpointOptions Clone() => (QuicEndpointOptions)MemberwiseClone();

    /// <summary>Issues the CIDs for our side (server SCIDs and NEW_CONNECTION_ID); random when not set.</summary>
    public Func<int, ConnectionId>? ConnectionIdGenerator { get; set; }

    internal void Validate()
    {
        if (Identity is null)
        {
            throw new ArgumentException("QuicEndpointOptions.Identity is required.");
        }

        if (ConnectionIdLength is < 8 or > 20)
        {
            throw new ArgumentOutOfRangeException(nameof(ConnectionIdLength), ConnectionIdLength, "CIDs are 8 to 20 bytes here.");
        }

        if (KeepAliveInterval is { } keepAlive && (keepAlive < TimeSpan.FromMilliseconds(10) || (IdleTimeout > TimeSpan.Zero && keepAlive >= IdleTimeout)))
        {
            throw new ArgumentOutOfRangeException(nameof(KeepAliveInterval), keepAlive, "The keep-alive interval is at least 10 ms and shorter than IdleTimeout.");
        }

        if (!Enum.IsDefined(CongestionControl))
        {
            throw new ArgumentOutOfRangeException(nameof(CongestionControl), CongestionControl, "Cubic or Bbr2.");
        }

        if (MaxDatagramFrameSize is < 0 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxDatagramFrameSize), MaxDatagramFrameSize, "0 (off) to 65535.");
        }

        if (DatagramReceiveQueue < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(DatagramReceiveQueue), DatagramReceiveQueue, "The datagram receive queue holds at least one.");
        }

        if (HandshakeTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(HandshakeTimeout), HandshakeTimeout, "The handshake timeout must be positive.");
        }

        if (MaxHandshakingConnections < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxHandshakingConnections), MaxHandshakingConnections, "At least one handshake must be allowed.");
        }

        if (MaxHandshakingPerAddress < 1 || MaxHandshakingPerPrefix < MaxHandshakingPerAddress)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxHandshakingPerAddress), "MaxHandshakingPerAddress is at least 1 and at most MaxHandshakingPerPrefix.");
        }

        if (RetryThreshold < 0 || RetryTokenLifetime <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(RetryThreshold), "RetryThreshold is at least 0 and RetryTokenLifetime positive.");
        }

        if (MaxConnections < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxConnections), MaxConnections, "At least one connection must be allowed.");
        }

        if (StreamReceiveWindow < 1024 || MaxStreamReceiveWindow < StreamReceiveWindow)
        {
            throw new ArgumentOutOfRangeException(nameof(StreamReceiveWindow), "StreamReceiveWindow is at least 1 KiB and at most MaxStreamReceiveWindow.");
        }

        if (ConnectionReceiveWindow < StreamReceiveWindow || MaxConnectionReceiveWindow < ConnectionReceiveWindow)
        {
            throw new ArgumentOutOfRangeException(nameof(ConnectionReceiveWindow), "ConnectionReceiveWindow is at least StreamReceiveWindow and at most MaxConnectionReceiveWindow.");
        }

        if (StreamSendBuffer < 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(StreamSendBuffer), StreamSendBuffer, "The stream send buffer is at least 1 KiB.");
        }

        if (AdditionalServerAlpns.Count > 3 || AdditionalServerAlpns.Prepend(ServerAlpn).Any(a => string.IsNullOrEmpty(a) || a.Length > 255 || a.Contains('\0', StringComparison.Ordinal)))
        {
            throw new ArgumentException("A server takes at most four ALPN protocols, each 1 to 255 characters without NUL.");
        }

        if (AcceptIncoming && ExpectedClient is null && ExpectedClientSelector is null && !AllowAnyClient)
        {
            throw new ArgumentException("An accepting endpoint pins its clients: set ExpectedClient or ExpectedClientSelector, or AllowAnyClient explicitly.");
        }
    }
}
