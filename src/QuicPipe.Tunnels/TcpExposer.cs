using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Quic;
using QuicPipe.Tunnels.Internal;

namespace QuicPipe.Tunnels;

/// <summary>Settings of a <see cref="TcpExposer"/>. Everything is denied unless listed.</summary>
public sealed class TcpExposerOptions
{
    /// <summary>Target ports peers may reach.</summary>
    public ISet<int> AllowedPorts { get; } = new HashSet<int>();

    /// <summary>
    /// Target hosts other than the default (127.0.0.1) peers may name in the header, compared case-insensitively.
    /// Empty: only the default.
    /// </summary>
    public ISet<string> AllowedHosts { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Peers allowed to tunnel; null: any peer the QUIC connection admitted.</summary>
    public ISet<NodeId>? AllowedPeers { get; set; }

    /// <summary>How long the whole header may take to arrive.</summary>
    public TimeSpan HeaderTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long connecting to the target may take before the answer is <see cref="TunnelStatus.Unreachable"/>.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Most bytes read from a TCP connection at a time (default 256 KiB). A connection's buffer starts at 64 KiB (or
    /// this, if smaller) and doubles while reads fill it, so only bulk transfers hold the larger one; each read
    /// becomes one write to the QUIC stream, and larger ones cost fewer hand-overs to the QUIC loop per byte.
    /// </summary>
    public int BufferSize { get; set; } = TcpReadBuffer.DefaultMaximum;
}

/// <summary>A tunnel stream the exposer turned down, and why.</summary>
public sealed class TunnelRejectedEventArgs(NodeId? peer, long streamId, TunnelStatus status) : EventArgs
{
    public NodeId? Peer { get; } = peer;

    public long StreamId { get; } = streamId;

    public TunnelStatus Status { get; } = status;
}

/// <summary>
/// The <c>expose</c> side of TCP-over-QUIC: accepts tunnel streams on one or more <see cref="QuicConnection"/>s
/// (<see cref="ServeAsync"/>, or as their connection handler, <see cref="OnConnectedAsync"/>), parses each header, checks the allow-list, connects to the target, answers the
/// status byte and then copies bytes both ways. Malformed headers are answered, never thrown.
/// </summary>
public sealed class TcpExposer : IAsyncDisposable
{
    private static readonly byte[] OkStatus = [(byte)TunnelStatus.Ok];

    private readonly TcpExposerOptions _options;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<long, Task> _handlers = new();
    private readonly ConcurrentDictionary<int, NodeId> _peersBySourcePort = new();
    private long _nextHandler;
    private long _rejected;

    public TcpExposer(TcpExposerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
    }

    /// <summary>Tunnel streams taken from peers since start (each a tunnel, or a refusal).</summary>
    public long TunnelStreams => Interlocked.Read(ref _nextHandler);

    /// <summary>Tunnel streams answered with a failure status (port not allowed, peer not allowed, target refused).</summary>
    public long RejectedTunnels => Interlocked.Read(ref _rejected);

    /// <summary>Tunnel streams being handled now.</summary>
    public int ActiveTunnels => _handlers.Count;

    /// <summary>Raised (on a pool thread) for each stream answered with a failure status.</summary>
    public event EventHandler<TunnelRejectedEventArgs>? Rejected;

    /// <summary>
    /// The NodeId of the peer behind a live tunnelled connection, by the local source port of the exposer's
    /// outgoing TCP socket (what the target server sees as the client's port). The entry exists from the
    /// connect to the target until the tunnel ends.
    /// </summary>
    public bool TryGetRemoteNodeId(int localSourcePort, out NodeId nodeId) => _peersBySourcePort.TryGetValue(localSourcePort, out nodeId);

    /// <summary>
    /// Serves tunnel streams of <paramref name="connection"/> until it ends, <paramref name="cancellationToken"/>
    /// fires or the exposer is disposed. Tunnels already running go on until they end by themselves (or dispose).
    /// </summary>
    public async Task ServeAsync(QuicConnection connection, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
        while (true)
        {
            QuicStream stream;
            try
            {
                stream = await connection.AcceptStreamAsync(stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or QuicConnectionException or ObjectDisposedException)
            {
                return;
            }

            var id = Interlocked.Increment(ref _nextHandler);
            _handlers[id] = Task.Run(async () =>
            {
                try
                {
                    await HandleAsync(connection, stream).ConfigureAwait(false);
                }
                finally
                {
                    _handlers.TryRemove(id, out _);
                }
            });
        }
    }

    /// <summary>
    /// The connection handler, for the QUIC connections of a server's listener (a peer's incoming connections,
    /// <c>UsePeer(peer, connections =&gt; connections.Run(exposer.OnConnectedAsync))</c>): serves the connection's
    /// tunnel streams until it ends or the server asks the handler to finish.
    /// </summary>
    public Task OnConnectedAsync(MultiplexedConnectionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var connection = context.Features.GetRequiredFeature<IQuicConnectionFeature>().Connection;
        var stopping = context.CloseRequested();
        return ServeAsync(connection, stopping);
    }

    /// <summary>Stops serving and resets every tunnel still open.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_handlers.Values).ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task HandleAsync(QuicConnection connection, QuicStream stream)
    {
        var peer = connection.RemoteNodeId;
        Socket? target = null;
        int? registeredPort = null;
        try
        {
            var (status, header) = await ReadHeaderAsync(stream.Input).ConfigureAwait(false);
            if (status == TunnelStatus.Ok && !IsAllowed(peer, header))
            {
                status = TunnelStatus.NotAllowed;
            }

            if (status == TunnelStatus.Ok)
            {
                (status, target) = await ConnectAsync(header).ConfigureAwait(false);
            }

            if (status != TunnelStatus.Ok)
            {
                // Raised before answering, so whoever sees the answer can already see the event.
                Interlocked.Increment(ref _rejected);
                Rejected?.Invoke(this, new TunnelRejectedEventArgs(peer, stream.Id, status));
                await RejectAsync(stream, status).ConfigureAwait(false);
                return;
            }

            if (peer is { } node && target!.LocalEndPoint is IPEndPoint local)
            {
                _peersBySourcePort[local.Port] = node;
                registeredPort = local.Port;
            }

            await stream.WriteAsync(OkStatus, endStream: false, _stop.Token).ConfigureAwait(false);
            await TcpStreamPump.RunAsync(target!, stream, _options.BufferSize, _stop.Token).ConfigureAwait(false);
            target = null;
        }
        catch (Exception e) when (e is OperationCanceledException or QuicStreamAbortedException or QuicConnectionException)
        {
            // Disposed, or the stream/connection went away before the tunnel started.
            await TcpStreamPump.AbortQuietlyAsync(stream, TunnelErrorCodes.TunnelClosing).ConfigureAwait(false);
            await stream.Input.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
        {
            // Unexpected (a bug, or a handler of Rejected that threw): this tunnel ends, the exposer goes on.
            await TcpStreamPump.AbortQuietlyAsync(stream, TunnelErrorCodes.InternalError).ConfigureAwait(false);
            await stream.Input.CompleteAsync().ConfigureAwait(false);
        }
        finally
        {
            if (target is not null)
            {
                TcpStreamPump.Reset(target);
            }

            if (registeredPort is { } port && peer is { } node)
            {
                _peersBySourcePort.TryRemove(KeyValuePair.Create(port, node));
            }
        }
    }

    private bool IsAllowed(NodeId? peer, TunnelHeader header)
    {
        if (_options.AllowedPeers is { } peers && (peer is not { } node || !peers.Contains(node)))
        {
            return false;
        }

        return _options.AllowedPorts.Contains(header.Port) && (header.Host is null || _options.AllowedHosts.Contains(header.Host));
    }

    private async Task<(TunnelStatus Status, TunnelHeader Header)> ReadHeaderAsync(PipeReader input)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(_options.HeaderTimeout);
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(timeout.Token).ConfigureAwait(false);
                var parsed = TunnelHeader.TryParse(result.Buffer, out var header, out var consumed);
                switch (parsed)
                {
                    case TunnelHeaderParseResult.Complete:
                        input.AdvanceTo(consumed);
                        return (TunnelStatus.Ok, header);
                    case TunnelHeaderParseResult.Incomplete when !result.IsCompleted:
                        input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                        continue;
                    default:
                        // Unknown version, invalid field, or FIN before the header was whole.
                        input.AdvanceTo(result.Buffer.End);
                        return (TunnelStatus.BadHeader, default);
                }
            }
        }
        catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
        {
            return (TunnelStatus.BadHeader, default);
        }
    }

    private async Task<(TunnelStatus Status, Socket? Socket)> ConnectAsync(TunnelHeader header)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(_options.ConnectTimeout);
        var socket = header.Host is null || IPAddress.TryParse(header.Host, out _)
            ? new Socket(header.Host is null ? AddressFamily.InterNetwork : IPAddress.Parse(header.Host).AddressFamily, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.NoDelay = true;
            if (header.Host is null)
            {
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, header.Port), timeout.Token).ConfigureAwait(false);
            }
            else
            {
                await socket.ConnectAsync(header.Host, header.Port, timeout.Token).ConfigureAwait(false);
            }

            return (TunnelStatus.Ok, socket);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            return (e.SocketErrorCode == SocketError.ConnectionRefused ? TunnelStatus.Refused : TunnelStatus.Unreachable, null);
        }
        catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
        {
            socket.Dispose();
            return (TunnelStatus.Unreachable, null);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Answers a failure: the status byte with FIN (delivered reliably, in order), then STOP_SENDING with the same
    /// value as application error code so the forwarding side stops sending.
    /// </summary>
    private static async Task RejectAsync(QuicStream stream, TunnelStatus status)
    {
        try
        {
            await stream.WriteAsync(new[] { (byte)status }, endStream: true).ConfigureAwait(false);
            await stream.AbortAsync((long)status, QuicAbortDirection.Read).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QuicStreamAbortedException or QuicConnectionException)
        {
        }

        await stream.Input.CompleteAsync().ConfigureAwait(false);
    }
}
