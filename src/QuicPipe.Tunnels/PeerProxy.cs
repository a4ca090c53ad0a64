using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Quic;
using QuicPipe.Tunnels.Internal;

namespace QuicPipe.Tunnels;

/// <summary>
/// What every proxy to peers shares (<see cref="HttpProxy"/>, <see cref="Socks5Proxy"/>): the connection
/// handler (<see cref="OnConnectedAsync"/>, on a server's TCP listener; or a listener of its own, with <c>Start</c>),
/// the counters, the failure event, and the two ways a client's request ends, tunnelled or answered with a failure
/// and closed. A proxy adds only its protocol's negotiation.
/// </summary>
public abstract class PeerProxy : IAsyncDisposable
{
    // Only when started on its own; on a server's listener the server accepts and this is null.
    private readonly TcpConnectionListener? _listener;
    private ListenerContext? _host;
    private long _tunnelled;
    private long _failed;

    /// <summary>Validates the arguments and, given <paramref name="listen"/>, starts listening there.</summary>
    /// <remarks>
    /// The listener starts here, so a client may be handled before a derived constructor's body runs: a proxy keeps
    /// its settings in <see cref="Connector"/> and <see cref="Options"/>, not in fields of its own.
    /// </remarks>
    private protected PeerProxy(PeerTunnelConnector connector, IPEndPoint? listen, ProxyOptions options)
    {
        ArgumentNullException.ThrowIfNull(connector);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Connector = connector;
        Options = options;
        if (listen is not null)
        {
            _listener = new TcpConnectionListener(listen, options.Backlog, options.MaxConnections, HandleAsync);
        }
    }

    /// <summary>
    /// Raised (on a pool thread) for each client refused: answered with a failure, or closed because what it sent has
    /// no answer in its protocol (SOCKS5 garbage). A client that closes before a whole request is only counted.
    /// </summary>
    public event EventHandler<ProxyRequestEventArgs>? RequestFailed;

    /// <summary>The address the proxy listens on (with the actual port when bound to port 0).</summary>
    public IPEndPoint LocalEndPoint => _listener?.LocalEndPoint ?? HostTransport?.LocalEndPoint
        ?? throw new InvalidOperationException("The proxy's listener is not bound yet (start the server).");

    /// <summary>Requests answered with success (HTTP 200, SOCKS5 "succeeded") and tunnelled.</summary>
    public long TunnelledConnections => Interlocked.Read(ref _tunnelled);

    /// <summary>Clients answered with a failure, or closed before a whole request.</summary>
    public long FailedRequests => Interlocked.Read(ref _failed);

    /// <summary>Client connections being served now.</summary>
    public int ActiveConnections => _listener?.Active ?? HostTransport?.Active ?? 0;

    private protected PeerTunnelConnector Connector { get; }

    private protected ProxyOptions Options { get; }

    private TcpTransport? HostTransport => _host?.Features.Get<TcpTransport>();

    /// <summary>
    /// The connection handler, for a server's TCP listener (<see cref="TunnelServerBuilderExtensions"/>): serves one
    /// client from its first byte; the server's stop ends its tunnel.
    /// </summary>
    public Task OnConnectedAsync(ConnectionContext connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var client = connection.Features.GetRequiredFeature<IConnectionSocketFeature>().Socket;
        var stopping = connection.CloseRequested();
        return HandleAsync(client, stopping);
    }

    /// <summary>Started on its own: stops listening and resets every tunnel still open (the connector stays the caller's).</summary>
    public ValueTask DisposeAsync() => _listener?.DisposeAsync() ?? ValueTask.CompletedTask;

    /// <summary>The server listener whose handler the proxy is: its bound address and counters are the proxy's.</summary>
    internal void HostOn(ListenerContext listener) => _host = listener;

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
