namespace QuicPipe.Peer.Direct;

/// <summary>
/// Which pings of a probing round leave with a low TTL ("opening" pings): enough hops to pass our own NAT, which
/// then holds a mapping toward the other peer, too few to reach the other peer's router. A router that delivers
/// unsolicited packets to itself instead of dropping them (a bare masquerade rule, no input filter) would take the
/// punched 4-tuple for such a packet, arriving before its own peer sent anything, and give that peer's outbound flow
/// another port; a low-TTL ping opens our side without that risk. docs/nat-traversal.md, section 3.
/// </summary>
/// <param name="HopLimit">The opening pings' TTL (IPv6 hop limit); 0 sends every ping with the socket's default.</param>
/// <param name="Rounds">Sends of the round (one ping to each target each) that are opening ones whatever else holds.</param>
/// <param name="UntilPinged">
/// Beyond those, pings stay opening ones until the other peer's ping reached us (its router then holds its mapping
/// toward us, so a full ping is forwarded to it) or this long after the round began, whichever comes first.
/// </param>
internal sealed record PunchOpening(int HopLimit, int Rounds, TimeSpan UntilPinged)
{
    /// <summary>Every ping with the socket's default TTL.</summary>
    public static readonly PunchOpening None = new(0, 0, TimeSpan.Zero);

    /// <summary>
    /// The dialer's: it probes only after the accepter answered, and the accepter starts probing before it answers,
    /// so by then the accepter's router holds its mapping; the first two sends open ours all the same.
    /// </summary>
    public static PunchOpening ForDialer(int hopLimit) => new(hopLimit, 2, TimeSpan.Zero);

    /// <summary>
    /// The accepter's: it starts first, so its pings stay low until the dialer's first ping came in, or 2 s (by then
    /// the dialer, connected through the relay, has probed, and a full ping can only help).
    /// </summary>
    public static PunchOpening ForAccepter(int hopLimit) => new(hopLimit, 0, TimeSpan.FromSeconds(2));

    /// <summary>The TTL of send number <paramref name="send"/> of a round (0: the socket's default).</summary>
    public int HopLimitFor(int send, TimeSpan sinceStart, bool pinged) =>
        HopLimit > 0 && (send < Rounds || (!pinged && sinceStart < UntilPinged)) ? HopLimit : 0;
}
