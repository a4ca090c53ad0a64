using System.Net;
using Microsoft.Extensions.Logging;
using QuicPipe.Quic;

namespace QuicPipe.Peer;

/// <summary>How a peer reaches its relays, whom it lets in, and its timers.</summary>
public sealed class PeerEndpointOptions
{
    /// <summary>ALPN of peer-to-peer connections.</summary>
    public const string DefaultAlpn = "quicpipe/1";

    /// <summary>This peer's identity (required).</summary>
    public NodeIdentity? Identity { get; set; }

    /// <summary>
    /// The relay's UDP address, for a peer with one relay: shorthand for a <see cref="Relays"/> of one (give one or the
    /// other).
    /// </summary>
    public IPEndPoint? Relay { get; set; }

    /// <summary>With <see cref="Relay"/>: the relay's NodeId to pin; null trusts the first relay met (and pins it for reconnects), with a warning.</summary>
    public NodeId? RelayId { get; set; }

    /// <summary>
    /// The relays to register with, all on the one socket, each with the same CIDs (so a connection's packets are
    /// routable at every relay both ends are registered with). A dial asks them in this order and goes through the
    /// first that knows the peer; a connection whose relay is lost moves to another relay the peer is registered at
    /// (docs/configuration.md, "Several relays"). Each address once.
    /// </summary>
    public IList<PeerRelay> Relays { get; } = [];

    /// <summary>Local UDP address for the one socket all traffic uses; default: any address of the first relay's family, a free port.</summary>
    public IPEndPoint? LocalEndPoint { get; set; }

    /// <summary>NodeIds allowed to dial this peer.</summary>
    public ISet<NodeId> AllowedDialers { get; } = new HashSet<NodeId>();

    /// <summary>Let any authenticated node dial this peer (every connection is still pinned to the dialer's NodeId).</summary>
    public bool AllowAnyDialer { get; set; }

    /// <summary>ALPN of peer-to-peer connections.</summary>
    public string Alpn { get; set; } = DefaultAlpn;

    /// <summary>
    /// Further ALPN protocols this peer takes connections for (at most three; e.g. the mesh's links), each with the
    /// NodeIds that may dial it for that protocol. Such connections come out of
    /// <see cref="PeerEndpoint.AcceptAsync(string, CancellationToken)"/>, never out of the tunnels' accept, and a
    /// dialer allowed only here gets no tunnel connection.
    /// </summary>
    public IDictionary<string, ISet<NodeId>> ProtocolDialers { get; } = new Dictionary<string, ISet<NodeId>>(StringComparer.Ordinal);

    /// <summary>CID length; must match the relay's <c>--cid-length</c>.</summary>
    public int CidLength { get; set; } = 12;

    /// <summary>How many derived CIDs the relay keeps routed ahead of the newest one it has seen in use.</summary>
    public int CidWindow { get; set; } = 64;

    /// <summary>
    /// QUIC connections held at once: with other peers, either way, plus the relay's control connection. Dials and
    /// incoming connections beyond it are refused. The endpoint's CID routing table is sized for it up front (about
    /// 1.8 KiB per connection), which is why a peer's default is a quarter of a bare <c>QuicEndpoint</c>'s 4096.
    /// </summary>
    public int MaxConnections { get; set; } = 1024;

    /// <summary>Lifetime asked for each registration; refreshed at a third of it.</summary>
    public TimeSpan RegistrationLifetime { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long a dial may take: the signalling round trip and the QUIC handshake, each.</summary>
    public TimeSpan DialTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>QUIC handshake timeout of every connection (the offer mode raises it: the other side may be slow to start).</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Keep-alive (a QUIC PING) on every connection idle this long: it keeps NAT mappings open (common UDP mapping
    /// timeouts are 30 s and up) and gives a live peer something to answer well within <see cref="PeerTimeout"/>.
    /// </summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(1.5);

    /// <summary>
    /// A connection whose peer sent nothing for this long while the connection's path was alive is closed as lost
    /// (<c>--peer-timeout</c>): how soon a peer that vanished without a word (killed, its host or network gone) is
    /// noticed, give or take an eighth of it. While the path is down (the relay stopped answering its pings) the peer's
    /// silence is not counted, so a relay that restarts costs a stall, not the connection. With keep-alives every
    /// <see cref="KeepAliveInterval"/>, a live peer answers several times within it.
    /// </summary>
    public TimeSpan PeerTimeout { get; set; } = TimeSpan.FromSeconds(6);

    /// <summary>
    /// The QUIC idle timeout: a connection with no packet received for this long ends, whatever its path did. Long,
    /// because it bounds only truly dead paths: a relay that restarts, or a handshake that loses a few packets, must
    /// not end a connection; a dead peer is found by <see cref="PeerTimeout"/> instead. At least the peer timeout.
    /// </summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Look for a direct path to each peer and move connections onto it (docs/nat-traversal.md); false keeps every
    /// connection on the relay (<c>--relay-only</c>). Both sides must allow it.
    /// </summary>
    public bool DirectPaths { get; set; } = true;

    /// <summary>How long one round of hole-punch probing lasts before giving up until the next retry.</summary>
    public TimeSpan PunchDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// IP TTL (IPv6 hop limit) of the first hole-punch pings of a round, 0 to 255; 0 sends them with the system's
    /// default. Enough hops to pass our own NAT router, too few to reach the other peer's: a router without an input
    /// filter would otherwise take an early ping for itself and give its own peer's flow another port
    /// (docs/nat-traversal.md). 2 passes a router next to the peer and expires one hop beyond it; a peer behind two
    /// layers of NAT (carrier-grade NAT) needs 3.
    /// </summary>
    public int PunchOpeningTtl { get; set; } = 2;

    /// <summary>
    /// When a connection's first probing round hears nothing from the peer although both have a public mapping, search
    /// for the mapping of the side behind a symmetric NAT (docs/nat-traversal.md): once per connection, at most 256
    /// extra sockets and 100 datagrams a second, everything closed at the end. Both sides must allow it.
    /// </summary>
    public bool PortSearch { get; set; } = true;

    /// <summary>Probe interval on a direct path: it checks the path and keeps both NATs' mappings open.</summary>
    public TimeSpan DirectKeepAliveInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>A direct path with no probe answered for this long is given up, and the connection goes back to the relay.</summary>
    public TimeSpan DirectPathTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Addresses never used for a direct path, neither offered to peers nor probed: a VPN's own address space, where a
    /// peer "reached" directly would be reached through the VPN's connection to it, a tunnel inside itself.
    /// </summary>
    public IList<IPNetwork> ExcludedPathNetworks { get; } = [];

    /// <summary>While relayed, how often to look for a direct path again; the first look after a direct path failed comes after 3 s (or this, if shorter), to find a rebound NAT at its new address.</summary>
    public TimeSpan DirectRetryInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the relay is pinged: it watches the relay's liveness, notices a new public address, and keeps the NAT mapping toward the relay open.</summary>
    public TimeSpan RelayKeepAliveInterval { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How often the relay is pinged while connections run through it, which a restarted or lost relay stalls: with
    /// <see cref="RelayPingTimeout"/>, a relay that stopped answering is found within 2.5 s. Soon enough matters twice:
    /// a stalled connection's retransmissions back off (1.9 s, then 3.8 s, then 7.7 s after the stall on a fast path),
    /// and its peer's silence counts toward <see cref="PeerTimeout"/> again only once the relay answers.
    /// </summary>
    public TimeSpan RelayBusyKeepAliveInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// How long a relay ping may go unanswered (or <see cref="RelayKeepAliveInterval"/>, if shorter); one that does is
    /// sent again at once, and two in a row mean the relay is lost (it restarted, or the path to it is gone): the peer
    /// reconnects and registers again.
    /// </summary>
    public TimeSpan RelayPingTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest pause between attempts to reach the relay again after losing it.</summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(5);

    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>The relays to register with, in the order dials ask them: <see cref="Relays"/>, or <see cref="Relay"/> alone.</summary>
    internal IReadOnlyList<PeerRelay> RelayList => Relays.Count > 0 ? [.. Relays] : [new PeerRelay(Relay!, RelayId)];

    /// <summary>Throws <see cref="ArgumentException"/> naming what is wrong.</summary>
    public void Validate()
    {
        if (Identity is null)
        {
            throw new ArgumentException("PeerEndpointOptions.Identity is required (quicpipe keygen makes one).");
        }

        if (Relay is null && Relays.Count == 0)
        {
            throw new ArgumentException("PeerEndpointOptions.Relay (or Relays) is required.");
        }

        if (Relay is not null && Relays.Count > 0)
        {
            throw new ArgumentException("Give PeerEndpointOptions.Relay (one relay) or Relays (several), not both.");
        }

        if (RelayId is not null && Relay is null)
        {
            throw new ArgumentException("PeerEndpointOptions.RelayId pins the relay of PeerEndpointOptions.Relay: with Relays, give each relay's Id there.");
        }

        if (Relays.Any(r => r?.EndPoint is null))
        {
            throw new ArgumentException("PeerEndpointOptions.Relays holds a relay without an address.");
        }

        if (Relays.GroupBy(r => r.EndPoint).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw new ArgumentException($"Relay {twice.Key} is listed twice: give each relay once.");
        }

        if (Relays.Select(r => r.EndPoint.AddressFamily).Distinct().Count() > 1)
        {
            throw new ArgumentException("The relays must be of one address family, IPv4 or IPv6: the peer has one socket, of one family.");
        }

        if (ProtocolDialers.Count > 3 || ProtocolDialers.ContainsKey(Alpn))
        {
            throw new ArgumentException("PeerEndpointOptions.ProtocolDialers holds at most three protocols, none of them Alpn.");
        }

        if (CidWindow is < 8 or > 256)
        {
            throw new ArgumentOutOfRangeException(nameof(CidWindow), CidWindow, "The CID window is 8 to 256.");
        }

        if (MaxConnections < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxConnections), MaxConnections, "A peer needs at least 2 connections: the relay's and one peer's.");
        }

        if (RegistrationLifetime < TimeSpan.FromSeconds(10))
        {
            throw new ArgumentOutOfRangeException(nameof(RegistrationLifetime), RegistrationLifetime, "Registrations live at least 10 s.");
        }

        if (PunchDuration <= TimeSpan.Zero || DirectRetryInterval <= TimeSpan.Zero || RelayKeepAliveInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(PunchDuration), "Punch duration, retry and keep-alive intervals must be positive.");
        }

        if (DirectKeepAliveInterval <= TimeSpan.Zero || DirectPathTimeout <= DirectKeepAliveInterval)
        {
            throw new ArgumentOutOfRangeException(nameof(DirectPathTimeout), DirectPathTimeout, "The direct path timeout must be longer than its keep-alive interval.");
        }

        if (PunchOpeningTtl is < 0 or > 255)
        {
            throw new ArgumentOutOfRangeException(nameof(PunchOpeningTtl), PunchOpeningTtl, "The opening pings' TTL is 1 to 255, or 0 for the system's default.");
        }

        if (RelayBusyKeepAliveInterval <= TimeSpan.Zero || RelayPingTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(RelayPingTimeout), "Relay ping intervals and timeout must be positive.");
        }

        if (PeerTimeout < TimeSpan.FromSeconds(1) || KeepAliveInterval < TimeSpan.FromMilliseconds(10) || KeepAliveInterval >= PeerTimeout)
        {
            throw new ArgumentOutOfRangeException(nameof(PeerTimeout), PeerTimeout, "The peer timeout is at least 1 s, and the keep-alive interval shorter than it (--peer-timeout).");
        }

        if (IdleTimeout < PeerTimeout)
        {
            throw new ArgumentOutOfRangeException(nameof(IdleTimeout), IdleTimeout, "The QUIC idle timeout is at least the peer timeout.");
        }

        if (DialTimeout <= TimeSpan.Zero || HandshakeTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(DialTimeout), "Timeouts must be positive (--timeout).");
        }
    }
}
