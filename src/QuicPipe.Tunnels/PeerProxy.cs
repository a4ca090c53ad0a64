using System.Net;
using System.Net.Sockets;
using QuicPipe.Quic;
using QuicPipe.Tunnels.Internal;

namespace QuicPipe.Tunnels;

/// <summary>
/// What every proxy to peers shares (<see cref="HttpConnectProxy"/>, <see cref="Socks5Proxy"/>): the listener and its
/// connection limit, the counters, the failure event, and the two ways a client's request ends, tunnelled or
/// answered with a failure and closed. A proxy adds only its protocol's negotiation.
/// </summary>
public abstract class PeerProxy : IAsyncDisposable
{
    private readonly TcpClientListener _listener;
    private long _tunnelled;
    private long _failed;

    /// <summary>Validates the arguments and starts listening.</summary>
    /// <remarks>
    /// The listener starts here, so a client may be handled before a derived constructor's body runs: a proxy keeps
    /// its settings in <see cref="Connector"/> and <see cref="Options"/>, not in fields of its own.
    /// </remarks>
    private protected PeerProxy(PeerTunnelConnector connector, IPEndPoint listen, ProxyOptions options)
    {
        ArgumentNullException.ThrowIfNull(connector);
        ArgumentNullException.ThrowIfNull(listen);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Connector = connector;
        Options = options;
        _listener = new TcpClientListener(listen, options.Backlog, options.MaxConnections, HandleAsync);
    }

    /// <summary>
    /// Raised (on a pool thread) for each client refused: answered with a failure, or closed because what it sent has
    /// no answer in its protocol (SOCKS5 garbage). A client that closes before a whole request is only counted.
    /// </summary>
    public event EventHandler<ProxyRequestEventArgs>? RequestFailed;

    /// <summary>The address the proxy listens on (with the actual port when bound to port 0).</summary>
    public IPEndPoint LocalEndPoint => _listener.LocalEndPoint;

    /// <summary>Requests answered with success (HTTP 200, SOCKS5 "succeeded") and tunnelled.</summary>
    public long TunnelledConnections => Interlocked.Read(ref _tunnelled);

    /// <summary>Clients answered with a failure, or closed before a whole request.</summary>
    public long FailedRequests => Interlocked.Read(ref _failed);

    /// <summary>Client connections being served now.</summary>
    public int ActiveConnections => _listener.Active;

    private protected PeerTunnelConnector Connector { get; }

    private protected ProxyOptions Options { get; }

    /// <summary>Stops listening and resets every tunnel still open (the connector stays the caller's).</summary>
    public ValueTask DisposeAsync() => _listener.DisposeAsync();

    /// <summary>Serves one client from its first byte; the listener disposes the socket afterwards.</summary>
    private protected abstract Task HandleAsync(Socket client, CancellationToken stopping);

    /// <summary>Counts a client that closed before a whole request: no answer, no event.</summary>
    private protected void CountClosed() => Interlocked.Increment(ref _failed);

    /// <summary>Counts the failure, raises <see cref="RequestFailed"/>, sends <paramref name="reply"/> (may be empty) and closes.</summary>
    private protected async Task FailAsync(Socket client, string? target, string answer, ReadOnlyMemory<byte> reply, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _failed);
        RequestFailed?.Invoke(this, new ProxyRequestEventArgs(ProxyConnection.RemoteEndPointOf(client), target, answer));
        await ProxyConnection.AnswerAndCloseAsync(client, reply, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Counts the tunnel, sends <paramref name="established"/>, then copies both ways until the tunnel ends.</summary>
    private protected Task TunnelAsync(Socket client, QuicStream stream, ReadOnlyMemory<byte> established, ReadOnlyMemory<byte> early, CancellationToken stopping)
    {
        Interlocked.Increment(ref _tunnelled);
        return ProxyConnection.TunnelAsync(client, stream, established, early, Options.BufferSize, stopping);
    }
}
