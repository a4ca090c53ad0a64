using QuicPipe.Tunnels.Internal;

namespace QuicPipe.Tunnels;

/// <summary>Settings of an <see cref="HttpProxy"/> or a <see cref="Socks5Proxy"/>.</summary>
public sealed class ProxyOptions
{
    /// <summary>The user name and password clients must give; null: no authentication.</summary>
    public ProxyCredentials? Credentials { get; set; }

    /// <summary>
    /// How long a client may take from its connect to a whole request (the HTTP request head; the SOCKS5 greeting,
    /// authentication and request together). A silent client is closed after it, so it cannot hold a slot forever.
    /// More than zero and at most 2^32 - 2 ms (about 49.7 days, the longest a timer counts).
    /// </summary>
    public TimeSpan HeaderTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a forwarded plain-HTTP request may wait for the response head of the server behind the peer, counted
    /// from sending the request head (its body included); longer is answered 504. Bounds a request, not a
    /// connection: a response that is slow to stream its body is not cut. Same range as <see cref="HeaderTimeout"/>.
    /// </summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Largest HTTP request head (request line and headers) accepted; larger is answered 431.</summary>
    public int MaxHeaderBytes { get; set; } = 8 * 1024;

    /// <summary>
    /// Client connections served at once, tunnels included. At the limit the proxy stops accepting (new clients wait
    /// in the listen backlog) until one ends.
    /// </summary>
    public int MaxConnections { get; set; } = 512;

    /// <summary>
    /// Most bytes read from a TCP connection at a time (default 256 KiB). A connection's buffer starts at 64 KiB (or
    /// this, if smaller) and doubles while reads fill it, so only bulk transfers hold the larger one; each read
    /// becomes one write to the QUIC stream, and larger ones cost fewer hand-overs to the QUIC loop per byte.
    /// </summary>
    public int BufferSize { get; set; } = TcpReadBuffer.DefaultMaximum;

    /// <summary>Listen backlog.</summary>
    public int Backlog { get; set; } = 512;

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxHeaderBytes, 512, nameof(MaxHeaderBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConnections, 1, nameof(MaxConnections));
        ArgumentOutOfRangeException.ThrowIfLessThan(BufferSize, 1, nameof(BufferSize));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(HeaderTimeout, TimeSpan.Zero, nameof(HeaderTimeout));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(HeaderTimeout, TimerLimit.Max, nameof(HeaderTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ResponseTimeout, TimeSpan.Zero, nameof(ResponseTimeout));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ResponseTimeout, TimerLimit.Max, nameof(ResponseTimeout));
    }
}
