using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace QuicPipe.Quic.Internal;

/// <summary>
/// A <see cref="QuicConnection"/> as a <see cref="MultiplexedConnectionContext"/>. Its features: the connection
/// itself (<see cref="IQuicConnectionFeature"/>), the error code to close with, its end, and the server's request
/// that its handler finish (<see cref="IConnectionLifetimeNotificationFeature"/>: the handler closes the connection
/// its own way, with its own code and reason).
/// </summary>
internal sealed class QuicMultiplexedConnectionContext : MultiplexedConnectionContext, IProtocolErrorCodeFeature, IConnectionLifetimeFeature, IConnectionLifetimeNotificationFeature, IQuicConnectionFeature
{
    private static long s_lastId;

    private readonly QuicConnection _connection;
    private readonly CancellationTokenSource _closed = new();
    private readonly CancellationTokenSource _closeRequested = new();

    public QuicMultiplexedConnectionContext(QuicConnection connection)
    {
        _connection = connection;
        ConnectionId = NextConnectionId();
        LocalEndPoint = connection.LocalEndPoint;
        RemoteEndPoint = connection.RemoteEndPoint;
        Features.Set<IProtocolErrorCodeFeature>(this);
        Features.Set<IConnectionLifetimeFeature>(this);
        Features.Set<IConnectionLifetimeNotificationFeature>(this);
        Features.Set<IQuicConnectionFeature>(this);
        _ = connection.Closed.ContinueWith(static (_, state) => ((CancellationTokenSource)state!).Cancel(), _closed, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    public override string ConnectionId { get; set; }

    public override IFeatureCollection Features { get; } = new FeatureCollection();

    public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

    public override CancellationToken ConnectionClosed
    {
        get => _closed.Token;
        set => throw new NotSupportedException("ConnectionClosed follows the QUIC connection's end.");
    }

    public override EndPoint? LocalEndPoint { get; set; }

    public override EndPoint? RemoteEndPoint { get; set; }

    public QuicConnection Connection => _connection;

    public CancellationToken ConnectionClosedRequested
    {
        get => _closeRequested.Token;
        set => throw new NotSupportedException("ConnectionClosedRequested is signalled through RequestClose.");
    }

    /// <summary>The application error code Abort and DisposeAsync close the connection with.</summary>
    public long Error { get; set; }

    public static string NextConnectionId() => Interlocked.Increment(ref s_lastId).ToString("x", CultureInfo.InvariantCulture);

    public override async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var stream = await _connection.AcceptStreamAsync(cancellationToken).ConfigureAwait(false);
            return new QuicStreamContext(stream, ConnectionId);
        }
        catch (QuicConnectionException)
        {
            // The connection has ended: no more streams.
            return null;
        }
    }

    public override async ValueTask<ConnectionContext> ConnectAsync(IFeatureCollection? features = null, CancellationToken cancellationToken = default)
    {
        var stream = await _connection.OpenBidirectionalStreamAsync(cancellationToken).ConfigureAwait(false);
        return new QuicStreamContext(stream, ConnectionId);
    }

    public void RequestClose()
    {
        try
        {
            _closeRequested.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The handler has already finished with the context.
        }
    }

    public override void Abort() => _ = CloseAsync();

    public override void Abort(ConnectionAbortedException abortReason) => _ = CloseAsync();

    public override async ValueTask DisposeAsync()
    {
        await CloseAsync().ConfigureAwait(false);
        _closed.Dispose();
        _closeRequested.Dispose();
    }

    private async Task CloseAsync()
    {
        try
        {
            await _connection.CloseAsync(Error).ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            // The endpoint is gone, and the connection with it.
        }
    }
}
