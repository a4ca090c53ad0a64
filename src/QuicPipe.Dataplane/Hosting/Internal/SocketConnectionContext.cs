using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace QuicPipe.Dataplane.Hosting.Internal;

/// <summary>
/// An accepted TCP connection as a <see cref="ConnectionContext"/>. Handlers that move bytes themselves (the tunnels
/// and proxies, with gathering sends and resets) take the socket from <see cref="IConnectionSocketFeature"/>; the
/// pipe <see cref="Transport"/> over it is made only if a handler asks for it. The server's stop reaches the handler
/// as <see cref="IConnectionLifetimeNotificationFeature.ConnectionClosedRequested"/>.
/// </summary>
internal sealed class SocketConnectionContext : ConnectionContext, IConnectionSocketFeature, IConnectionLifetimeNotificationFeature
{
    private readonly Socket _socket;
    private readonly CancellationTokenSource _closeRequested;
    private IDuplexPipe? _transport;

    public SocketConnectionContext(Socket socket, CancellationToken serverStopping)
    {
        _socket = socket;
        _closeRequested = CancellationTokenSource.CreateLinkedTokenSource(serverStopping);
        ConnectionId = $"tcp-{socket.Handle}";
        LocalEndPoint = socket.LocalEndPoint;
        RemoteEndPoint = socket.RemoteEndPoint;
        Features.Set<IConnectionSocketFeature>(this);
        Features.Set<IConnectionLifetimeNotificationFeature>(this);
    }

    public Socket Socket => _socket;

    public override string ConnectionId { get; set; }

    public override IFeatureCollection Features { get; } = new FeatureCollection();

    public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

    public override EndPoint? LocalEndPoint { get; set; }

    public override EndPoint? RemoteEndPoint { get; set; }

    public override IDuplexPipe Transport
    {
        get => _transport ??= CreateTransport();
        set => _transport = value;
    }

    public CancellationToken ConnectionClosedRequested
    {
        get => _closeRequested.Token;
        set => throw new NotSupportedException("ConnectionClosedRequested is signalled through RequestClose.");
    }

    public void RequestClose() => _closeRequested.Cancel();

    public override void Abort(ConnectionAbortedException abortReason) => TcpConnectionListener.Reset(_socket);

    public override ValueTask DisposeAsync()
    {
        _closeRequested.Dispose();
        return ValueTask.CompletedTask;
    }

    private DuplexPipe CreateTransport()
    {
        var stream = new NetworkStream(_socket, ownsSocket: false);
        return new DuplexPipe(PipeReader.Create(stream), PipeWriter.Create(stream));
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input => input;

        public PipeWriter Output => output;
    }
}
