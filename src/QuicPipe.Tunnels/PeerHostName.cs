using QuicPipe.Quic;

namespace QuicPipe.Tunnels;

/// <summary>What a host name given to a proxy names.</summary>
public enum PeerHostNameKind
{
    /// <summary><c>&lt;nodeid&gt;.quicpipe</c> with a valid NodeId: a peer.</summary>
    Peer,

    /// <summary>Ends in <c>.quicpipe</c> but the label before it is not a NodeId: a peer that cannot exist.</summary>
    InvalidNodeId,

    /// <summary>Any other name or address: not something the proxies reach.</summary>
    NotAPeer,
}

/// <summary>
/// How proxy clients name a peer: <c>&lt;nodeid&gt;.quicpipe</c>, the NodeId as <c>quicpipe keygen</c> prints it
/// (52 base32 characters, one DNS label) under the pseudo top-level domain <c>quicpipe</c>. Both parts compare
/// case-insensitively, as DNS names do; a trailing dot (the fully qualified form) is accepted.
/// </summary>
public static class PeerHostName
{
    /// <summary>The pseudo top-level domain, with its dot.</summary>
    public const string Suffix = ".quicpipe";

    /// <summary>The host name of <paramref name="peer"/>.</summary>
    public static string Format(NodeId peer) => peer + Suffix;

    public static PeerHostNameKind Parse(ReadOnlySpan<char> host, out NodeId peer)
    {
        peer = default;
        if (host.EndsWith('.'))
        {
            host = host[..^1];
        }

        if (!host.EndsWith(Suffix, StringComparison.OrdinalIgnoreCase))
        {
            return PeerHostNameKind.NotAPeer;
        }

        return NodeId.TryParse(host[..^Suffix.Length], out peer) ? PeerHostNameKind.Peer : PeerHostNameKind.InvalidNodeId;
    }
}
