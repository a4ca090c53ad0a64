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
/// The QUIC connection a <see cref="TcpForwarder"/> carries the next TCP connection on. It may wait (for a connection
/// being re-dialled) until <paramref name="cancellationToken"/> fires: the forwarder then resets the TCP connection.
/// </summary>
public delegate ValueTask<QuicConnection> QuicConnectionProvider(CancellationToken cancellationToken);

/// <summary>Settings of a <see cref="TcpForwarder"/>.</summary>
public sealed class TcpForwarderOptions
{
    /// <summary>The port the exposing side connects to.</summary>
    public int TargetPort { get; set; }

    /// <summary>The host the exposing side connects to; null for its loopback (the usual case).</summary>
    public string? TargetHost { get; set; }

    /// <summary>How long opening the stream and waiting for the status byte may take.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Most bytes read from a TCP connection at a time (default 256 KiB; the only per-direction buffer on top of
    /// QUIC's). A connection's buffer starts at 64 KiB (or
    /// this, if smaller) and doubles while reads fill it, so only bulk transfers hold the larger one; each read
    /// becomes one write to the QUIC stream, and larger ones cost fewer hand-overs to the QUIC loop per byte.
    /// </summary>
    public int BufferSize { get; set; } = TcpReadBuffer.DefaultMaximum;

    /// <summary>Listen backlog.</summary>
    public int Backlog { get; set; } = 512;
}

/// <summary>
/// The <c>forward</c> side of TCP-over-QUIC: carries each local TCP connection in its own bidirectional stream of one
/// <see cref="QuicConnection"/>, to a port on the peer's side (served by a <see cref="TcpExposer"/>): as the handler
/// of a server's TCP listener (<see cref="OnConnectedAsync"/>), or on a listener of its own (<see cref="Start"/>). If
/// the peer answers anything but <see cref="TunnelStatus.Ok"/>, the TCP connection is closed with a reset, so the
/// client sees a refusal. The QUIC connection is asked for per TCP connection (a <see cref="QuicConnectionProvider"/>),
/// so a caller can replace a lost one while the port stays open.
/// </summary>
public sealed class TcpForwarder : IAsyncDisposable
{
    private readonly QuicConnectionProvider _connection;
    private readonly TcpForwarderOptions _options;
    private readonly byte[] _header;
    // Only when started on its own; on a server's listener the server accepts and this is null.
    private readonly TcpConnectionListener? _listener;
    private ListenerContext? _host;
    private long _refused;
    private long _tunnelled;

    private TcpForwarder(QuicConnectionProvider connection, IPEndPoint? listen, TcpForwarderOptions options)
    {
        _connection = connection;
        _options = options;
        _header = new TunnelHeader(options.TargetPort, options.TargetHost).ToArray();

        // No connection limit of its own, as before: past the peer's MAX_STREAMS a connection waits for a stream slot
        // (at most ConnectTimeout).
        if (listen is not null)
        {
            _listener = new TcpConnectionListener(listen, options.Backlog, int.MaxValue, HandleAsync);
        }
    }

    /// <summary>The address the forwarder listens on (with the actual port when bound to port 0).</summary>
    public IPEndPoint LocalEndPoint => _listener?.LocalEndPoint ?? _host?.Features.Get<TcpTransport>()?.LocalEndPoint
        ?? throw new InvalidOperationException("The forwarder's listener is not bound yet (start the server).");

    /// <summary>TCP connections the peer answered with a failure status (or that failed to set up).</summary>
    public long RefusedConnections => Interlocked.Read(ref _refused);

    /// <summary>TCP connections that got an <see cref="TunnelStatus.Ok"/> and were tunnelled.</summary>
    public long TunnelledConnections => Interlocked.Read(ref _tunnelled);

    /// <summary>Starts listening on <paramref name="listen"/> and forwarding over <paramref name="connection"/>.</summary>
    public static TcpForwarder Start(QuicConnection connection, IPEndPoint listen, TcpForwarderOptions options)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(listen);
        ArgumentNullException.ThrowIfNull(options);
        return new TcpForwarder(_ => ValueTask.FromResult(connection), listen, options);
    }

    /// <summary>Started on its own: stops listening and resets every tunnelled connection still open.</summary>
    public ValueTask DisposeAsync() => _listener?.DisposeAsync() ?? ValueTask.CompletedTask;

    /// <summary>
    /// The connection handler, for a server's TCP listener (<see cref="TunnelServerBuilderExtensions"/>): carries one
    /// local connection to the peer; the server's stop resets it.
    /// </summary>
    public Task OnConnectedAsync(ConnectionContext connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var client = connection.Features.GetRequiredFeature<IConnectionSocketFeature>().Socket;
        var stopping = connection.CloseRequested();
        return HandleAsync(client, stopping);
    }

    /// <summary>A forwarder without a listener of its own: the handler of a server's TCP listener.</summary>
    internal static TcpForwarder CreateHandler(QuicConnectionProvider connection, TcpForwarderOptions options) => new(connection, listen: null, options);

    /// <summary>The server listener whose handler the forwarder is: its bound address is the forwarder's.</summary>
    internal void HostOn(ListenerContext listener) => _host = listener;

    private async Task HandleAsync(Socket client, CancellationToken stopping)
    {
        QuicStream? stream = null;
        try
        {
            client.NoDelay = true;
            TunnelStatus status;
            using (var setup = CancellationTokenSource.CreateLinkedTokenSource(stopping))
            {
                setup.CancelAfter(_options.ConnectTimeout);
                try
                {
                    // Waiting for a connection (one being re-dialled) counts against the same setup time.
                    var connection = await _connection(setup.Token).ConfigureAwait(false);
                    (status, stream) = await TunnelOpener.OpenAsync(connection, _header, setup.Token, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
                {
                    status = TunnelStatus.Unreachable;
                }
            }

            if (status != TunnelStatus.Ok)
            {
                Interlocked.Increment(ref _refused);
                TcpStreamPump.Reset(client);
                return;
            }

            Interlocked.Increment(ref _tunnelled);
            await TcpStreamPump.RunAsync(client, stream!, _options.BufferSize, stopping).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            // Disposed (or, unexpectedly, a socket that failed during setup): reset both ends.
            TcpStreamPump.Reset(client);
            if (stream is not null)
            {
                var code = e is OperationCanceledException ? TunnelErrorCodes.TunnelClosing : TunnelErrorCodes.InternalError;
                await TcpStreamPump.AbortQuietlyAsync(stream, code).ConfigureAwait(false);
                await stream.Input.CompleteAsync().ConfigureAwait(false);
            }
        }
    }
}
